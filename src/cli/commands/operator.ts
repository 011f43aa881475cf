// The operator's commands, against the deployment's queue, ledger and results: `doctor` (is it wired?),
// `status`, `redrive` and `redeliver`. Each registers itself on the program; main.ts composes them, in the
// order --help lists them. What they do is in doctor.ts, status.ts, redrive.ts and redeliver.ts.
import { Option, type Command } from 'commander';
import { MessageError } from '../../core/message';
import { clustersFromFlags, deployedEnv, type ClusterFlags } from '../deployment';
import {
  addClusterOptions,
  collect,
  outputOption,
  positiveInt,
  queueUrlOption,
  storageAccountOption,
  withStorageAccount,
} from '../options';

export function addDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      'check that the deployment is wired: the queue, the function reading it, its targets, each cluster readable (--notify: a test notification through every target)',
    )
    .option('--notify', 'send the test notification through every target (or each --target) and wait for its delivery')
    .option('--target <name>', 'only this target (repeatable; "default": the default targets)', collect)
    .option(
      '--cluster <resourceId>',
      "a cluster the function's identity must read (repeatable; CLUSTER_IDS adds the deployment's)",
      collect,
    )
    .addOption(new Option('-g, --resource-group <name>', "a cluster's resource group (with --name)"))
    .addOption(new Option('-n, --name <name>', 'a cluster name (repeatable, with --resource-group)').argParser(collect))
    .addOption(new Option('--subscription <id>', "with -g/-n (default: AZURE_SUBSCRIPTION_ID, else your login's)"))
    .option('--wait-seconds <n>', 'how long the function has to answer (default 45)', positiveInt)
    .option('--notify-wait-seconds <n>', 'how long each test notification has to arrive (default 120)', positiveInt)
    .addOption(queueUrlOption())
    .addOption(storageAccountOption())
    .addOption(outputOption())
    .action(
      async (opts: {
        notify?: boolean;
        target?: string[];
        cluster?: string[];
        resourceGroup?: string;
        name?: string[];
        subscription?: string;
        waitSeconds?: number;
        notifyWaitSeconds?: number;
        queueUrl?: string;
        storageAccount?: string;
        output: 'text' | 'json';
      }) => {
        const env = withStorageAccount(deployedEnv(), opts.storageAccount);
        const clusters = clustersFromFlags(opts, env);
        const { doctor } = await import('../doctor');
        process.exitCode = await doctor(
          {
            ...(opts.notify ? { notify: true } : {}),
            ...(opts.target ? { targets: opts.target } : {}),
            ...(clusters ? { clusters } : {}),
            ...(opts.queueUrl ? { queueUrl: opts.queueUrl } : {}),
            ...(opts.waitSeconds ? { waitSeconds: opts.waitSeconds } : {}),
            ...(opts.notifyWaitSeconds ? { notifyWaitSeconds: opts.notifyWaitSeconds } : {}),
            output: opts.output,
          },
          env,
          { out: (l) => console.log(l), err: (l) => console.error(l) },
        );
      },
    );
}

export function addRedriveCommand(program: Command): void {
  program
    .command('redrive')
    .description('move messages from <queue>-poison back to the queue (after fixing what poisoned them)')
    .option('--max <n>', 'move at most this many', positiveInt, 1000)
    .option('--dry-run', 'only list what would move')
    .option(
      '--force',
      'also move messages older than LEDGER_RETENTION_DAYS (their delivery records are gone: they are announced again)',
    )
    .addOption(storageAccountOption())
    .addOption(outputOption())
    .action(
      async (opts: {
        max: number;
        dryRun?: boolean;
        force?: boolean;
        storageAccount?: string;
        output: 'text' | 'json';
      }) => {
        const [{ redrive }, { openOperatorStores }] = await Promise.all([import('../redrive'), import('../operator')]);
        const stores = openOperatorStores(withStorageAccount(deployedEnv(), opts.storageAccount));
        const json = opts.output === 'json';
        const r = await redrive(stores.queue, {
          max: opts.max,
          dryRun: !!opts.dryRun,
          force: !!opts.force,
          retentionDays: stores.settings.retentionDays,
          log: (l) => (json ? console.error(l) : console.log(l)),
        });
        const q = stores.settings.queueName;
        if (json) console.log(JSON.stringify({ queue: q, dryRun: !!opts.dryRun, moved: r.moved, refused: r.refused }));
        else
          console.log(
            `${opts.dryRun ? 'would move' : 'moved'} ${r.moved} message(s) from ${q}-poison to ${q}${r.refused ? `; refused ${r.refused} older than the retention` : ''}`,
          );
      },
    );
}

