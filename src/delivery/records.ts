// What a delivery attempt leaves in the ledger: a running message posted (the target stays pending, with
// where the message is), a result delivered (or carried as a note when the ledger cannot take the record,
// so that it is recorded later and never posted again), a failure given up or waiting for the schedule's
// next try. Every write is conditional on the claim the attempt holds.
import type { SentNote } from '../core/bookkeeping';
import type { StructuredReport } from '../notify/notification';
import { cappedRetryAfterSeconds, decideAfterFailure, recordBudgetMs, retryDelaySeconds } from '../core/schedule';
import { StoreRejectedError, StoreUnavailableError } from '../store/entityStore';
import type { Ledger } from '../store/ledger';
import type { TargetState } from '../store/ledgerRows';
import type { DeliveryContext, TargetResult } from './context';
import { fingerprint, type Form, type SendResult, type Target } from '../notify/provider';

type SendFailure = Extract<SendResult, { ok: false }>;

function capped(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').slice(0, 500);
}

/** The running message: the target stays pending, with where the message is, for the result to update it. */
export async function recordRunning(
  target: Target,
  claimed: TargetState,
  result: SendResult,
  ctx: DeliveryContext,
): Promise<TargetResult> {
  const name = target.name;
  if (result.ok) {
    await ctx.ledger.writeTarget(ctx.key, claimed, {
      state: 'pending',
      waitMs: 0,
      unsureSince: undefined,
      lastError: '',
      ...(result.providerState !== undefined ? { providerState: result.providerState } : {}),
    });
    if (result.note) ctx.log.warn(`target ${name}: running message posted, but ${result.note}`);
    return { target: name, status: 'posted' };
  }
  // Never delays the result: the target stays ready, and the final delivery (or the next poll) tries again.
  const after = cappedRetryAfterSeconds(result.retryAfterSeconds, ctx.policy.maxDelaySeconds);
  if (after !== undefined) ctx.cooldowns.set(name, 1000 * after);
  await ctx.ledger.writeTarget(ctx.key, claimed, {
    state: 'pending',
    waitMs: 0,
    lastError: capped(`running message: ${result.detail}`),
    ...failureState(claimed, result),
  });
  const doubt = result.mayHaveArrived
    ? ' (no answer to a post that was sent: the next try looks for it first where the channel can be searched, or says it may show twice)'
    : '';
  ctx.log.warn(`target ${name}: the running message was not posted: ${result.detail}${doubt}`);
  return result.failure === 'transient'
    ? { target: name, status: 'retry-later', error: result.detail, waitMs: 0 }
    : { target: name, status: 'failed', error: result.detail };
}

/** Posted: recorded, or — the ledger being down — carried as a note so that the next round records it, never re-posts. */
export async function recordDelivery(
  target: Target,
  claimed: TargetState,
  result: Extract<SendResult, { ok: true }>,
  report: StructuredReport,
  form: Form,
  attempts: number,
  inDoubt: boolean,
  ctx: DeliveryContext,
  remaining: () => number,
): Promise<TargetResult> {
  const name = target.name;
  const deliveredAt = new Date(ctx.now());
  const finished = report.time ? Date.parse(report.time) : Number.NaN;
  const lagMs = Number.isNaN(finished) ? undefined : Math.max(0, deliveredAt.getTime() - finished);
  const delivered: TargetResult = {
    target: name,
    status: 'delivered',
    form,
    attempts,
    ...(lagMs !== undefined ? { lagMs } : {}),
    inDoubt,
  };
  const fields = {
    state: 'delivered' as const,
    form,
    attempts,
    deliveredAt: deliveredAt.toISOString(),
    fingerprint: fingerprint(target),
    lastError: '',
    unsureSince: undefined,
    ...(lagMs !== undefined ? { lagMs } : {}),
    ...(result.providerState !== undefined ? { providerState: result.providerState } : {}),
  };
  if (result.note) ctx.log.warn(`target ${name}: delivered, but ${result.note}`);
  for (let tryNo = 1; ; tryNo++) {
    try {
      if (!(await ctx.ledger.writeTarget(ctx.key, claimed, fields))) {
        ctx.log.error(
          `target ${name}: delivered, but its claim was taken over before it could be recorded (the holder was paused beyond its lease); this channel may see it twice`,
        );
      }
      return delivered;
    } catch (err) {
      if (err instanceof StoreRejectedError) {
        // Posted, and the ledger will never take the record: say so; posting again would only duplicate it.
        ctx.log.error(
          `target ${name}: delivered, but ${err.message} (a bug; please report it with this line): its claim stays, and a copy of this message brought back later may post it again`,
        );
        return delivered;
      }
      if (!(err instanceof StoreUnavailableError)) throw err;
      if (tryNo >= 2 || remaining() < recordBudgetMs(ctx.ledgerTimeoutMs)) {
        ctx.log.warn(`target ${name}: delivered, but ${err.message}; the next round records it`);
        return {
          target: name,
          status: 'retry-later',
          error: err.message,
          waitMs: 1000 * retryDelaySeconds(ctx.policy, { round: 1, random: ctx.random() }),
          sent: { target: name, claimId: claimed.claimId!, form, at: deliveredAt.toISOString() },
        };
      }
    }
  }
}

