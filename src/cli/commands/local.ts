// The commands that run on this machine, with no deployment: `worker` (the queue handler outside the
// Functions host), `demo` (which only says where the demo runs) and `preview` (the payloads a target would
// get). Each registers itself on the program; main.ts composes them, in the order --help lists them.
import type { Command } from 'commander';
import { MessageError } from '../../core/message';
import { OUTCOMES } from '../../core/report';
import { collect, nonNegativeInt, outputOption, positiveInt } from '../options';

export function addWorkerCommand(program: Command): void {
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
    .action(async (opts: Parameters<typeof import('../runWorker').runWorker>[0]) => {
      const { runWorker } = await import('../runWorker');
      await runWorker(opts);
      // Handlers abandoned after the grace period may still hold sockets: their messages are back in the queue.
      process.exit(0);
    });
}

export function addDemoCommand(program: Command): void {
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
}

export function addPreviewCommand(program: Command): void {
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
        const { runPreview } = await import('../preview');
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
}