export function addStatusCommand(program: Command): void {
  program
    .command('status')
    .description('queue and poison depth, poison reasons, recent deliveries and undelivered targets')
    .option('--poison <n>', 'poison messages to show', positiveInt, 10)
    .option('--deliveries <n>', 'recent deliveries to show', positiveInt, 20)
    .option('--hours <n>', 'how far back to look in the ledger', positiveInt, 24)
    .addOption(storageAccountOption())
    .addOption(outputOption())
    // Before -o json: kept so that scripts written for it still work.
    .addOption(new Option('--json').hideHelp())
    .action(
      async (opts: {
        poison: number;
        deliveries: number;
        hours: number;
        json?: boolean;
        storageAccount?: string;
        output: 'text' | 'json';
      }) => {
        const [{ status, formatStatus }, { openOperatorStores }] = await Promise.all([
          import('../status'),
          import('../operator'),
        ]);
        const r = await status(openOperatorStores(withStorageAccount(deployedEnv(), opts.storageAccount)), {
          poison: opts.poison,
          deliveries: opts.deliveries,
          windowHours: opts.hours,
        });
        console.log(opts.json || opts.output === 'json' ? JSON.stringify(r, null, 2) : formatStatus(r));
      },
    );
}

export function addRedeliverCommand(program: Command): void {
  addClusterOptions(
    program
      .command('redeliver')
      .description(
        "send a delivered or failed notification (or a fleet run's summary) again, from the stored result (after fixing a target)",
      ),
    'with --command-id',
  )
    .option('--command-id <id>', 'the run command id')
    .option('--group <groupId>', "a fleet run's id: its summary, instead of one command's result")
    .option(
      '--target <name>',
      'only this target (repeatable; default: every target recorded for the command or group)',
      collect,
    )
    .addOption(storageAccountOption())
    .addOption(outputOption())
    .action(
      async (
        opts: ClusterFlags & {
          commandId?: string;
          group?: string;
          target?: string[];
          storageAccount?: string;
          output: 'text' | 'json';
        },
      ) => {
        const env = withStorageAccount(deployedEnv(), opts.storageAccount);
        const named = clustersFromFlags(opts, env);
        if ((named?.length ?? 0) > 1) throw new MessageError('redeliver takes one cluster');
        const cluster = named?.[0];
        const given = [cluster, opts.commandId].filter((o) => o !== undefined).length;
        if (opts.group !== undefined ? given > 0 : given < 2)
          throw new MessageError('give --cluster (or -g/-n) and --command-id (a command), or --group (a fleet run)');
        const [{ redeliver, redeliverGroup }, { openOperatorStores }] = await Promise.all([
          import('../redeliver'),
          import('../operator'),
        ]);
        const stores = openOperatorStores(env);
        const targets = opts.target ? { targets: opts.target } : {};
        const json = opts.output === 'json';
        const sayBesideJson = (l: string) => (json ? console.error(l) : console.log(l));
        if (opts.group !== undefined) {
          const r = await redeliverGroup(stores, { groupId: opts.group, ...targets }, sayBesideJson);
          if (json) console.log(JSON.stringify({ groupId: opts.group, targets: r.targets }));
          else console.log(`enqueued a redelivery of group ${opts.group}'s summary to ${r.targets.join(', ')}`);
          return;
        }
        const r = await redeliver(stores, { cluster: cluster!, commandId: opts.commandId!, ...targets }, sayBesideJson);
        if (json)
          console.log(JSON.stringify({ clusterResourceId: cluster, commandId: opts.commandId, targets: r.targets }));
        else console.log(`enqueued a redelivery of command ${opts.commandId} to ${r.targets.join(', ')}`);
      },
    );
}
