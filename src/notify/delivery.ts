// Delivering one final result to one target, for every provider alike: claim the target in the ledger,
// send (the full payload, then the minimal one if the channel refused it), record what happened. Nothing
// here waits: a transient failure releases the claim with a time before which the target is left alone
// (backoff or Retry-After, decided in core/schedule.ts), and the caller re-enqueues the message for then.
//
// No second post without a crash: a claim lasts longer than everything one holder can do under it (two
// sends, each with its timeout, and the ledger write after them), the holder checks its own remaining
// time before every send, and leases are judged on the Table service's clock. Only a holder that dies
// with a post in flight (or a post without an answer) leaves the target "unsure"; after its lease another
// delivery posts again — or, for a provider with a live message, first looks for that post and adopts it.
import type { CommandReport } from '../core/report';
import { decideAfterFailure, retryDelaySeconds, type RetryPolicy } from '../core/schedule';
import type { SentNote } from '../core/message';
import type { Log } from '../log';
import { StoreRejectedError, StoreUnavailableError } from '../store/entityStore';
import { readiness, type Ledger, type TargetState } from '../store/ledger';
import { fingerprint, renderOptions, wants, type Form, type Pace, type SendResult, type Target } from './provider';

export type TargetResult =
  | { target: string; status: 'delivered'; form: Form; attempts: number; lagMs?: number; inDoubt: boolean }
  | { target: string; status: 'skipped'; why: 'not-wanted' | 'already-delivered' | 'already-failed' }
  | { target: string; status: 'failed'; error: string }
  /** Not yet: try again in `waitMs`. `sent`: it was posted, but the ledger could not record it. */
  | { target: string; status: 'retry-later'; error: string; waitMs: number; sent?: SentNote };

export interface DeliveryContext {
  ledger: Ledger;
  key: string;
  armEndpoint: string;
  sendTimeoutMs: number;
  /** Bound of one ledger call (each write after a post gets two tries). */
  ledgerTimeoutMs: number;
  policy: RetryPolicy;
  cooldowns: Cooldowns;
  pacer: Pacer;
  log: Log;
  now: () => number;
  monotonic: () => number;
  random: () => number;
  /** Targets that ran out of delivery time get another chance (a message came back: redrive, a new copy). */
  retryExpired: boolean;
}

const MARGIN_MS = 3000;

/** The claim covers two sends, two tries of the ledger write after them, and a margin. */
export function claimLeaseMs(target: Target, sendTimeoutMs: number, ledgerTimeoutMs: number): number {
  return 2 * target.provider.maxSendMs(sendTimeoutMs) + 2 * ledgerTimeoutMs + 2 * MARGIN_MS;
}

/**
 * Per-process memory of channels that asked us to wait (429 + Retry-After): every command bound for that
 * channel waits too, instead of hammering it (Slack disables apps that keep sending while limited).
 */
export class Cooldowns {
  private readonly until = new Map<string, number>();
  constructor(private readonly monotonic: () => number) {}
  set(target: string, waitMs: number): void {
    const end = this.monotonic() + waitMs;
    if ((this.until.get(target) ?? 0) < end) this.until.set(target, end);
  }
  remainingMs(target: string): number {
    const end = this.until.get(target);
    if (end === undefined) return 0;
    const left = end - this.monotonic();
    if (left <= 0) this.until.delete(target);
    return Math.max(0, left);
  }
}

/**
 * Per-process spacing of sends to targets with a pace (a burst of results bound for one channel): within
 * the burst a send goes at once; beyond it, the delivery is deferred to a slot reserved for that command
 * and target, so that the burst drains at the channel's rate instead of meeting its 429s. A reservation
 * not used within a minute of its slot is dropped.
 */
export class Pacer {
  private readonly buckets = new Map<
    string,
    { tokens: number; at: number; nextSlot: number; reserved: Map<string, number> }
  >();
  constructor(private readonly monotonic: () => number) {}

