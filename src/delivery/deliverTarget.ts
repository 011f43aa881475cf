// Delivering one report to one target, for every provider alike: claim the target in the ledger, send (the
// full payload, then the minimal one if the channel refused it), record what happened. One path serves both
// reports a target can get: the final result, and — for a provider with a live message — the message
// posted while the command runs, which is recorded as still pending (with where the message is) so that
// the result later updates it. Nothing here waits: a transient failure releases the claim with a time
// before which the target is left alone (core/schedule.ts decides every such time), and the caller
// re-enqueues the message for then.
//
// No second post without a crash: a claim lasts longer than everything one holder can do under it, the
// holder checks its own remaining time before every send, and leases are judged on the Table service's
// clock. Only a holder that dies with a post in flight (or a post without an answer) leaves the target
// "unsure"; after its lease another delivery posts again — or, for a provider with a live message, first
// looks for that post and adopts it.
import { busyTargetWaitMs, CLAIM_RETRY_MS, claimLeaseMs, decideAfterFailure, sendBudgetMs } from '../core/schedule';
import { slotWait } from '../core/tokenBucket';
import type { Log } from '../log';
import type { Outgoing } from '../notify/notification';
import { readiness } from '../store/ledger';
import type { TargetState } from '../store/ledgerRows';
import type { DeliveryContext, TargetResult } from './context';
import { recordDelivery, recordFailure, recordRunning } from './records';
import {
  fingerprint,
  payloadFor,
  wants,
  type Form,
  type SendContext,
  type SendResult,
  type Target,
} from '../notify/provider';

/** Why a failed target may be tried again: its configuration changed, or it ran out of time and a message came back. */
function revivable(row: TargetState, target: Target, retryExpired: boolean): boolean {
  if (row.failure === 'expired') return retryExpired;
  return row.fingerprint !== undefined && row.fingerprint !== fingerprint(target);
}

/** What the target's row allows now: nothing (done, failed, held, waiting), or a send (in doubt or not). */
function readinessGate(
  target: Target,
  row: TargetState,
  serverNow: number,
  running: boolean,
  ctx: DeliveryContext,
): TargetResult | { ready: true; inDoubt: boolean } {
  const name = target.name;
  const state = readiness(row, serverNow);
  if (state.kind === 'done') return { target: name, status: 'skipped', why: 'already-delivered' };
  if (state.kind === 'failed' && (running || !revivable(row, target, ctx.retryExpired))) {
    return { target: name, status: 'skipped', why: 'already-failed' };
  }
  if (state.kind === 'busy') {
    const error = `another delivery holds this target for ${Math.ceil(state.waitMs / 1000)}s`;
    return { target: name, status: 'retry-later', error, waitMs: busyTargetWaitMs(state.waitMs) };
  }
  if (state.kind === 'waiting') {
    return { target: name, status: 'retry-later', error: row.lastError ?? 'waiting', waitMs: state.waitMs };
  }
  return { ready: true, inDoubt: state.kind === 'ready' && state.inDoubt };
}

/** What the channel allows now: a wait it asked for (Retry-After), or its pace. */
async function rateGate(target: Target, running: boolean, ctx: DeliveryContext): Promise<TargetResult | undefined> {
  const name = target.name;
  const cooldown = ctx.cooldowns.remainingMs(name);
  if (cooldown > 0) {
    const error = 'the channel asked us to wait (Retry-After)';
    return { target: name, status: 'retry-later', error, waitMs: cooldown };
  }
  if (!target.provider.pace) return undefined;
  // A running message goes only if the pace has a token now; otherwise the next poll tries again (no slot
  // is held for it, so polls never pile up debt for messages that may never be needed).
  if (running) {
    if (await ctx.pacer.tryNow(name, ctx.monotonic(), target.provider.pace)) return undefined;
    ctx.onPaced?.(name);
    return { target: name, status: 'retry-later', error: 'paced: a burst of messages for this channel', waitMs: 1000 };
  }
  const now = ctx.now();
  const held = slotWait(ctx.paceSlots?.[name], now);
  const paced = held ?? (await ctx.pacer.take(name, ctx.monotonic(), target.provider.pace));
  if (paced <= 0) return undefined;
  ctx.onPaced?.(name);
  const slotAt = held === undefined ? Math.round(now + paced) : ctx.paceSlots![name]!;
  const error = 'paced: a burst of messages for this channel';
  return { target: name, status: 'retry-later', error, waitMs: paced, slotAt };
}

