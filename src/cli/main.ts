#!/usr/bin/env node
// aks-command-notifier: run, result, enqueue, doctor, worker, demo, preview, status, redrive, redeliver.
//
// az's conventions: a cluster by --cluster <id> or by --resource-group/-g and --name/-n (--subscription,
// else AZURE_SUBSCRIPTION_ID, else the login's); -o/--output json on every command that prints data, with
// nothing but JSON on stdout; --version. A usage error is one line on stderr and exit code 2, never a help
// dump. The deployment (queue, ledger, outputs) comes from flags, then the environment, then the azd
// environment of the project in this folder (deployment.ts).
import { Command, CommanderError, Option } from 'commander';
import { version } from '../../package.json';
import { ConfigError, type Env } from '../config';
import { StoreRejectedError, StoreUnavailableError } from '../store/entityStore';
import { MessageError } from '../core/message';
import { OUTCOMES } from '../core/report';
import { describeNoCredential, isNoCredential } from './credentials';
import { clustersFromFlags, deploymentEnv, type ClusterFlags } from './deployment';
import { buildMessage } from './enqueue';
import {
  clusterOptions,
  collect,
  nonNegativeInt,
  outputOption,
  positiveInt,
  queueUrlOption,
  storageAccountOption,
  withStorageAccount,
} from './options';

/** The environment every command reads: the process's, completed from the azd environment here (once). */
let deployed: Env | undefined;
const deployment = (): Env => (deployed ??= deploymentEnv(process.env).env);

/** One cluster from --cluster or -g/-n (a usage error otherwise). */
function oneCluster(opts: ClusterFlags, env: Env): string {
  const ids = clustersFromFlags(opts, env);
  if (!ids?.length) throw new MessageError('give --cluster <id>, or --resource-group and --name');
  if (ids.length > 1) throw new MessageError('this command takes one cluster');
  return ids[0]!;
}

