// A per-subscription mirror of ARM's read throttling (a token bucket: ARM allows a principal 250 reads
// at once and 25/s after that). Before each read the app takes a token; when none is left it does not
// call ARM at all but defers the poll to a slot of its own, slots spaced 1/rate apart, so a burst of
// commands spreads itself over time instead of collecting 429s. ARM's
// x-ms-ratelimit-remaining-subscription-reads header pulls the mirror down when other instances or tools
// spend the same budget. Pure: the caller passes the clock, a monotonic one (a wall clock stepping back
// would stall every subscription). At most MAX_SUBSCRIPTIONS buckets are kept, least recently used first
// out: a bucket left alone that long has refilled anyway, so forgetting it changes nothing.

export interface ReadBudgetOptions {
  burst: number;
  perSecond: number;
}

interface Bucket {
  tokens: number;
  at: number;
  /** Next free slot for a deferred poll (ms). */
  nextSlot: number;
}

export const MAX_SUBSCRIPTIONS = 10_000;

export class ReadBudget {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly options: ReadBudgetOptions,
    private readonly maxKeys = MAX_SUBSCRIPTIONS,
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  private bucket(key: string, nowMs: number): Bucket {
    let b = this.buckets.get(key);
    if (b) {
      // Most recently used last: Map keeps insertion order.
      this.buckets.delete(key);
    } else {
      b = { tokens: this.options.burst, at: nowMs, nextSlot: 0 };
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, b);
    if (nowMs > b.at) {
      b.tokens = Math.min(this.options.burst, b.tokens + ((nowMs - b.at) / 1000) * this.options.perSecond);
      b.at = nowMs;
    }
    return b;
  }

  /** 0: read now (a token was taken). Otherwise the milliseconds this poll should wait. */
  take(key: string, nowMs: number): number {
    const b = this.bucket(key, nowMs);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    const spacing = 1000 / this.options.perSecond;
    const slot = Math.max(b.nextSlot, nowMs + (1 - b.tokens) * spacing);
    b.nextSlot = slot + spacing;
    return slot - nowMs;
  }

  /** What ARM says is left: never believe we have more than that. */
  observe(key: string, remaining: number | undefined, nowMs: number): void {
    if (remaining === undefined || !Number.isFinite(remaining)) return;
    const b = this.bucket(key, nowMs);
    b.tokens = Math.min(b.tokens, Math.max(0, remaining));
  }
}
