// Retries in one place, for every provider: 429 waits out Retry-After (bounded), 5xx/timeouts/network
// back off, other 4xx are final. Each target is claimed in the ledger first, so a retry of the whole
// message never posts again to a target that already has the message.
import type { CommandReport } from '../core/report';
import type { Log } from '../log';
import { DeliveryError } from './errors';
import { commandKey, type DeliveryLedger } from './ledger';
import type { Notifier } from './notifier';

export interface DeliveryPolicy {
  maxAttempts: number;
  /** Longest Retry-After waited out inside one invocation; longer ones are left to a later retry. */
  maxRetryAfterSeconds: number;
  backoffSeconds: readonly number[];
}

export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = { maxAttempts: 3, maxRetryAfterSeconds: 10, backoffSeconds: [1, 2] };

export type TargetResult =
  | { target: string; status: 'delivered'; attempts: number }
  | { target: string; status: 'skipped'; why: 'not-wanted' | 'already-delivered' | 'already-failed' }
  | { target: string; status: 'failed'; attempts: number; error: string }
  /** `notBeforeMs`: another delivery holds the target, or the webhook asked us to wait that long. */
  | { target: string; status: 'retry-later'; error: string; notBeforeMs?: number };

export interface DeliveryReport {
  results: TargetResult[];
  /** Some target failed transiently: the caller throws so the host retries (dequeue count, poison). */
  retryLater: boolean;
  /** Every unfinished target must wait until then: the caller re-enqueues with that delay instead. */
  deferUntilMs?: number;
}


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long a claim protects a target: every attempt timing out plus every wait. */
export function claimLeaseMs(policy: DeliveryPolicy, timeoutMs: number): number {
  const waits = policy.backoffSeconds.reduce((a, b) => a + b, 0) + policy.maxRetryAfterSeconds;
  return policy.maxAttempts * timeoutMs + waits * 1000 + 5000;
}

async function sendWithRetries(
  notifier: Notifier,
  payload: unknown,
  policy: DeliveryPolicy,
  log: Log,
): Promise<{ ok: true; attempts: number } | { ok: false; attempts: number; error: DeliveryError }> {
  for (let attempt = 1; ; attempt++) {
    try {
      await notifier.send(payload);
      return { ok: true, attempts: attempt };
    } catch (err) {
      const error = err instanceof DeliveryError ? err : new DeliveryError(`unexpected error: ${(err as Error).message}`, true);
      const last = attempt >= policy.maxAttempts;
      if (!error.transient || last) return { ok: false, attempts: attempt, error };
      let waitSeconds = policy.backoffSeconds[Math.min(attempt - 1, policy.backoffSeconds.length - 1)] ?? 1;
      if (error.status === 429) {
        const after = error.retryAfterSeconds ?? 1;
        if (after > policy.maxRetryAfterSeconds) return { ok: false, attempts: attempt, error };
        waitSeconds = after;
      }
      log.warn(`target ${notifier.target.name}: ${error.message}; attempt ${attempt} of ${policy.maxAttempts}, next in ${waitSeconds}s`);
      await sleep(waitSeconds * 1000);
    }
  }
}

/**
 * The post is out: from here until this write lands, a dying worker means a second post later. Keep
 * trying for a while; if the ledger stays unreachable, say so but still report success, because failing
 * the message now would make the host retry it and post again once the claim's lease runs out.
 */
async function recordDelivered(ledger: DeliveryLedger, key: string, target: string, log: Log, now: () => number): Promise<void> {
  const started = now();
  for (let attempt = 1; ; attempt++) {
    try {
      await ledger.markDelivered(key, target);
      const took = now() - started;
      if (took > 1000) log.warn(`target ${target}: recording the delivery took ${took} ms`);
      return;
    } catch (err) {
      if (attempt >= 4) {
        log.error(`target ${target}: delivered, but the delivery could not be recorded (${(err as Error).message}); it may be posted again if this message is retried`);
        return;
      }
      await sleep(500 * 2 ** attempt);
    }
  }
}

async function deliverOne(
  notifier: Notifier,
  report: CommandReport,
  ledger: DeliveryLedger,
  policy: DeliveryPolicy,
  leaseMs: number,
  log: Log,
  now: () => number,
): Promise<TargetResult> {
  const target = notifier.target.name;
  if (!notifier.wants(report)) return { target, status: 'skipped', why: 'not-wanted' };
  const key = commandKey(report.clusterResourceId, report.commandId);
  const claim = await ledger.claim(key, target, leaseMs);
  if (claim.kind === 'done') return { target, status: 'skipped', why: claim.state === 'delivered' ? 'already-delivered' : 'already-failed' };
  if (claim.kind === 'busy') {
    return {
      target,
      status: 'retry-later',
      error: `another delivery holds this target for ${Math.ceil((claim.until - now()) / 1000)}s`,
      notBeforeMs: claim.until,
    };
  }
  const payload = notifier.render(report);
  const sent = await sendWithRetries(notifier, payload, policy, log);
  if (sent.ok) {
    await recordDelivered(ledger, key, target, log, now);
    log.info(`target ${target}: delivered (${report.outcome}) after ${sent.attempts} attempt(s)`);
    return { target, status: 'delivered', attempts: sent.attempts };
  }
  if (!sent.error.transient) {
    await ledger.markFailed(key, target, sent.error.message);
    log.error(`target ${target}: permanent failure, not retried: ${sent.error.message} (check the URL in ${notifier.target.urlSetting})`);
    return { target, status: 'failed', attempts: sent.attempts, error: sent.error.message };
  }
  const notBefore = sent.error.status === 429 && sent.error.retryAfterSeconds ? now() + sent.error.retryAfterSeconds * 1000 : undefined;
  await ledger.release(key, target, claim.etag, notBefore);
  log.warn(`target ${target}: ${sent.error.message}; will retry later`);
  return { target, status: 'retry-later', error: sent.error.message, ...(notBefore !== undefined ? { notBeforeMs: notBefore } : {}) };
}

export async function deliver(
  report: CommandReport,
  notifiers: Notifier[],
  ledger: DeliveryLedger,
  options: { policy?: DeliveryPolicy; timeoutMs: number; log: Log; now?: () => number },
): Promise<DeliveryReport> {
  const policy = options.policy ?? DEFAULT_DELIVERY_POLICY;
  const leaseMs = claimLeaseMs(policy, options.timeoutMs);
  const now = options.now ?? Date.now;
  const settled = await Promise.allSettled(notifiers.map((n) => deliverOne(n, report, ledger, policy, leaseMs, options.log, now)));
  const results = settled.map((s, i): TargetResult =>
    s.status === 'fulfilled'
      ? s.value
      : { target: notifiers[i]!.target.name, status: 'retry-later', error: `delivery bookkeeping failed: ${(s.reason as Error).message}` },
  );
  const pending = results.filter((r): r is Extract<TargetResult, { status: 'retry-later' }> => r.status === 'retry-later');
  if (pending.length > 0 && pending.every((r) => r.notBeforeMs !== undefined)) {
    return { results, retryLater: false, deferUntilMs: Math.max(...pending.map((r) => r.notBeforeMs!)) };
  }
  return { results, retryLater: pending.length > 0 };
}
