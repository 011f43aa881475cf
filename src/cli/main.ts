#!/usr/bin/env node
// aks-command-notifier: worker, enqueue, demo, preview, redrive.
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadQueueName, loadStorageConfig } from '../config';
import { MessageError } from '../core/message';
import { OUTCOMES } from '../core/report';
import { CommandQueue, createQueueServiceClient } from '../queue/storage';
import { buildMessage } from './enqueue';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number >= 1');
  return n;
}
function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number >= 0');
  return n;
}
const collect = (value: string, previous: string[] = []) => [...previous, value];

export function buildCli(): Command {
  const program = new Command('aks-command-notifier')
    .description('Waits for AKS run command results and posts them to Slack and Microsoft Teams.')
    .showHelpAfterError();

  program
    .command('worker')
    .description('run the queue-triggered handler outside the Functions host (local development, tests)')
    .option('--lease-seconds <n>', 'how long a message stays invisible while it runs (renewed)', positiveInt)
    .option('--max-polling-interval-ms <n>', 'longest wait between polls of an empty queue', positiveInt)
    .option('--batch-size <n>', 'messages fetched at once (default: host.json)', positiveInt)
    .option('--shutdown-grace-seconds <n>', 'how long SIGTERM waits for running messages', positiveInt)
    .option('--visibility-timeout-seconds <n>', 'delay before a failed message is retried (default: host.json)', nonNegativeInt)
    .action(async (opts: Parameters<typeof import('./runWorker').runWorker>[0]) => {
      const { runWorker } = await import('./runWorker');
      await runWorker(opts);
      // Handlers abandoned after the grace period may still hold sockets: their messages are back in the queue.
      process.exit(0);
    });

  program
    .command('enqueue')
    .description('validate and enqueue a command id for the notifier')
    .requiredOption('--cluster <resourceId>', 'managed cluster resource id')
    .requiredOption('--command-id <id>', 'the run command id')
    .option('--command <text>', 'the command, shown in the notification')
    .option('--target <name>', 'notification target (repeatable; default: the default targets)', collect)
    .option('--context <key=value>', 'extra context shown in the notification (repeatable)', collect)
    .option('--delay-seconds <n>', 'first poll after this many seconds', nonNegativeInt, 0)
    .action(async (opts: { cluster: string; commandId: string; command?: string; target?: string[]; context?: string[]; delaySeconds: number }) => {
      const { text } = buildMessage({
        cluster: opts.cluster,
        commandId: opts.commandId,
        ...(opts.command !== undefined ? { command: opts.command } : {}),
        ...(opts.target ? { targets: opts.target } : {}),
        ...(opts.context ? { context: opts.context } : {}),
      });
      const queueName = loadQueueName(process.env);
      const queue = CommandQueue.fromService(createQueueServiceClient(loadStorageConfig(process.env)), queueName);
      await queue.send(text, opts.delaySeconds);
      console.log(`enqueued command ${opts.commandId} on ${queueName}`);
    });

  program
    .command('demo')
    .description('the whole pipeline on this machine, no Azure account: Azurite, ARM, identity, Slack and Teams stand-ins')
    .action(async () => {
      const { runDemo } = await import('./demo');
      process.exitCode = await runDemo();
    });

  program
    .command('redrive')
    .description('move messages from <queue>-poison back to the queue (after fixing what poisoned them)')
    .option('--max <n>', 'move at most this many', positiveInt, 1000)
    .option('--dry-run', 'only list what would move')
    .action(async (opts: { max: number; dryRun?: boolean }) => {
      const { redrive } = await import('./redrive');
      const queueName = loadQueueName(process.env);
      const queue = CommandQueue.fromService(createQueueServiceClient(loadStorageConfig(process.env)), queueName);
      const r = await redrive(queue, { max: opts.max, dryRun: !!opts.dryRun, log: (l) => console.log(l) });
      console.log(`${opts.dryRun ? 'would move' : 'moved'} ${r.moved} message(s) from ${queueName}-poison to ${queueName}`);
    });

  program
    .command('preview')
    .description('print the exact payloads that would be posted (paste into Block Kit Builder or the Adaptive Cards designer)')
    .option('--outcome <outcome>', `one of ${OUTCOMES.join(', ')}`, 'exitCode')
    .option('--target <name>', 'a configured target (default: every configured target, or a Slack and a Teams example)', collect)
    .option('--logs-file <path>', 'use this file as the command output')
    .option('--text', 'show what the channel would show instead of the JSON payload')
    .action(async (opts: { outcome: string; target?: string[]; logsFile?: string; text?: boolean }) => {
      const { runPreview } = await import('./preview');
      runPreview({
        outcome: opts.outcome,
        ...(opts.target ? { targets: opts.target } : {}),
        ...(opts.logsFile ? { logsFile: opts.logsFile } : {}),
        ...(opts.text ? { text: true } : {}),
      });
    });

  return program;
}

export async function main(argv = process.argv): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof MessageError) {
      console.error(`error: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    console.error(`error: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
