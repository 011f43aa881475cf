// The queue trigger's handler: translate the trigger into a call to handleCommandMessage, nothing more.
// Shared by the Functions registration and the worker, which must run exactly the same code.
import type { InvocationContext } from '@azure/functions';
import { readQueueHostSettings } from '../hostSettings';
import { invocationLog } from '../log';
import { getRuntime, type Runtime } from '../runtime';
import { noTelemetry } from '../telemetry/telemetry';
import type { MessageOutcome } from './context';
import { handleCommandMessage } from './journey';

function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return value;
  if (typeof value === 'string' || typeof value === 'number') {
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

let maxDequeueCount: number | undefined;

/** The host's retry limit, from host.json as the host reads it (only for what the log line says). */
function hostMaxDequeueCount(): number {
  if (maxDequeueCount === undefined) {
    try {
      maxDequeueCount = readQueueHostSettings().maxDequeueCount;
    } catch {
      maxDequeueCount = 5; // the extension's default
    }
  }
  return maxDequeueCount;
}

export function createQueueHandler(runtime: () => Runtime) {
  return async function handleQueueMessage(message: unknown, context: InvocationContext): Promise<MessageOutcome> {
    const rt = runtime();
    const log = invocationLog(context, rt.redact);
    const meta = context.triggerMetadata ?? {};
    const dequeueCount = Number(meta.dequeueCount ?? 1) || 1;
    const insertionTime = toDate(meta.insertionTime);
    const id = typeof meta.id === 'string' ? meta.id : undefined;
    try {
      return await (rt.deps.telemetry ?? noTelemetry).messageSpan(
        'trackCommand',
        {
          'messaging.system': 'azure_queue',
          'messaging.destination.name': rt.config.queueName,
          'messaging.azure_queue.dequeue_count': dequeueCount,
          ...(id ? { 'messaging.message.id': id } : {}),
        },
        async (span) => {
          const outcome = await handleCommandMessage(
            message,
            { ...(insertionTime ? { insertionTime } : {}), ...(id ? { id } : {}), span },
            rt.deps,
            log,
          );
          span.set({
            'aks.outcome': outcome.kind,
            ...('outcome' in outcome && outcome.outcome ? { 'aks.result': outcome.outcome } : {}),
          });
          return outcome;
        },
      );
    } catch (err) {
      const max = hostMaxDequeueCount();
      const last = dequeueCount >= max;
      const message = rt.redact((err as Error).message ?? String(err));
      log.error(
        `${message} (attempt ${dequeueCount} of ${max} (host.json maxDequeueCount)${last ? `: the message now goes to ${rt.config.poisonQueueName}` : ', will be retried'})`,
      );
      // What reaches the host is redacted too: the host logs it, and that line is out of our hands.
      const redacted = new Error(message);
      redacted.name = (err as Error).name ?? 'Error';
      throw redacted;
    }
  };
}

export const handleQueueMessage = createQueueHandler(getRuntime);
