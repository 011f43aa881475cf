// Everything the function app runs, behind one lazily loaded bundle (dist/function/handler.js): the
// registrations in src/functions load it on their first invocation, so a cold start only registers.
// Telemetry's SDK is a third bundle (dist/function/telemetry.js), loaded here only when Application
// Insights is configured.
import type { InvocationContext } from '@azure/functions';
import { invocationLog } from '../log';
import { getRuntime } from '../runtime';
import { handleQueueMessage } from '../pipeline/queueTrigger';
import { monitorQueues } from '../pipeline/queueMonitor';
import { sweepOld } from '../pipeline/retention';
import { noTelemetry } from '../telemetry/telemetry';

let telemetryReady: Promise<void> | undefined;

/** Sets up the exporter before the runtime builds its instruments; never fails an invocation. */
function ensureTelemetry(): Promise<void> {
  telemetryReady ??= (async () => {
    const connectionString = process.env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
    if (!connectionString) return;
    const { setupAzureMonitor } = await import('../telemetry/setup');
    const clientId = process.env.AZURE_CLIENT_ID?.trim();
    setupAzureMonitor({ connectionString, ...(clientId ? { clientId } : {}) });
  })().catch((err: unknown) => console.error(`aks-command-notifier: telemetry is off: ${(err as Error).message}`));
  return telemetryReady;
}

export async function trackCommand(message: unknown, context: InvocationContext): Promise<unknown> {
  await ensureTelemetry();
  return handleQueueMessage(message, context);
}

export async function cleanLedger(context: InvocationContext): Promise<void> {
  await ensureTelemetry();
  const rt = getRuntime();
  const log = invocationLog(context, rt.redact);
  await sweepOld(rt.ledger.store, rt.deps.results, rt.config.retentionDays, Date.now(), log);
}

export async function monitorQueue(context: InvocationContext): Promise<void> {
  await ensureTelemetry();
  const rt = getRuntime();
  const log = invocationLog(context, rt.redact);
  await monitorQueues(rt.queue, rt.deps.telemetry ?? noTelemetry, log);
}
