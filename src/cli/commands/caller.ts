// The commands about one command on a cluster, run as the caller: `run` (on one cluster, or a fleet run),
// `result` and `enqueue`. Each registers itself on the program; main.ts composes them, in the order --help
// lists them. What they do is in run.ts, fleet.ts, result.ts and enqueue.ts, loaded when the command runs.
import { Option, type Command } from 'commander';
import type { Env } from '../../config';
import { MessageError } from '../../core/message';
import { clustersFromFlags, deployedEnv, oneCluster, type ClusterFlags } from '../deployment';
import { buildMessage } from '../enqueue';
import { isNoCredential } from '../credentials';
import type { ClusterSelection } from '../fleetClusters';
import type { Io } from '../io';
import { addClusterOptions, collect, nonNegativeInt, outputOption, positiveInt, queueUrlOption } from '../options';

/** `run`'s flags, as commander gives them. */
interface RunOptions {
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
}

export function addRunCommand(program: Command): void {
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
    .action(async (opts: RunOptions) => {
      const env = deployedEnv();
      const named = clustersFromFlags(opts, env);
      const interrupted = new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
      const io: Io = { out: (l: string) => console.log(l), err: (l: string) => console.error(l), interrupted };
      const { isFleet } = await import('../fleetClusters');
      const selection = {
        ...(named ? { clusters: named } : {}),
        ...(opts.clusters !== undefined ? { clustersFile: opts.clusters } : {}),
        ...(opts.graphQuery !== undefined ? { graphQuery: opts.graphQuery } : {}),
      };
      process.exitCode = isFleet(selection)
        ? await runOnFleet(opts, selection, env, io)
        : await runOnOneCluster(opts, named, env, io);
      process.exit(process.exitCode);
    });
}

/** What `run` starts, and how it reports, the same on one cluster and on a fleet. */
function startInput(opts: RunOptions) {
  return {
    command: opts.command,
    ...(opts.file ? { files: opts.file } : {}),
    ...(opts.target ? { targets: opts.target } : {}),
    ...(opts.context ? { context: opts.context } : {}),
    ...(opts.wait ? { wait: true } : {}),
    output: opts.output,
    ...(opts.raw ? { raw: true } : {}),
    ...(opts.queueUrl ? { queueUrl: opts.queueUrl } : {}),
  };
}

/** More than one cluster, a file or a query: a fleet run, confirmed on the terminal when there is one. */
async function runOnFleet(opts: RunOptions, selection: ClusterSelection, env: Env, io: Io): Promise<number> {
  const [{ runFleet }, { confirmOnTerminal }] = await Promise.all([import('../fleet'), import('../io')]);
  return runFleet(
    {
      ...startInput(opts),
      ...selection,
      ...(opts.dryRun ? { dryRun: true } : {}),
      ...(opts.yes ? { yes: true } : {}),
      ...(opts.maxParallel ? { maxParallel: opts.maxParallel } : {}),
    },
    env,
    io,
    confirmOnTerminal(),
  );
}

/** One cluster: `run` as it always was; the fleet run's flags are usage errors here. */
async function runOnOneCluster(opts: RunOptions, named: string[] | undefined, env: Env, io: Io): Promise<number> {
  if (!named?.length)
    throw new MessageError(
      'give --cluster (more than once for a fleet), --resource-group with --name, --clusters or --graph-query',
    );
  if (opts.dryRun || opts.yes || opts.maxParallel)
    throw new MessageError('--dry-run, --yes and --max-parallel are for fleet runs (more than one cluster)');
  const { run } = await import('../run');
  return run({ cluster: named[0]!, ...startInput(opts) }, env, io);
}

export function addResultCommand(program: Command): void {
  addClusterOptions(program.command('result'))
    .description(
      "read a command's result once, printed like run --wait (exit code as run --wait; 75 while it still runs)",
    )
    .requiredOption('--command-id <id>', 'the run command id')
    .addOption(outputOption())
    .option('--raw', 'print logs as ARM gave them')
    .action(async (opts: ClusterFlags & { commandId: string; output: 'text' | 'json'; raw?: boolean }) => {
      const env = deployedEnv();
      const cluster = oneCluster(opts, env);
      const { result } = await import('../result');
      process.exitCode = await result(
        { cluster, commandId: opts.commandId, output: opts.output, ...(opts.raw ? { raw: true } : {}) },
        env,
        {
          out: (l) => console.log(l),
          err: (l) => console.error(l),
        },
      );
    });
}

export function addEnqueueCommand(program: Command): void {
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
        const env = deployedEnv();
        const cluster = oneCluster(opts, env);
        if (!opts.commandId === !opts.fromAzOutput)
          throw new MessageError('give --command-id, or --from-az-output (not both)');
        let commandId = opts.commandId;
        if (opts.fromAzOutput) {
          const [{ readFileSync }, { commandIdFromAzOutput }] = await Promise.all([
            import('node:fs'),
            import('../run'),
          ]);
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
          import('../producer'),
          import('@azure/identity'),
        ]);
        const queue = openProducerQueue(env, () => new DefaultAzureCredential(), opts.queueUrl);
        try {
          await queue.send(text, opts.delaySeconds);
        } catch (err) {
          // Nothing was enqueued: exit 2, as run's refusals; a missing login reads as everywhere.
          if (isNoCredential(err)) throw err;
          const { explainSendFailure } = await import('../producer');
          throw new MessageError(`not enqueued: ${explainSendFailure(err, queue, env)}`);
        }
        if (opts.output === 'json') console.log(JSON.stringify({ commandId, queue: queue.name, enqueued: true }));
        else console.log(`enqueued command ${commandId} on ${queue.name}`);
      },
    );
}
