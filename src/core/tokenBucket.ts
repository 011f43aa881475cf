// The one token bucket this app keeps its rates with: ARM's reads per subscription (a mirror of ARM's own
// throttling) and each channel's pace (Slack: about one message a second). A rate is the whole app's: each
// instance keeps its share of it (the rate and burst divided by the instances: shareOf), so
// six instances spend what one would. Within the burst a take goes at once; beyond it the taker is given a
// slot of its own, slots 1/rate apart, and the token is owed from then on — so a burst spreads itself over
// time instead of meeting the far side's 429s. The slot travels with the message (a time, `slotWait`):
// whichever instance the message comes back to, it goes at its slot without paying again, so the first
// refused is the first served and no command loses its place to an instance change. Pure: the caller
// passes a monotonic clock (a wall clock stepping back would stall every key). At most MAX_KEYS buckets
// are kept, least recently used first out: a bucket left alone that long has refilled anyway.

export interface Rate {
  perSecond: number;
  burst: number;
}

/**
 * One of `instances` equal parts of `rate` (the safe local share when the app's shared budget is out of
 * reach). The burst never drops below one token, so a lone message on any instance still goes at once.
 */
export function shareOf(rate: Rate, instances: number): Rate {
  const n = Math.max(1, Math.floor(instances) || 1);
  return { perSecond: rate.perSecond / n, burst: Math.max(1, rate.burst / n) };
}

interface Bucket {
  /** Below zero: tokens already promised to slots ahead. */
  tokens: number;
  at: number;
}

export const MAX_KEYS = 10_000;
/** A message back this early (queue visibility is whole seconds, timers fire late or early) has its slot. */
export const SLOT_TOLERANCE_MS = 250;
/**
 * A slot not used within this long is no slot any more (its message was held up: it queues anew). Short, so
 * that slots a stalled host hands back together add at most this many seconds of the rate to a burst.
 */
const SLOT_KEPT_MS = 5000;
/** No bucket gives a slot further ahead than this; a slot claiming more is not one of ours. */
const SLOT_AHEAD_MAX_MS = 6 * 3600_000;

/**
 * A slot a message carries (a wall-clock time one instance's bucket gave it): 0 when its time has come,
 * the ms left when it is early, undefined when it is no slot (absent, long past, or further ahead than any
 * bucket gives).
 */
export function slotWait(slotAtMs: number | undefined, nowMs: number): number | undefined {
  if (slotAtMs === undefined || !Number.isFinite(slotAtMs)) return undefined;
  if (slotAtMs < nowMs - SLOT_KEPT_MS || slotAtMs > nowMs + SLOT_AHEAD_MAX_MS) return undefined;
  return slotAtMs > nowMs + SLOT_TOLERANCE_MS ? slotAtMs - nowMs : 0;
}

/** A bucket's state as a shared row keeps it: tokens (below zero: owed to slots ahead) at a wall-clock time. */
export interface BucketState {
  tokens: number;
  atMs: number;
}

/**
 * `count` slots from one bucket at `nowMs`: each slot is when its token is there (now, within the burst;
 * 1/rate apart beyond it), paid for at once. `cap`: what the far side says is left (never believe more).
 */
export function takeSlots(
  state: BucketState | undefined,
  rate: Rate,
  count: number,
  nowMs: number,
  cap?: number,
): { slots: number[]; state: BucketState } {
  let tokens = state
    ? Math.min(rate.burst, state.tokens + (Math.max(0, nowMs - state.atMs) / 1000) * rate.perSecond)
    : rate.burst;
  if (cap !== undefined) tokens = Math.min(tokens, cap);
  const slots: number[] = [];
  for (let i = 0; i < count; i++) {
    slots.push(tokens >= 1 ? nowMs : nowMs + ((1 - tokens) / rate.perSecond) * 1000);
    tokens -= 1;
  }
  return { slots, state: { tokens, atMs: Math.max(nowMs, state?.atMs ?? nowMs) } };
}

/** A budget as the pipeline uses it: this instance's buckets, or the app's shared ones (store/sharedBudget.ts). */
export interface Budget {
  /** The ms until this taker's slot (0: go now), already paid for. */
  take(key: string, nowMs: number, rate?: Rate): number | Promise<number>;
  /** Takes a token only if one is there now (no slot, no debt): for what may simply be tried again later. */
  tryNow(key: string, nowMs: number, rate?: Rate): boolean | Promise<boolean>;
  /** What the far side says is left. */
  observe(key: string, remaining: number | undefined, nowMs: number): void;
  /** The far side refused (429, Retry-After). */
  refused(key: string, retryAfterSeconds: number, nowMs: number): void;
}

export interface BucketOptions {
  /** The instances sharing each rate (1 when the app runs alone). */
  instances?: () => number;
  maxKeys?: number;
}

export class TokenBuckets implements Budget {
  private readonly buckets = new Map<string, Bucket>();
  private readonly instances: () => number;
  private readonly maxKeys: number;

  /** `rate`: the whole app's rate of every key, unless a take names its own (a channel's pace). */
  constructor(
    readonly rate?: Rate,
    options: BucketOptions = {},
  ) {
    this.instances = options.instances ?? (() => 1);
    this.maxKeys = options.maxKeys ?? MAX_KEYS;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** This instance's share of `rate` now. */
  share(rate: Rate): Rate {
    return shareOf(rate, this.instances());
  }

  private bucket(key: string, rate: Rate, nowMs: number): Bucket {
    let b = this.buckets.get(key);
    if (b) {
      // Most recently used last: Map keeps insertion order.
      this.buckets.delete(key);
    } else {
      b = { tokens: rate.burst, at: nowMs };
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, b);
    // A share that shrank (an instance joined) caps what is kept at once; debt stays owed.
    if (nowMs > b.at || b.tokens > rate.burst) {
      b.tokens = Math.min(rate.burst, b.tokens + (Math.max(0, nowMs - b.at) / 1000) * rate.perSecond);
      b.at = Math.max(b.at, nowMs);
    }
    return b;
  }

  /** 0: go now (a token was taken). Otherwise the ms until this taker's slot, which is already paid for. */
  take(key: string, nowMs: number, rate: Rate | undefined = this.rate): number {
    if (!rate) throw new Error(`no rate for ${key}`);
    const mine = this.share(rate);
    const b = this.bucket(key, mine, nowMs);
    const waitMs = b.tokens >= 1 ? 0 : ((1 - b.tokens) / mine.perSecond) * 1000;
    b.tokens -= 1;
    return waitMs;
  }

  tryNow(key: string, nowMs: number, rate: Rate | undefined = this.rate): boolean {
    if (!rate) throw new Error(`no rate for ${key}`);
    const b = this.bucket(key, this.share(rate), nowMs);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** What the far side says is left (for the whole app): never believe this instance has more than its share of it. */
  observe(key: string, remaining: number | undefined, nowMs: number, rate: Rate | undefined = this.rate): void {
    if (!rate || remaining === undefined || !Number.isFinite(remaining)) return;
    const n = Math.max(1, this.instances());
    const b = this.bucket(key, this.share(rate), nowMs);
    b.tokens = Math.min(b.tokens, Math.max(0, remaining) / n);
  }

  /** The far side refused (429, Retry-After): nothing more from this instance before then. */
  refused(key: string, retryAfterSeconds: number, nowMs: number, rate: Rate | undefined = this.rate): void {
    if (!rate || !(retryAfterSeconds > 0)) return;
    const mine = this.share(rate);
    const b = this.bucket(key, mine, nowMs);
    b.tokens = Math.min(b.tokens, 1 - retryAfterSeconds * mine.perSecond);
  }
}
