// `aks-command-notifier worker`: the function's handlers on the configured storage, with host semantics
// read from host.json (the same file the Functions host obeys).
import { dirname, resolve } from 'node:path';
import { consoleLog, redactingLog } from '../log';
import { findHostJson, readQueueHostSettings } from '../hostSettings';
import { QueueWorker } from './worker';

export interface WorkerCommandOptions {
  leaseSeconds?: number;
  maxPollingIntervalMs?: number;
  batchSize?: number;
  shutdownGraceSeconds?: number;
  visibilityTimeoutSeconds?: number;
  /** host.json to obey (default: the app's own). */
  hostJson?: string;
}

export async function runWorker(options: WorkerCommandOptions = {}): Promise<void> {
  // Like the host: the app root is where host.json is, and the handler reads its limits from there too.
  const hostJson = resolve(options.hostJson ?? findHostJson());
  process.env.AzureWebJobsScriptRoot = dirname(hostJson);
  const host = readQueueHostSettings(hostJson);
  const { getRuntime } = await import('../runtime');
  const runtime = getRuntime();
  const log = redactingLog(consoleLog, runtime.redact);
  await runtime.queue.ensureQueues();
  const { pollCommandResult } = await import('../pipeline/queueHandler');
  const batchSize = options.batchSize ?? host.batchSize;
  const worker = new QueueWorker({
    ...host,
    batchSize,
    newBatchThreshold: options.batchSize ? Math.floor(batchSize / 2) : host.newBatchThreshold,
    maxPollingIntervalMs: options.maxPollingIntervalMs ?? host.maxPollingIntervalMs,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? host.visibilityTimeoutSeconds,
    queue: runtime.queue.main,
    poison: runtime.queue.poison,
    handler: pollCommandResult,
    leaseSeconds: options.leaseSeconds ?? 60,
    shutdownGraceMs: (options.shutdownGraceSeconds ?? 20) * 1000,
    log,
  });
  worker.start();
  // Timers, as the host runs them (not at start-up: runOnStartup is off).
  const { nextDailyRun } = await import('../core/ncrontab');
  const { RETENTION_SCHEDULE, sweepOld } = await import('../pipeline/retention');
  let timer: NodeJS.Timeout | undefined;
  const scheduleSweep = () => {
    timer = setTimeout(() => {
      sweepOld(runtime.ledger.store, runtime.deps.results, runtime.config.retentionDays, Date.now(), log)
        .catch((err: unknown) => log.error(`retention: ${(err as Error).message}`))
        .finally(scheduleSweep);
    }, nextDailyRun(RETENTION_SCHEDULE, Date.now()) - Date.now());
    timer.unref();
  };
  scheduleSweep();
  log.info(`worker: listening on queue ${runtime.config.queueName} (batch ${batchSize}, max dequeue ${host.maxDequeueCount} from ${hostJson})`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      clearTimeout(timer);
      log.info(`worker: ${signal}: finishing ${worker.busy} running message(s)`);
      void worker.stop().then(() => {
        const s = worker.stats;
        log.info(
          `worker: stopped (received ${s.received}: succeeded ${s.succeeded}, failed ${s.failed}, poisoned ${s.poisoned}, returned ${s.returned}, unsettled ${s.unsettled})`,
        );
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