export async function deliverTarget(
  target: Target,
  row: TargetState,
  serverNow: number,
  outgoing: Outgoing,
  ctx: DeliveryContext,
): Promise<TargetResult> {
  const name = target.name;
  const { report } = outgoing;
  const running = !report.final;
  const gate = readinessGate(target, row, serverNow, running, ctx);
  if (!('ready' in gate)) return gate;
  // Only a live message is posted while the command runs; the result decides the rest.
  if (running && (!target.provider.liveMessage || !wants(target, false))) {
    return { target: name, status: 'skipped', why: 'not-wanted' };
  }
  // A live message already posted is always finished, even if the target no longer wants this outcome; and
  // doctor's test goes to every target asked for, those that post failures only too.
  if (
    !running &&
    !report.everyTarget &&
    !wants(target, report.failure) &&
    !(target.provider.liveMessage && row.providerState)
  ) {
    await ctx.ledger.writeTarget(ctx.key, row, { state: 'skipped', fingerprint: fingerprint(target) });
    return { target: name, status: 'skipped', why: 'not-wanted' };
  }
  const limited = await rateGate(target, running, ctx);
  if (limited) return limited;
  // Before the claim: the identity endpoint's time is not the lease's (a failure is recorded like a send's).
  const token = await appTokenFor(target, ctx);

  const maxSendMs = target.provider.maxSendMs(ctx.sendTimeoutMs);
  const leaseMs = claimLeaseMs(maxSendMs, ctx.ledgerTimeoutMs);
  const started = ctx.monotonic();
  const claimed = await ctx.ledger.claim(
    ctx.key,
    row,
    leaseMs,
    row.unsureSince ?? (gate.inDoubt ? row.timestampMs : undefined),
  );
  if (!claimed) {
    return {
      target: name,
      status: 'retry-later',
      error: 'another delivery claimed this target first',
      waitMs: CLAIM_RETRY_MS,
    };
  }
  if (gate.inDoubt) warnInDoubt(target, ctx.log);
  const remaining = () => leaseMs - (ctx.monotonic() - started);

  const claim = checkpointed(ctx, claimed);
  let form: Form = 'full';
  let result: SendResult | undefined;
  let sends = 0;
  while (remaining() > sendBudgetMs(maxSendMs, ctx.ledgerTimeoutMs)) {
    sends++;
    const payload = payloadFor(target, outgoing, form);
    result =
      typeof token === 'object'
        ? token
        : await target.provider.send(target.settings, payload, sendContext(ctx, claim, result, token));
    // The running message is not worth a second form: the result comes with its own.
    if (result.ok || running || decideAfterFailure(result.failure, form).kind !== 'retry-minimal') break;
    ctx.log.warn(`target ${name}: ${result.detail}; trying the minimal message (no logs, command or context)`);
    form = 'minimal';
  }

  if (!result) {
    // Not enough of the claim left to send safely (a slow ledger): give it back untouched.
    await ctx.ledger.writeTarget(ctx.key, claimed, { state: 'pending', waitMs: 0 });
    return { target: name, status: 'retry-later', error: 'the claim ran short before sending', waitMs: CLAIM_RETRY_MS };
  }
  const held = claim.row;
  if (running) return recordRunning(target, held, result, ctx);
  if (result.ok)
    return recordDelivery(target, held, result, report, form, row.attempts + sends, gate.inDoubt, ctx, remaining);
  return recordFailure(target, held, result, form, row.attempts + sends, ctx);
}

function warnInDoubt(target: Target, log: Log): void {
  log.warn(
    target.provider.liveMessage
      ? `target ${target.name}: the last delivery attempt ended without a record (its worker stopped); going on from what it recorded of its message, and looking for a post it had in flight where the channel allows`
      : `target ${target.name}: the last delivery attempt ended without a record (its worker stopped); posting again, so this channel may see it twice`,
  );
}

/** What a send needs from the ledger; a second send under the same claim sees what the first one learnt. */
function sendContext(
  ctx: DeliveryContext,
  claim: Claim,
  previous: SendResult | undefined,
  appToken: string | undefined,
): SendContext {
  const providerState = previous?.providerState ?? claim.row.providerState;
  return {
    timeoutMs: ctx.sendTimeoutMs,
    ...(providerState ? { providerState } : {}),
    ...(claim.row.unsureSince !== undefined ? { unsureSinceMs: claim.row.unsureSince } : {}),
    ...(appToken !== undefined ? { appToken } : {}),
    record: (state) => claim.record(state),
    // A write, and the read back after a failed one.
    recordMs: 2 * ctx.ledgerTimeoutMs,
  };
}

/**
 * The claimed row as the send's checkpoints leave it: each one is a write under the claim, so the final
 * record goes on from its ETag. A write that fails may still have landed: the row is read back, and kept
 * if the claim is still this one's (else the target is another delivery's now, and the send is told).
 */
interface Claim {
  row: TargetState;
  record(providerState: string): Promise<'recorded' | 'unrecorded' | 'lost'>;
}

function checkpointed(ctx: DeliveryContext, claimed: TargetState): Claim {
  const claim: Claim = {
    row: claimed,
    async record(providerState) {
      const next = await ctx.ledger.writeTarget(ctx.key, claim.row, { providerState }).catch(() => undefined);
      if (next) {
        claim.row = next;
        return 'recorded';
      }
      const now = await ctx.ledger
        .load(ctx.key)
        .then((e) => e.targets.find((t) => t.name === claimed.name))
        .catch(() => undefined);
      if (!now) return 'unrecorded';
      if (now.state !== 'claimed' || now.claimId !== claimed.claimId) return 'lost';
      claim.row = now;
      return now.providerState === providerState ? 'recorded' : 'unrecorded';
    },
  };
  return claim;
}

/**
 * The token a provider declares it needs (its service's audience, fixed in its code), fetched once per attempt
 * before the claim: an identity endpoint that is down is an ordinary transient failure, and nothing is posted
 * without it.
 */
async function appTokenFor(target: Target, ctx: DeliveryContext): Promise<string | undefined | SendResult> {
  const declared = target.provider.appTokenAudience;
  if (declared === undefined) return undefined;
  const audience = typeof declared === 'function' ? declared(target.settings) : declared;
  if (!ctx.appToken)
    return { ok: false, failure: 'permanent', detail: `no app identity to get a token for ${audience}` };
  try {
    return await ctx.appToken(audience);
  } catch (err) {
    const detail = `no token for ${audience} from the app's identity: ${(err as Error).message ?? String(err)}`;
    return { ok: false, failure: 'transient', detail: detail.slice(0, 300) };
  }
}
