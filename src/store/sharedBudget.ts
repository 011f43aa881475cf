// The app's budgets, shared by every instance: ARM's reads per subscription and each channel's pace are
// one token bucket each, kept in a row of the ledger's table (partition `_budgets.<queue>`: the instances
// of one app are those that take its messages). An instance leases slots from the row by a conditional
// write; takers that wait together on one instance share one lease, and a lease also takes what the
// instance took in the last second (BUDGET_POOL_SECONDS), so that the next takers need no write: a burst
// costs one write for up to BUDGET_LEASE_MAX slots. A slot leased ahead that passes unused is spent. Slots are wall-clock times that travel with their
// message (core/tokenBucket.ts, slotWait), so one timeline serves the whole app in the order takers came.
// When the row cannot be written (Table storage down, or lost to other writers for BUDGET_CONTENTION_MS),
// the instance keeps to its safe share of the rate (1/MAX_INSTANCE_COUNT) on a local bucket for
// BUDGET_FALLBACK_MS, then tries the row again: slower, never stopped.
import {
  BUDGET_FALLBACK_MS,
  BUDGET_LEASE_MAX,
  BUDGET_CONTENTION_MS,
  BUDGET_POOL_SECONDS,
  BUDGET_POOL_STALE_MS,
} from '../core/schedule';
import { SLOT_TOLERANCE_MS, takeSlots, TokenBuckets, type BucketState, type Rate } from '../core/tokenBucket';
import type { EntityStore, StoredEntity } from './entityStore';

/** The budget rows' partition: the instances taking messages from this queue. */
export const budgetPartition = (queueName: string): string => `_budgets.${queueName}`;

/** What a budget row says, as `status` shows it. */
export interface BudgetRow {
  key: string;
  tokens: number;
  atMs: number;
  perSecond: number;
  burst: number;
  /** Slots handed out since the row was made, and the leases that carried them. */
  slots: number;
  leases: number;
  /** The wait of the last slot handed out (ms). */
  lastWaitMs: number;
}

export function readBudgetRow(e: StoredEntity): BudgetRow {
  const n = (v: unknown, d = 0) => (typeof v === 'number' && Number.isFinite(v) ? v : d);
  return {
    key: e.rowKey,
    tokens: n(e.tokens),
    atMs: n(e.atMs),
    perSecond: n(e.perSecond, 1),
    burst: n(e.burst, 1),
    slots: n(e.slots),
    leases: n(e.leases),
    lastWaitMs: n(e.lastWaitMs),
  };
}

interface Waiter {
  resolve(waitMs: number): void;
}

interface KeyState {
  waiters: Waiter[];
  leasing: boolean;
  /** Slots leased ahead and not yet handed out (wall ms, ascending). */
  pool: number[];
  /** Takes in the current one-second window, and the rate of the last one. */
  windowStart: number;
  windowTakes: number;
  lastRate: number;
  /** The row as this instance last wrote or read it: the next lease tries that ETag first. */
  row?: BudgetRow & { etag: string };
  /** What the far side said is left since the last lease. */
  cap?: number;
  /** Until when a 429's Retry-After holds the app back (wall ms): written into the row at the next lease. */
  refusedUntil?: number;
}

type BudgetEvent = 'lease' | 'conflict' | 'fallback' | 'unused';

export interface SharedBudgetOptions {
  queueName: string;
  /** What the row keys start with (`arm.`, `pace.`): budgets of different kinds never share a row. */
  prefix: string;
  /** The app's rate for keys whose takes name none (ARM reads). */
  rate?: Rate;
  maxInstances: number;
  now: () => number;
  monotonic: () => number;
  /**
   * Counts what happened: a lease written, an ETag conflict, a fallback to the local share, slots leased
   * ahead that passed unused.
   */
  onLease?: (event: BudgetEvent, slots: number) => void;
}

export class SharedBudget {
  private readonly keys = new Map<string, KeyState>();
  private readonly partition: string;
  /** The safe local share, while the row cannot be reached. */
  private readonly local: TokenBuckets;
  private fallbackUntil = 0;

