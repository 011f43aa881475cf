// `aks-command-notifier worker`: the function's handler on the configured queue, with host semantics.
import { consoleLog, redactingLog } from '../log';
import { getRuntime } from '../runtime';
import { readQueueHostSettings } from './hostSettings';
import { QueueWorker } from './worker';

export interface WorkerCommandOptions {
  leaseSeconds?: number;
  maxPollingIntervalMs?: number;
  batchSize?: number;
  shutdownGraceSeconds?: number;
  visibilityTimeoutSeconds?: number;
}

export async function runWorker(options: WorkerCommandOptions = {}): Promise<void> {
  const runtime = getRuntime();
  const log = redactingLog(consoleLog, runtime.redact);
  const host = readQueueHostSettings();
  await runtime.queue.ensureQueues();
  const { pollCommandResult } = await import('../pipeline/queueHandler');
  const batchSize = options.batchSize ?? host.batchSize;
  const worker = new QueueWorker({
    ...host,
    batchSize,
    newBatchThreshold: options.batchSize ? Math.floor(batchSize / 2) : host.newBatchThreshold,
    maxDequeueCount: runtime.config.maxDequeueCount,
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
  log.info(`worker: listening on queue ${runtime.config.queueName} (batch ${batchSize}, max dequeue ${runtime.config.maxDequeueCount})`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info(`worker: ${signal}: finishing ${worker.busy} running message(s)`);
      void worker.stop().then(() => {
        log.info(`worker: stopped (received ${worker.stats.received}, succeeded ${worker.stats.succeeded}, failed ${worker.stats.failed}, poisoned ${worker.stats.poisoned})`);
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