export function buildCli(): Command {
  const program = new Command('aks-command-notifier')
    .description('Waits for AKS run command results and posts them to Slack and Microsoft Teams.')
    .version(version, '--version', 'print the version')
    // Inherited by every command added below: usage errors come back here (exit 2, one line).
    .exitOverride();

  program
    .command('worker')
    .description('run the queue-triggered handler outside the Functions host (local development, tests)')
    .option('--lease-seconds <n>', 'how long a message stays invisible while it runs (renewed)', positiveInt)
    .option('--max-polling-interval-ms <n>', 'longest wait between polls of an empty queue', positiveInt)
    .option('--batch-size <n>', 'messages fetched at once (default: host.json)', positiveInt)
    .option('--shutdown-grace-seconds <n>', 'how long SIGTERM waits for running messages', positiveInt)
    .option(
      '--visibility-timeout-seconds <n>',
      'delay before a failed message is retried (default: host.json)',
      nonNegativeInt,
    )
    .option('--host-json <path>', "the host.json to obey (default: the app's own)")
    .option('--metrics-json <file>', 'write the metrics as JSON to this file when the worker stops')
    .action(async (opts: Parameters<typeof import('./runWorker').runWorker>[0]) => {
      const { runWorker } = await import('./runWorker');
      await runWorker(opts);
      // Handlers abandoned after the grace period may still hold sockets: their messages are back in the queue.
      process.exit(0);
    });

  program
    .command('run')
    .description(
      'start a command on a cluster (or a fleet of them) with your own identity, and have the notifier track it (--wait: follow it here too)',
    )
    .option('--cluster <resourceId>', 'managed cluster resource id (repeatable: a fleet run)', collect)
    .addOption(new Option('-g, --resource-group <name>', "the cluster's resource group (with --name)"))
    .addOption(
      new Option('-n, --name <name>', 'the cluster name (repeatable: a fleet run in one group)').argParser(collect),
    )
    .addOption(new Option('--subscription <id>', "with -g/-n (default: AZURE_SUBSCRIPTION_ID, else your login's)"))
    .option(
      '--clusters <file>',
      'a fleet run on the clusters in this file, one resource id a line ("-": standard input)',
    )
    .option(
      '--graph-query <query>',
      'a fleet run on the managed clusters an Azure Resource Graph query selects (as you; docs/fleet.md)',
    )
    .requiredOption('--command <text>', 'the command to run (kubectl, helm…)')
    .option(
      '--file <path>',
      'attach a file, or "." for the current folder (repeatable; as az aks command invoke --file)',
      collect,
    )
    .option('--target <name>', 'notification target (repeatable; default: the default targets)', collect)
    .option(
      '--context <key=value>',
      'extra context shown in the notification (repeatable; requestedBy comes from your login)',
      collect,
    )
    .option('--wait', "follow the result here as well, and exit with the command's exit code (a fleet: docs/fleet.md)")
    .addOption(outputOption())
    .option('--raw', 'print logs as ARM gave them (control and escape sequences included)')
    .option('--dry-run', 'a fleet run: list the clusters and exit, starting nothing')
    .option('--yes', 'a fleet run: run on more than 10 clusters from a file or a query without asking')
    .option('--max-parallel <n>', 'a fleet run: starts in flight at once (default 10)', positiveInt)
    .addOption(queueUrlOption())
    .action(
      async (opts: {
        cluster?: string[];
        resourceGroup?: string;
        name?: string[];
        subscription?: string;
        clusters?: string;
        graphQuery?: string;
        command: string;
        file?: string[];
        target?: string[];
        context?: string[];
        wait?: boolean;
        output: 'text' | 'json';
        raw?: boolean;
        dryRun?: boolean;
        yes?: boolean;
        maxParallel?: number;
        queueUrl?: string;
      }) => {
        const env = deployment();
        const named = clustersFromFlags(opts, env);
        const interrupted = new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
        const io = { out: (l: string) => console.log(l), err: (l: string) => console.error(l), interrupted };
        const common = {
          command: opts.command,
          ...(opts.file ? { files: opts.file } : {}),
          ...(opts.target ? { targets: opts.target } : {}),
          ...(opts.context ? { context: opts.context } : {}),
          ...(opts.wait ? { wait: true } : {}),
          output: opts.output,
          ...(opts.raw ? { raw: true } : {}),
          ...(opts.queueUrl ? { queueUrl: opts.queueUrl } : {}),
        };
        const { isFleet } = await import('./fleetClusters');
        const fleet = {
          ...(named ? { clusters: named } : {}),
          ...(opts.clusters !== undefined ? { clustersFile: opts.clusters } : {}),
          ...(opts.graphQuery !== undefined ? { graphQuery: opts.graphQuery } : {}),
        };
        if (isFleet(fleet)) {
          const [{ runFleet }, { confirmOnTerminal }] = await Promise.all([import('./fleet'), import('./io')]);
          process.exitCode = await runFleet(
            {
              ...common,
              ...fleet,
              ...(opts.dryRun ? { dryRun: true } : {}),
              ...(opts.yes ? { yes: true } : {}),
              ...(opts.maxParallel ? { maxParallel: opts.maxParallel } : {}),
            },
            env,
            io,
            confirmOnTerminal(),
          );
          process.exit(process.exitCode);
        }
        if (!named?.length)
          throw new MessageError(
            'give --cluster (more than once for a fleet), --resource-group with --name, --clusters or --graph-query',
          );
        if (opts.dryRun || opts.yes || opts.maxParallel)
          throw new MessageError('--dry-run, --yes and --max-parallel are for fleet runs (more than one cluster)');
        const { run } = await import('./run');
        process.exitCode = await run({ cluster: named[0]!, ...common }, env, io);
        process.exit(process.exitCode);
      },
    );

  addClusterOptions(program.command('result'))
    .description(
      "read a command's result once, printed like run --wait (exit code as run --wait; 75 while it still runs)",
    )
    .requiredOption('--command-id <id>', 'the run command id')
    .addOption(outputOption())
    .option('--raw', 'print logs as ARM gave them')
    .action(async (opts: ClusterFlags & { commandId: string; output: 'text' | 'json'; raw?: boolean }) => {
      const env = deployment();
      const cluster = oneCluster(opts, env);
      const { result } = await import('./result');
      process.exitCode = await result(
        { cluster, commandId: opts.commandId, output: opts.output, ...(opts.raw ? { raw: true } : {}) },
        env,
        {
          out: (l) => console.log(l),
          err: (l) => console.error(l),
        },
      );
    });

  addClusterOptions(program.command('enqueue').description('validate and enqueue a command id for the notifier'))
    .option('--command-id <id>', 'the run command id')
    .option(
      '--from-az-output <file>',
      'read the command id from what az aks command invoke --no-wait printed ("-": standard input)',
    )
    .option('--command <text>', 'the command, shown in the notification')
    .option('--target <name>', 'notification target (repeatable; default: the default targets)', collect)
    .option('--context <key=value>', 'extra context shown in the notification (repeatable)', collect)
    .option('--group <groupId>', "a fleet run's member: its result goes to that run's summary (docs/fleet.md)")
    .option('--delay-seconds <n>', 'first poll after this many seconds', nonNegativeInt, 0)
    .addOption(queueUrlOption())
    .addOption(outputOption())
    .action(
      async (
        opts: ClusterFlags & {
          commandId?: string;
          fromAzOutput?: string;
          command?: string;
          target?: string[];
          context?: string[];
          group?: string;
          delaySeconds: number;
          queueUrl?: string;
          output: 'text' | 'json';
        },
      ) => {
        const env = deployment();
        const cluster = oneCluster(opts, env);
        if (!opts.commandId === !opts.fromAzOutput)
          throw new MessageError('give --command-id, or --from-az-output (not both)');
        let commandId = opts.commandId;
        if (opts.fromAzOutput) {
          const [{ readFileSync }, { commandIdFromAzOutput }] = await Promise.all([import('node:fs'), import('./run')]);
          const text = readFileSync(opts.fromAzOutput === '-' ? 0 : opts.fromAzOutput, 'utf8');
          commandId = commandIdFromAzOutput(text);
          if (!commandId) throw new MessageError('found no "command id: <id>" in the az output');
        }
        const { text } = buildMessage({
          cluster,
          commandId: commandId!,
          ...(opts.command !== undefined ? { command: opts.command } : {}),
          ...(opts.target ? { targets: opts.target } : {}),
          ...(opts.context ? { context: opts.context } : {}),
          ...(opts.group !== undefined ? { groupId: opts.group } : {}),
        });
        const [{ openProducerQueue }, { DefaultAzureCredential }] = await Promise.all([
          import('./producer'),
          import('@azure/identity'),
        ]);
        const queue = openProducerQueue(env, () => new DefaultAzureCredential(), opts.queueUrl);
        try {
          await queue.send(text, opts.delaySeconds);
        } catch (err) {
          // Nothing was enqueued: exit 2, as run's refusals; a missing login reads as everywhere.
          if (isNoCredential(err)) throw err;
          const { explainSendFailure } = await import('./producer');
          throw new MessageError(`not enqueued: ${explainSendFailure(err, queue, env)}`);
        }
        if (opts.output === 'json') console.log(JSON.stringify({ commandId, queue: queue.name, enqueued: true }));
        else console.log(`enqueued command ${commandId} on ${queue.name}`);
      },
    );

  // The demo and the stand-ins it starts stay in the repository (dev/): they are not in the bundle, so the
  // command only says where to run it. It stays in the list so that someone who read about it finds it.
  program
    .command('demo')
    .description('the whole pipeline on this machine, no Azure account: runs from a clone of the repository')
    .option('--slack-app', 'with Slack as an app (npm run demo -- --slack-app)')
    .option('--teams-app', 'with Teams as an app (npm run demo -- --teams-app)')
    .action((opts: { slackApp?: boolean; teamsApp?: boolean }) => {
      const flags = [...(opts.slackApp ? ['--slack-app'] : []), ...(opts.teamsApp ? ['--teams-app'] : [])];
      throw new MessageError(
        `the demo is not part of the CLI: it starts local stand-ins, which stay in the repository. In a clone of it (git clone <repository>): npm install && npm run demo${flags.length ? ` -- ${flags.join(' ')}` : ''}`,
      );
    });

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
        const env = withStorageAccount(deployment(), opts.storageAccount);
        const clusters = clustersFromFlags(opts, env);
        const { doctor } = await import('./doctor');
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
        const [{ redrive }, { openOperatorStores }] = await Promise.all([import('./redrive'), import('./operator')]);
        const stores = openOperatorStores(withStorageAccount(deployment(), opts.storageAccount));
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
          import('./status'),
          import('./operator'),
        ]);
        const r = await status(openOperatorStores(withStorageAccount(deployment(), opts.storageAccount)), {
          poison: opts.poison,
          deliveries: opts.deliveries,
          windowHours: opts.hours,
        });
        console.log(opts.json || opts.output === 'json' ? JSON.stringify(r, null, 2) : formatStatus(r));
      },
    );

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
        const env = withStorageAccount(deployment(), opts.storageAccount);
        const named = clustersFromFlags(opts, env);
        if ((named?.length ?? 0) > 1) throw new MessageError('redeliver takes one cluster');
        const cluster = named?.[0];
        const given = [cluster, opts.commandId].filter((o) => o !== undefined).length;
        if (opts.group !== undefined ? given > 0 : given < 2)
          throw new MessageError('give --cluster (or -g/-n) and --command-id (a command), or --group (a fleet run)');
        const [{ redeliver, redeliverGroup }, { openOperatorStores }] = await Promise.all([
          import('./redeliver'),
          import('./operator'),
        ]);
        const stores = openOperatorStores(env);
        const targets = opts.target ? { targets: opts.target } : {};
        const json = opts.output === 'json';
        const log = (l: string) => (json ? console.error(l) : console.log(l));
        if (opts.group !== undefined) {
          const r = await redeliverGroup(stores, { groupId: opts.group, ...targets }, log);
          if (json) console.log(JSON.stringify({ groupId: opts.group, targets: r.targets }));
          else console.log(`enqueued a redelivery of group ${opts.group}'s summary to ${r.targets.join(', ')}`);
          return;
        }
        const r = await redeliver(stores, { cluster: cluster!, commandId: opts.commandId!, ...targets }, log);
        if (json)
          console.log(JSON.stringify({ clusterResourceId: cluster, commandId: opts.commandId, targets: r.targets }));
        else console.log(`enqueued a redelivery of command ${opts.commandId} to ${r.targets.join(', ')}`);
      },
    );

  program
    .command('preview')
    .description(
      'print the exact payloads that would be posted (paste into Block Kit Builder or the Adaptive Cards designer)',
    )
    .option('--outcome <outcome>', `one of ${OUTCOMES.join(', ')}`, 'exitCode')
    .option(
      '--target <name>',
      'a configured target (default: every configured target, or a Slack and a Teams example)',
      collect,
    )
    .option('--logs-file <path>', 'use this file as the command output')
    .option('--text', 'show what the channel would show instead of the JSON payload')
    .option('--minimal', 'the minimal form, sent when a channel refuses the full one')
    .addOption(outputOption('text: labelled payloads; json: one JSON document with every payload'))
    .action(
      async (opts: {
        outcome: string;
        target?: string[];
        logsFile?: string;
        text?: boolean;
        minimal?: boolean;
        output: 'text' | 'json';
      }) => {
        if (opts.text && opts.output === 'json') throw new MessageError('--text and --output json do not go together');
        const { runPreview } = await import('./preview');
        runPreview({
          outcome: opts.outcome,
          ...(opts.minimal ? { form: 'minimal' as const } : {}),
          ...(opts.target ? { targets: opts.target } : {}),
          ...(opts.logsFile ? { logsFile: opts.logsFile } : {}),
          ...(opts.text ? { text: true } : {}),
          output: opts.output,
        });
      },
    );

  return program;
}

