// An instance's safe share of an app-wide rate, for when the shared budget (store/sharedBudget.ts) cannot
// be reached: one of the most instances infra allows (MAX_INSTANCE_COUNT) — slower, never stopped, never
// more than the app's rate. Pure.
import type { Rate } from './tokenBucket';

/**
 * One of `instances` equal parts of `rate`. The burst never drops below one token, so a lone message on any
 * instance still goes at once (the far side's own burst absorbs up to one token per instance).
 */
export function shareOf(rate: Rate, instances: number): Rate {
  const n = Math.max(1, Math.floor(instances) || 1);
  return { perSecond: rate.perSecond / n, burst: Math.max(1, rate.burst / n) };
}