  constructor(
    private readonly store: EntityStore,
    private readonly options: SharedBudgetOptions,
  ) {
    this.partition = budgetPartition(options.queueName);
    this.local = new TokenBuckets(options.rate, { instances: () => options.maxInstances });
  }

  private state(key: string): KeyState {
    key = this.options.prefix + key;
    let s = this.keys.get(key);
    if (!s)
      this.keys.set(key, (s = { waiters: [], leasing: false, pool: [], windowStart: 0, windowTakes: 0, lastRate: 0 }));
    return s;
  }

  /** The ms until this taker's slot (0: go now), already paid for in the app's bucket. */
  take(key: string, _nowMs?: number, rate: Rate | undefined = this.options.rate): Promise<number> {
    if (!rate) throw new Error(`no rate for ${key}`);
    if (this.options.monotonic() < this.fallbackUntil)
      return Promise.resolve(this.local.take(key, this.options.monotonic(), rate));
    const s = this.state(key);
    const now = this.options.now();
    if (now - s.windowStart >= 1000) {
      s.lastRate = s.windowStart ? (s.windowTakes * 1000) / (now - s.windowStart) : 0;
      s.windowStart = now;
      s.windowTakes = 0;
    }
    s.windowTakes++;
    const pooled = this.fromPool(s, now);
    if (pooled !== undefined) return Promise.resolve(pooled);
    const waiting = new Promise<number>((resolve) => s.waiters.push({ resolve }));
    if (!s.leasing) void this.serve(key, s, rate);
    return waiting;
  }

  /** A token only if one is there now, app-wide: no slot, no debt (a running message tried again at the next poll). */
  async tryNow(key: string, _nowMs?: number, rate: Rate | undefined = this.options.rate): Promise<boolean> {
    if (!rate) throw new Error(`no rate for ${key}`);
    const mono = this.options.monotonic();
    if (mono < this.fallbackUntil) return this.local.tryNow(key, mono, rate);
    const s = this.state(key);
    const now = this.options.now();
    const pooled = this.fromPool(s, now);
    if (pooled !== undefined) {
      if (pooled <= SLOT_TOLERANCE_MS) return true;
      s.pool.unshift(now + pooled);
      return false;
    }
    try {
      const slots = await this.lease(this.options.prefix + key, s, rate, 1, true);
      if (slots) return slots.length > 0;
    } catch {
      /* out of reach: below */
    }
    this.fallbackUntil = this.options.monotonic() + BUDGET_FALLBACK_MS;
    this.options.onLease?.('fallback', 1);
    return this.local.tryNow(key, this.options.monotonic(), rate);
  }

  /** A slot leased ahead, if one is left; slots whose time passed unused are dropped (their tokens spent). */
  private fromPool(s: KeyState, now: number): number | undefined {
    let stale = 0;
    while (s.pool.length > 0 && s.pool[0]! < now - BUDGET_POOL_STALE_MS) {
      s.pool.shift();
      stale++;
    }
    if (stale) this.options.onLease?.('unused', stale);
    const slot = s.pool.shift();
    return slot === undefined ? undefined : Math.max(0, slot - now);
  }

  /** What ARM says is left for the whole subscription: the next lease believes no more. */
  observe(key: string, remaining: number | undefined): void {
    if (remaining === undefined || !Number.isFinite(remaining)) return;
    const s = this.state(key);
    s.cap = Math.min(s.cap ?? Infinity, Math.max(0, remaining));
    this.local.observe(key, remaining, this.options.monotonic());
  }

  /** ARM refused (429): the next lease holds every instance back for the Retry-After. */
  refused(key: string, retryAfterSeconds: number): void {
    if (!(retryAfterSeconds > 0)) return;
    const s = this.state(key);
    s.refusedUntil = Math.max(s.refusedUntil ?? 0, this.options.now() + retryAfterSeconds * 1000);
    // Slots leased ahead would read before the Retry-After has passed: given up.
    if (s.pool.length) this.options.onLease?.('unused', s.pool.length);
    s.pool = [];
    this.local.refused(key, retryAfterSeconds, this.options.monotonic());
  }