  /** 0: send now; otherwise the ms to wait, with a slot held for `who` at that time. */
  take(target: string, pace: Pace, who: string): number {
    const now = this.monotonic();
    const interval = 1000 / pace.perSecond;
    const b = this.buckets.get(target) ?? {
      tokens: pace.burst,
      at: now,
      nextSlot: now,
      reserved: new Map<string, number>(),
    };
    this.buckets.set(target, b);
    b.tokens = Math.min(pace.burst, b.tokens + ((now - b.at) / 1000) * pace.perSecond);
    b.at = now;
    for (const [k, slot] of b.reserved) if (slot < now - 60_000) b.reserved.delete(k);
    const mine = b.reserved.get(who);
    if (mine !== undefined) {
      if (mine <= now + 250) {
        b.reserved.delete(who);
        return 0;
      }
      return mine - now;
    }
    if (b.tokens >= 1 && b.reserved.size === 0) {
      b.tokens -= 1;
      return 0;
    }
    // Behind the others already waiting: the first slot after theirs, one interval apart.
    const slot = Math.max(now + interval, b.nextSlot + interval);
    b.nextSlot = slot;
    b.tokens = Math.max(0, b.tokens - 1);
    b.reserved.set(who, slot);
    return slot - now;
  }
}

/** Why a failed target may be tried again: its configuration changed, or it ran out of time and a message came back. */
function revivable(row: TargetState, target: Target, retryExpired: boolean): boolean {
  if (row.failure === 'expired') return retryExpired;
  return row.fingerprint !== undefined && row.fingerprint !== fingerprint(target);
}

function capped(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').slice(0, 500);
}