/** Not delivered: given up for good, or pending until the time the schedule gives. */
export async function recordFailure(
  target: Target,
  claimed: TargetState,
  failure: SendFailure,
  form: Form,
  attempts: number,
  ctx: DeliveryContext,
): Promise<TargetResult> {
  const name = target.name;
  const decision = decideAfterFailure(failure.failure, form);
  const kept = {
    attempts,
    lastError: capped(failure.detail),
    fingerprint: fingerprint(target),
    ...failureState(claimed, failure),
  };
  if (decision.kind === 'give-up' || (decision.kind === 'retry-minimal' && form === 'minimal')) {
    await ctx.ledger.writeTarget(ctx.key, claimed, { state: 'failed', failure: 'permanent', ...kept });
    ctx.log.error(
      `target ${name}: permanent failure, not retried: ${failure.detail} (check ${target.provider.describe(target.settings)}; 'redeliver' sends it again once fixed)`,
    );
    return { target: name, status: 'failed', error: failure.detail };
  }
  const waitMs =
    1000 *
    retryDelaySeconds(ctx.policy, {
      round: Math.max(1, attempts),
      random: ctx.random(),
      ...(failure.retryAfterSeconds !== undefined ? { retryAfterSeconds: failure.retryAfterSeconds } : {}),
    });
  if (failure.retryAfterSeconds !== undefined) ctx.cooldowns.set(name, waitMs);
  await ctx.ledger.writeTarget(ctx.key, claimed, { state: 'pending', waitMs, ...kept });
  // No answer to a post that was sent: the channel may have taken it, and the next try may show it twice.
  const doubt = !failure.mayHaveArrived
    ? ''
    : target.provider.liveMessage
      ? ' (no answer to a post that was sent: the next try looks for it first where the channel can be searched, or says it may show twice)'
      : ' (no answer to a post that was sent: it may have arrived, so this channel may see it twice)';
  ctx.log.warn(`target ${name}: ${failure.detail}; next try in ${Math.round(waitMs / 1000)}s${doubt}`);
  return { target: name, status: 'retry-later', error: failure.detail, waitMs };
}

/** What a failed attempt leaves for the next one: what the provider learnt, and whether a post is in doubt. */
function failureState(claimed: TargetState, failure: SendFailure): Partial<TargetState> {
  return {
    ...(failure.providerState !== undefined ? { providerState: failure.providerState } : {}),
    unsureSince: claimed.unsureSince ?? (failure.mayHaveArrived ? claimed.timestampMs : undefined),
  };
}

/** Marks a target delivered from a note (a post the last round made but could not record). */
export async function recordSentNote(ledger: Ledger, key: string, row: TargetState, note: SentNote): Promise<boolean> {
  if (row.state !== 'claimed' || row.claimId !== note.claimId) return false;
  return !!(await ledger.writeTarget(key, row, {
    state: 'delivered',
    form: note.form,
    deliveredAt: note.at,
    lastError: '',
  }));
}
