// The one token bucket this app keeps its rates with: ARM's reads per subscription (a mirror of ARM's own
// throttling) and each channel's pace (Slack: about one message a second). Within the burst a take goes
// at once; beyond it the taker is given a slot of its own, slots 1/rate apart, and the token is owed from
// then on — so a burst spreads itself over time instead of meeting the far side's 429s. A holder (a
// command) that comes back at its slot finds it kept and pays nothing more; a slot not used within five
// minutes is forgotten and its token given back (its holder went elsewhere: another instance, the poison
// queue). Pure: the caller passes a monotonic clock (a wall clock stepping back would stall
// every key). At most MAX_KEYS buckets are kept, least recently used first out: a bucket left alone that
// long has refilled anyway, so forgetting it changes nothing.

export interface Rate {
  perSecond: number;
  burst: number;
}

interface Bucket {
  /** Below zero: tokens already promised to slots ahead. */
  tokens: number;
  at: number;
  /** Slots held for holders who were asked to come back: holder → time (ms). */
  slots: Map<string, number>;
}

export const MAX_KEYS = 10_000;
/** A holder back this early (queue visibility is whole seconds, timers fire late or early) has its slot. */
const SLOT_TOLERANCE_MS = 250;
/** A slot its holder has not come back for within this long is dropped (a worker busy for minutes is late). */
const SLOT_KEPT_MS = 5 * 60_000;

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  /** `rate`: the rate of every key, unless a take names its own (a channel's pace). */
  constructor(
    readonly rate?: Rate,
    private readonly maxKeys = MAX_KEYS,
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  private bucket(key: string, rate: Rate, nowMs: number): Bucket {
    let b = this.buckets.get(key);
    if (b) {
      // Most recently used last: Map keeps insertion order.
      this.buckets.delete(key);
    } else {
      b = { tokens: rate.burst, at: nowMs, slots: new Map() };
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, b);
    if (nowMs > b.at) {
      b.tokens = Math.min(rate.burst, b.tokens + ((nowMs - b.at) / 1000) * rate.perSecond);
      b.at = nowMs;
    }
    return b;
  }

  /** 0: go now (a token was taken, or the holder's slot has come). Otherwise the ms to wait. */
  take(key: string, nowMs: number, holder?: string, rate: Rate | undefined = this.rate): number {
    if (!rate) throw new Error(`no rate for ${key}`);
    const b = this.bucket(key, rate, nowMs);
    // Slots are handed out in time order (Map keeps it), so the stale ones are at the front; a refund can hand
    // out a slot earlier than one already held, which then goes a little later than five minutes.
    for (const [who, slot] of b.slots) {
      if (slot >= nowMs - SLOT_KEPT_MS) break;
      b.slots.delete(who);
      b.tokens = Math.min(rate.burst, b.tokens + 1);
    }
    const mine = holder === undefined ? undefined : b.slots.get(holder);
    if (mine !== undefined) {
      if (mine > nowMs + SLOT_TOLERANCE_MS) return mine - nowMs;
      b.slots.delete(holder!);
      return 0;
    }
    const waitMs = b.tokens >= 1 ? 0 : ((1 - b.tokens) / rate.perSecond) * 1000;
    b.tokens -= 1;
    if (waitMs > 0 && holder !== undefined) b.slots.set(holder, nowMs + waitMs);
    return waitMs;
  }

  /** What the far side says is left: never believe we have more than that. */
  observe(key: string, remaining: number | undefined, nowMs: number, rate: Rate | undefined = this.rate): void {
    if (!rate || remaining === undefined || !Number.isFinite(remaining)) return;
    const b = this.bucket(key, rate, nowMs);
    b.tokens = Math.min(b.tokens, Math.max(0, remaining));
  }
}
