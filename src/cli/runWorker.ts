// `aks-command-notifier worker`: the function's handlers on the configured storage, with host semantics
// read from host.json (the same file the Functions host obeys), and its timers on their schedules. When it
// stops it prints what its metrics counted (and writes them as JSON with --metrics-json).
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { consoleLog, redactingLog } from '../log';
import { findHostJson, readQueueHostSettings } from '../hostSettings';
import { QueueHostEmulator } from '../host/queueHostEmulator';

export interface WorkerCommandOptions {
  leaseSeconds?: number;
  maxPollingIntervalMs?: number;
  batchSize?: number;
  shutdownGraceSeconds?: number;
  visibilityTimeoutSeconds?: number;
  /** host.json to obey (default: the app's own). */
  hostJson?: string;
  /** Where to write the metrics (JSON) when the worker stops. */
  metricsJson?: string;
}

export async function runWorker(options: WorkerCommandOptions = {}): Promise<void> {
  // Like the host: the app root is where host.json is, and the handler reads its limits from there too.
  const hostJson = resolve(options.hostJson ?? findHostJson());
  process.env.AzureWebJobsScriptRoot = dirname(hostJson);
  const host = readQueueHostSettings(hostJson);
  // Metrics stay in this process: the runtime's instruments are built on this provider.
  const { setupLocalMetrics, formatMetrics } = await import('../telemetry/setup');
  const metrics = setupLocalMetrics();
  const { getRuntime } = await import('../runtime');
  const runtime = getRuntime();
  const log = redactingLog(consoleLog, runtime.redact);
  await runtime.queue.ensureQueues();
  const { handleQueueMessage } = await import('../pipeline/queueTrigger');
  const batchSize = options.batchSize ?? host.batchSize;
  const worker = new QueueHostEmulator({
    ...host,
    batchSize,
    newBatchThreshold: options.batchSize ? Math.floor(batchSize / 2) : host.newBatchThreshold,
    maxPollingIntervalMs: options.maxPollingIntervalMs ?? host.maxPollingIntervalMs,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? host.visibilityTimeoutSeconds,
    queue: runtime.queue.main,
    poison: runtime.queue.poison,
    handler: handleQueueMessage,
    leaseSeconds: options.leaseSeconds ?? 60,
    shutdownGraceMs: (options.shutdownGraceSeconds ?? 20) * 1000,
    log,
  });
  worker.start();

  // Timers, as the host runs them (not at start-up: runOnStartup is off).
  const { nextRun } = await import('../core/ncrontab');
  const { RETENTION_SCHEDULE, sweepOld } = await import('../pipeline/retention');
  const { MONITOR_SCHEDULE, monitorQueues } = await import('../pipeline/queueMonitor');
  const { noTelemetry } = await import('../telemetry/telemetry');
  const timers = new Set<NodeJS.Timeout>();
  const every = (name: string, schedule: string, run: () => Promise<unknown>) => {
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        run()
          .catch((err: unknown) => log.error(`${name}: ${(err as Error).message}`))
          .finally(() => every(name, schedule, run));
      },
      nextRun(schedule, Date.now()) - Date.now(),
    );
    timer.unref();
    timers.add(timer);
  };
  every('cleanLedger', RETENTION_SCHEDULE, () =>
    sweepOld(runtime.ledger.store, runtime.deps.results, runtime.config.retentionDays, Date.now(), log),
  );
  every('monitorQueue', MONITOR_SCHEDULE, () =>
    monitorQueues(runtime.queue, runtime.deps.telemetry ?? noTelemetry, log),
  );

  log.info(
    `worker: listening on queue ${runtime.config.queueName} (batch ${batchSize}, max dequeue ${host.maxDequeueCount} from ${hostJson})`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      for (const t of timers) clearTimeout(t);
      log.info(`worker: ${signal}: finishing ${worker.busy} running message(s)`);
      void worker
        .stop()
        .then(async () => {
          const s = worker.stats;
          log.info(
            `worker: stopped (received ${s.received}: succeeded ${s.succeeded}, failed ${s.failed}, poisoned ${s.poisoned}, returned ${s.returned}, unsettled ${s.unsettled})`,
          );
          const points = await metrics.points();
          log.info('worker: metrics (what this worker counted):');
          for (const line of (formatMetrics(points) || '  (none)').split('\n')) log.info(line);
          if (options.metricsJson)
            writeFileSync(options.metricsJson, `${JSON.stringify({ worker: s, metrics: points }, null, 2)}\n`);
        })
        .catch((err: unknown) => log.error(`worker: ${(err as Error).message}`))
        .finally(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