export async function deliverTarget(
  target: Target,
  row: TargetState,
  serverNow: number,
  report: CommandReport,
  ctx: DeliveryContext,
): Promise<TargetResult> {
  const name = target.name;
  const state = readiness(row, serverNow, ctx.now());
  if (state.kind === 'done') return { target: name, status: 'skipped', why: 'already-delivered' };
  if (state.kind === 'failed' && !revivable(row, target, ctx.retryExpired))
    return { target: name, status: 'skipped', why: 'already-failed' };
  if (state.kind === 'busy')
    return {
      target: name,
      status: 'retry-later',
      error: `another delivery holds this target for ${Math.ceil(state.waitMs / 1000)}s`,
      waitMs: state.waitMs + 1000,
    };
  if (state.kind === 'waiting')
    return { target: name, status: 'retry-later', error: row.lastError ?? 'waiting', waitMs: state.waitMs };
  const inDoubt = state.kind === 'ready' && state.inDoubt;

  // A live message already posted is always finished, even if the target no longer wants this outcome.
  if (!wants(target, report.outcome) && !(target.provider.liveMessage && row.providerState)) {
    await ctx.ledger.writeTarget(ctx.key, row, { state: 'skipped', fingerprint: fingerprint(target) });
    return { target: name, status: 'skipped', why: 'not-wanted' };
  }
  const cooldown = ctx.cooldowns.remainingMs(name);
  if (cooldown > 0)
    return {
      target: name,
      status: 'retry-later',
      error: 'the channel asked us to wait (Retry-After)',
      waitMs: cooldown,
    };
  const paced = target.provider.pace ? ctx.pacer.take(name, target.provider.pace, ctx.key) : 0;
  if (paced > 0)
    return { target: name, status: 'retry-later', error: 'paced: a burst of messages for this channel', waitMs: paced };

  const leaseMs = claimLeaseMs(target, ctx.sendTimeoutMs, ctx.ledgerTimeoutMs);
  const started = ctx.monotonic();
  const claimed = await ctx.ledger.claim(ctx.key, row, leaseMs, unsureSinceOf(row, inDoubt));
  if (!claimed)
    return { target: name, status: 'retry-later', error: 'another delivery claimed this target first', waitMs: 1000 };
  if (inDoubt) warnInDoubt(target, ctx.log);
  const remaining = () => leaseMs - (ctx.monotonic() - started);
  const sendBudget = target.provider.maxSendMs(ctx.sendTimeoutMs) + 2 * ctx.ledgerTimeoutMs + MARGIN_MS;
  const options = renderOptions(target, ctx.armEndpoint);

  let form: Form = 'full';
  let result: SendResult | undefined;
  let sends = 0;
  while (remaining() > sendBudget) {
    sends++;
    result = await target.provider.send(
      target.settings,
      target.provider.render(report, options, form),
      sendContext(ctx, claimed, result),
    );
    if (result.ok) break;
    const next = decideAfterFailure(result.failure, form);
    if (next.kind !== 'retry-minimal') break;
    ctx.log.warn(`target ${name}: ${result.detail}; trying the minimal message (no logs, command or context)`);
    form = 'minimal';
  }
  const attempts = row.attempts + sends;

  if (!result) {
    // Not enough of the claim left to send safely (a slow ledger): give it back untouched.
    await ctx.ledger.writeTarget(ctx.key, claimed, { state: 'pending', waitMs: 0 });
    return { target: name, status: 'retry-later', error: 'the claim ran short before sending', waitMs: 1000 };
  }

  if (result.ok) {
    const deliveredAt = new Date(ctx.now());
    const finished = report.finishedAt ? Date.parse(report.finishedAt) : Number.NaN;
    const lagMs = Number.isNaN(finished) ? undefined : Math.max(0, deliveredAt.getTime() - finished);
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
    for (let tryNo = 1; tryNo <= 2; tryNo++) {
      try {
        const written = await ctx.ledger.writeTarget(ctx.key, claimed, fields);
        if (!written) {
          ctx.log.error(
            `target ${name}: delivered, but its claim was taken over before it could be recorded (the holder was paused beyond its lease); this channel may see it twice`,
          );
        }
        return {
          target: name,
          status: 'delivered',
          form,
          attempts,
          ...(lagMs !== undefined ? { lagMs } : {}),
          inDoubt,
        };
      } catch (err) {
        if (err instanceof StoreRejectedError) {
          // Posted, and the ledger will never take the record: say so; posting again would only duplicate it.
          ctx.log.error(
            `target ${name}: delivered, but ${err.message} (a bug; please report it with this line): its claim stays, and a copy of this message brought back later may post it again`,
          );
          return {
            target: name,
            status: 'delivered',
            form,
            attempts,
            ...(lagMs !== undefined ? { lagMs } : {}),
            inDoubt,
          };
        }
        if (!(err instanceof StoreUnavailableError)) throw err;
        if (tryNo === 2 || remaining() < ctx.ledgerTimeoutMs + MARGIN_MS) {
          // Posted, not recorded: the message carries a note so that the next round records it, never re-posts.
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

  const failure = result as Extract<SendResult, { ok: false }>;
  const decision = decideAfterFailure(failure.failure, form);
  const kept = failureState(claimed, failure);
  if (decision.kind === 'give-up' || (decision.kind === 'retry-minimal' && form === 'minimal')) {
    await ctx.ledger.writeTarget(ctx.key, claimed, {
      state: 'failed',
      failure: 'permanent',
      attempts,
      lastError: capped(failure.detail),
      fingerprint: fingerprint(target),
      ...kept,
    });
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
  await ctx.ledger.writeTarget(ctx.key, claimed, {
    state: 'pending',
    waitMs,
    attempts,
    lastError: capped(failure.detail),
    fingerprint: fingerprint(target),
    ...kept,
  });
  // No answer to a post that was sent: the channel may have taken it, and the next try may show it twice.
  const doubt = !failure.mayHaveArrived
    ? ''
    : target.provider.liveMessage
      ? ' (no answer to a post that was sent: the next try looks for it in the channel first)'
      : ' (no answer to a post that was sent: it may have arrived, so this channel may see it twice)';
  ctx.log.warn(`target ${name}: ${failure.detail}; next try in ${Math.round(waitMs / 1000)}s${doubt}`);
  return { target: name, status: 'retry-later', error: failure.detail, waitMs };
}

/** Where the next attempt starts being unsure: a holder that died keeps (or starts) the doubt. */
function unsureSinceOf(row: TargetState, inDoubt: boolean): number | undefined {
  return row.unsureSince ?? (inDoubt ? row.timestampMs : undefined);
}

function warnInDoubt(target: Target, log: Log): void {
  log.warn(
    target.provider.liveMessage
      ? `target ${target.name}: the last delivery attempt ended without a record (its worker stopped); looking for its message in the channel before posting`
      : `target ${target.name}: the last delivery attempt ended without a record (its worker stopped); posting again, so this channel may see it twice`,
  );
}

/** What a send needs from the ledger; a second send under the same claim sees what the first one learnt. */
function sendContext(ctx: DeliveryContext, claimed: TargetState, previous: SendResult | undefined) {
  const providerState = previous?.providerState ?? claimed.providerState;
  return {
    timeoutMs: ctx.sendTimeoutMs,
    ...(providerState ? { providerState } : {}),
    ...(claimed.unsureSince !== undefined ? { unsureSinceMs: claimed.unsureSince } : {}),
  };
}

/** What a failed attempt leaves for the next one: what the provider learnt, and whether a post is in doubt. */
function failureState(claimed: TargetState, failure: Extract<SendResult, { ok: false }>): Partial<TargetState> {
  return {
    ...(failure.providerState !== undefined ? { providerState: failure.providerState } : {}),
    unsureSince: claimed.unsureSince ?? (failure.mayHaveArrived ? claimed.timestampMs : undefined),
  };
}

/**
 * The running message of a target with a live message: claimed and sent like a result, then handed back
 * as pending (with where the message is), so that the result later updates it. Never delays the result:
 * a failure is left for the final delivery (or the next poll) to retry. `settled`: nothing more to do.
 */
export async function deliverRunning(
  target: Target,
  row: TargetState,
  serverNow: number,
  report: CommandReport,
  ctx: DeliveryContext,
): Promise<{ settled: boolean; posted: boolean; error?: string }> {
  const name = target.name;
  if (!wants(target, report.outcome)) return { settled: true, posted: false };
  const state = readiness(row, serverNow, ctx.now());
  if (state.kind === 'done' || state.kind === 'failed') return { settled: true, posted: false };
  if (state.kind !== 'ready') return { settled: false, posted: false, error: 'the target is busy or waiting' };
  if (ctx.cooldowns.remainingMs(name) > 0)
    return { settled: false, posted: false, error: 'the channel asked us to wait (Retry-After)' };
  if (target.provider.pace && ctx.pacer.take(name, target.provider.pace, ctx.key) > 0)
    return { settled: false, posted: false, error: 'paced' };

  const leaseMs = claimLeaseMs(target, ctx.sendTimeoutMs, ctx.ledgerTimeoutMs);
  const claimed = await ctx.ledger.claim(ctx.key, row, leaseMs, unsureSinceOf(row, state.inDoubt));
  if (!claimed) return { settled: false, posted: false, error: 'another delivery claimed this target first' };
  if (state.inDoubt) warnInDoubt(target, ctx.log);
  const result = await target.provider.send(
    target.settings,
    target.provider.render(report, renderOptions(target, ctx.armEndpoint), 'full'),
    sendContext(ctx, claimed, undefined),
  );
  if (result.ok) {
    await ctx.ledger.writeTarget(ctx.key, claimed, {
      state: 'pending',
      waitMs: 0,
      unsureSince: undefined,
      lastError: '',
      ...(result.providerState !== undefined ? { providerState: result.providerState } : {}),
    });
    if (result.note) ctx.log.warn(`target ${name}: running message posted, but ${result.note}`);
    return { settled: true, posted: true };
  }
  if (result.retryAfterSeconds !== undefined)
    ctx.cooldowns.set(name, 1000 * Math.min(result.retryAfterSeconds, ctx.policy.maxDelaySeconds));
  await ctx.ledger.writeTarget(ctx.key, claimed, {
    state: 'pending',
    waitMs: 0,
    lastError: capped(`running message: ${result.detail}`),
    ...failureState(claimed, result),
  });
  const doubt = result.mayHaveArrived
    ? ' (no answer to a post that was sent: the next try looks for it in the channel first)'
    : '';
  ctx.log.warn(`target ${name}: the running message was not posted: ${result.detail}${doubt}`);
  return { settled: result.failure !== 'transient', posted: false, error: result.detail };
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