/** --cluster, -g/-n and --subscription, for a command that takes one cluster. */
function addClusterOptions(cmd: Command, note = ''): Command {
  for (const option of clusterOptions(note)) cmd.addOption(option);
  return cmd;
}

export async function main(argv = process.argv): Promise<void> {
  if (argv.length <= 2) {
    // No command: one line, as any usage error (the list is in --help).
    console.error(
      'error: give a command (run, result, enqueue, doctor, status…); aks-command-notifier --help lists them',
    );
    process.exitCode = 2;
    return;
  }
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its one line (or the help, or the version): 0 for those, 2 for usage errors.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (isNoCredential(err)) {
      console.error(`error: ${describeNoCredential(err)}`);
      process.exitCode = 2;
      return;
    }
    if (
      err instanceof ConfigError ||
      err instanceof MessageError ||
      err instanceof StoreUnavailableError ||
      err instanceof StoreRejectedError ||
      ['RedeliverError', 'RunError', 'AttachError'].includes((err as Error).name)
    ) {
      console.error(`error: ${(err as Error).message}`);
      process.exitCode = (err as { exitCode?: number }).exitCode ?? 2;
      return;
    }
    console.error(`error: ${(err as Error).message}`);
    process.exitCode = (err as { exitCode?: number }).exitCode ?? 1;
  }
}

if (require.main === module) void main();
