// The queue trigger's handler: translate the trigger into a call to processPollMessage, nothing more.
// Shared by the Functions registration and the worker, which must run exactly the same code.
import type { InvocationContext } from '@azure/functions';
import { redactingLog } from '../log';
import { getRuntime, type Runtime } from '../runtime';
import { processPollMessage, type PollOutcome } from './pollCommand';

function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return value;
  if (typeof value === 'string' || typeof value === 'number') {
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

export function createPollHandler(runtime: () => Runtime) {
  return async function pollCommandResult(message: unknown, context: InvocationContext): Promise<PollOutcome> {
    const rt = runtime();
    const log = redactingLog(
      { info: (m) => context.log(m), warn: (m) => context.warn(m), error: (m) => context.error(m) },
      rt.redact,
    );
    const meta = context.triggerMetadata ?? {};
    const dequeueCount = Number(meta.dequeueCount ?? 1) || 1;
    const insertionTime = toDate(meta.insertionTime);
    try {
      return await processPollMessage(
        message,
        { dequeueCount, ...(insertionTime ? { insertionTime } : {}), ...(typeof meta.id === 'string' ? { id: meta.id } : {}) },
        rt.deps,
        log,
      );
    } catch (err) {
      const last = dequeueCount >= rt.config.maxDequeueCount;
      log.error(
        `${(err as Error).message}${last ? ` (attempt ${dequeueCount} of ${rt.config.maxDequeueCount}: the message now goes to ${rt.config.poisonQueueName})` : ` (attempt ${dequeueCount} of ${rt.config.maxDequeueCount}, will be retried)`}`,
      );
      throw err;
    }
  };
}

export const pollCommandResult = createPollHandler(getRuntime);
