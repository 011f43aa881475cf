// How a message leaves this invocation when it is not done: re-enqueued with a delay (the next poll, the
// next delivery round, the end of a store outage), or moved to the poison queue with its reason. A queue
// that refuses the re-enqueue is the one thing left to the host's retries.
import { escapeForLog } from '../core/text';
import { messageText } from '../core/message';
import { MESSAGE_ID, type Bookkeeping } from '../core/bookkeeping';
import { formatDuration } from '../core/report';
import { REQUEUE_RETRY_PAUSES_MS, storeOutageGiveUpMs, storeRetryDelaySeconds } from '../core/schedule';
import { StoreRejectedError, StoreUnavailableError } from '../store/entityStore';
import type { PoisonReason } from '../telemetry/telemetry';
import { RetryableError, telemetryOf, type Journey, type MessageOutcome } from './context';

/** A deliberate re-enqueue; if the queue refuses it, the host must retry this message instead. */
export async function requeue(ctx: Journey, book: Bookkeeping, delaySeconds: number): Promise<void> {
  const text = ctx.serialize({
    ...book,
    // The chain this copy owns is the next copy's too, whatever this invocation could not learn of its writes.
    ...(ctx.meta.id && MESSAGE_ID.test(ctx.meta.id) ? { parent: ctx.meta.id } : { parent: undefined }),
    firstSeenAt: new Date(ctx.firstSeenMs).toISOString(),
    deadlineAt: new Date(ctx.deadlineMs).toISOString(),
  });
  let lastError: unknown;
  for (let tryNo = 0; tryNo <= REQUEUE_RETRY_PAUSES_MS.length; tryNo++) {
    try {
      await ctx.deps.queue.send(text, delaySeconds);
      return;
    } catch (err) {
      lastError = err;
      const pause = REQUEUE_RETRY_PAUSES_MS[tryNo];
      if (pause !== undefined) await new Promise((r) => setTimeout(r, pause));
    }
  }
  throw new RetryableError(`${ctx.label}: could not re-enqueue: ${(lastError as Error).message}`);
}

export async function poison(
  ctx: Pick<Journey, 'raw' | 'deps' | 'log' | 'meta'>,
  why: PoisonReason,
  reason: string,
  label?: string,
): Promise<MessageOutcome> {
  const bounded = escapeForLog(reason, 1024);
  await ctx.deps.queue.sendPoison(messageText(ctx.raw), bounded);
  telemetryOf(ctx.deps).poisoned(why);
  ctx.meta.span?.set({ 'aks.poison_reason': why });
  ctx.log.error(`${label ?? `message ${escapeForLog(ctx.meta.id ?? '?', 80)}`}: moved to the poison queue: ${bounded}`);
  return { kind: 'poisoned', reason: bounded };
}

/** The ledger or the result store is down: an ordinary day. Wait with backoff, keeping what we know. */
export async function deferForStore(ctx: Journey, err: StoreUnavailableError): Promise<MessageOutcome> {
  const { deps, book, log, label } = ctx;
  const round = (book.round ?? 0) + 1;
  if (deps.now() > storeOutageGiveUpMs(ctx.deadlineMs, deps.delivery.timeoutHours)) {
    const waited = formatDuration((deps.now() - ctx.firstSeenMs) / 1000);
    const reason = `${err.message}; gave up after ${waited} (the poll and delivery deadlines have passed)`;
    return poison(ctx, 'store-unavailable', reason, label);
  }
  const delaySeconds = storeRetryDelaySeconds({
    stage: book.stage ?? 'poll',
    round,
    deliveryMaxDelaySeconds: deps.delivery.maxDelaySeconds,
    pollMaxDelaySeconds: deps.schedule.maxDelaySeconds,
    random: deps.random(),
  });
  await requeue(ctx, { ...book, round }, delaySeconds);
  log.warn(`${label}: ${err.message}; trying again in ${delaySeconds}s (round ${round})`);
  telemetryOf(deps).deferral('store-unavailable');
  return { kind: 'deferred', delaySeconds, results: [], reason: err.message };
}

/**
 * How a journey ends on a store error, for every kind of message alike: a request the store will never take
 * goes to the poison queue (a bug: waiting changes nothing, and the code goes with the reason); an outage is
 * waited out (deferForStore). Anything else is not the store's, and is thrown on.
 */
export async function endOnStoreError(ctx: Journey, err: unknown): Promise<MessageOutcome> {
  if (err instanceof StoreRejectedError) {
    const reason = `${err.message}: a request the store will never take (a bug; please report it with this line)`;
    return poison(ctx, 'store-rejected', reason, ctx.label);
  }
  if (!(err instanceof StoreUnavailableError)) throw err;
  return deferForStore(ctx, err);
}