  private async serve(key: string, s: KeyState, rate: Rate): Promise<void> {
    s.leasing = true;
    try {
      while (s.waiters.length > 0) {
        const batch = s.waiters.splice(0, BUDGET_LEASE_MAX);
        // What this instance expects to take within BUDGET_POOL_SECONDS, so that the next takers need no write.
        const ahead = Math.ceil(s.lastRate * BUDGET_POOL_SECONDS);
        const count = Math.min(BUDGET_LEASE_MAX, Math.max(batch.length, ahead));
        let slots: number[] | undefined;
        try {
          slots = await this.lease(this.options.prefix + key, s, rate, count);
        } catch {
          slots = undefined;
        }
        const now = this.options.now();
        if (slots) {
          batch.forEach((w, i) => w.resolve(Math.max(0, slots[i]! - now)));
          // Slots leased ahead that fall within a Retry-After heard meanwhile are given up.
          const ahead = slots.slice(batch.length);
          const held = ahead.filter((t) => !s.refusedUntil || t >= s.refusedUntil);
          if (held.length < ahead.length) this.options.onLease?.('unused', ahead.length - held.length);
          s.pool.push(...held);
          continue;
        }
        // The row is out of reach: the safe local share, for a while.
        this.fallbackUntil = this.options.monotonic() + BUDGET_FALLBACK_MS;
        this.options.onLease?.('fallback', batch.length);
        for (const w of batch) w.resolve(this.local.take(key, this.options.monotonic(), rate));
      }
    } finally {
      s.leasing = false;
    }
  }

  /** `count` slots from the row, by a conditional write; undefined when other writers won for BUDGET_CONTENTION_MS. */
  private async lease(
    key: string,
    s: KeyState,
    rate: Rate,
    count: number,
    onlyNow = false,
  ): Promise<number[] | undefined> {
    const giveUpAt = this.options.monotonic() + BUDGET_CONTENTION_MS;
    for (let attempt = 0; this.options.monotonic() < giveUpAt; attempt++) {
      if (!s.row || attempt > 0) {
        const { entities } = await this.store.listPartition(this.partition);
        const e = entities.find((x) => x.rowKey === key);
        s.row = e ? { ...readBudgetRow(e), etag: e.etag } : undefined;
      }
      const now = this.options.now();
      const prev: BucketState | undefined = s.row ? { tokens: s.row.tokens, atMs: s.row.atMs } : undefined;
      // What ARM said meanwhile; a refusal that lands while this write is on its way stays for the next.
      const [seenCap, seenRefusal] = [s.cap, s.refusedUntil];
      let cap = seenCap;
      if (seenRefusal && seenRefusal > now)
        cap = Math.min(cap ?? Infinity, 1 - ((seenRefusal - now) / 1000) * rate.perSecond);
      const taken = takeSlots(prev, rate, count, now, cap);
      // Only a token that is there now: none, and nothing written.
      if (onlyNow && taken.slots[0]! > now) return [];
      const entity = {
        partitionKey: this.partition,
        rowKey: key,
        tokens: taken.state.tokens,
        atMs: taken.state.atMs,
        perSecond: rate.perSecond,
        burst: rate.burst,
        slots: (s.row?.slots ?? 0) + count,
        leases: (s.row?.leases ?? 0) + 1,
        lastWaitMs: Math.round(taken.slots.at(-1)! - now),
      };
      const written = s.row
        ? await this.store.replace(entity, s.row.etag)
        : (await this.store.insertAll([entity]))
          ? { etag: undefined }
          : undefined;
      if (written) {
        s.row = written.etag
          ? { ...readBudgetRow({ ...entity, etag: '', timestampMs: 0 }), etag: written.etag }
          : undefined;
        if (s.cap === seenCap) s.cap = undefined;
        if (s.refusedUntil === seenRefusal) s.refusedUntil = undefined;
        this.options.onLease?.('lease', count);
        return taken.slots;
      }
      this.options.onLease?.('conflict', count);
      s.row = undefined;
      // Another instance wrote first: step aside a moment (jittered, growing), so that writers spread out.
      await new Promise((r) => setTimeout(r, Math.min(250, (10 + 40 * Math.random()) * (attempt + 1))));
    }
    return undefined;
  }
}
