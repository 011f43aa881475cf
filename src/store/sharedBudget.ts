// The app's budgets, shared by every instance: ARM's reads per subscription and each channel's pace are
// one token bucket each, kept in a row of the ledger's table (partition `_budgets.<queue>`: the instances
// of one app are those that take its messages). An instance leases slots from the row by a conditional
// write; takers that wait together on one instance share one lease, so a burst costs one write for up to
// BUDGET_LEASE_MAX slots, and a lone taker one write. Slots are wall-clock times that travel with their
// message (core/tokenBucket.ts, slotWait), so one timeline serves the whole app in the order takers came.
// When the row cannot be written (Table storage down, or lost to other writers BUDGET_LEASE_TRIES times
// in a row), the instance keeps to its safe share of the rate (1/MAX_INSTANCE_COUNT) on a local bucket for
// BUDGET_FALLBACK_MS, then tries the row again: slower, never stopped.
import { BUDGET_FALLBACK_MS, BUDGET_LEASE_MAX, BUDGET_LEASE_TRIES } from '../core/schedule';
import { takeSlots, TokenBuckets, type BucketState, type Rate } from '../core/tokenBucket';
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
  /** The row as this instance last wrote or read it: the next lease tries that ETag first. */
  row?: BudgetRow & { etag: string };
  /** What the far side said is left since the last lease. */
  cap?: number;
  /** Until when a 429's Retry-After holds the app back (wall ms): written into the row at the next lease. */
  refusedUntil?: number;
}

export interface SharedBudgetOptions {
  queueName: string;
  /** What the row keys start with (`arm.`, `pace.`): budgets of different kinds never share a row. */
  prefix: string;
  /** The app's rate for keys whose takes name none (ARM reads). */
  rate?: Rate;
  maxInstances: number;
  now: () => number;
  monotonic: () => number;
  /** Counts what happened to the row: a lease written, an ETag conflict, a fallback to the local share. */
  onLease?: (event: 'lease' | 'conflict' | 'fallback', slots: number) => void;
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

  get rate(): Rate | undefined {
    return this.options.rate;
  }

  private state(key: string): KeyState {
    key = this.options.prefix + key;
    let s = this.keys.get(key);
    if (!s) this.keys.set(key, (s = { waiters: [], leasing: false }));
    return s;
  }

  /** The ms until this taker's slot (0: go now), already paid for in the app's bucket. */
  take(key: string, _nowMs?: number, rate: Rate | undefined = this.options.rate): Promise<number> {
    if (!rate) throw new Error(`no rate for ${key}`);
    if (this.options.monotonic() < this.fallbackUntil)
      return Promise.resolve(this.local.take(key, this.options.monotonic(), rate));
    const s = this.state(key);
    const waiting = new Promise<number>((resolve) => s.waiters.push({ resolve }));
    if (!s.leasing) void this.serve(key, s, rate);
    return waiting;
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
    this.local.refused(key, retryAfterSeconds, this.options.monotonic());
  }

  private async serve(key: string, s: KeyState, rate: Rate): Promise<void> {
    s.leasing = true;
    try {
      while (s.waiters.length > 0) {
        const batch = s.waiters.splice(0, BUDGET_LEASE_MAX);
        let slots: number[] | undefined;
        try {
          slots = await this.lease(this.options.prefix + key, s, rate, batch.length);
        } catch {
          slots = undefined;
        }
        const now = this.options.now();
        if (slots) {
          batch.forEach((w, i) => w.resolve(Math.max(0, slots[i]! - now)));
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

  /** `count` slots from the row, by a conditional write; undefined after BUDGET_LEASE_TRIES conflicts. */
  private async lease(key: string, s: KeyState, rate: Rate, count: number): Promise<number[] | undefined> {
    for (let attempt = 0; attempt < BUDGET_LEASE_TRIES; attempt++) {
      if (!s.row || attempt > 0) {
        const { entities } = await this.store.listPartition(this.partition);
        const e = entities.find((x) => x.rowKey === key);
        s.row = e ? { ...readBudgetRow(e), etag: e.etag } : undefined;
      }
      const now = this.options.now();
      const prev: BucketState | undefined = s.row ? { tokens: s.row.tokens, atMs: s.row.atMs } : undefined;
      let cap = s.cap;
      if (s.refusedUntil && s.refusedUntil > now)
        cap = Math.min(cap ?? Infinity, 1 - ((s.refusedUntil - now) / 1000) * rate.perSecond);
      const taken = takeSlots(prev, rate, count, now, cap);
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
        s.cap = undefined;
        s.refusedUntil = undefined;
        this.options.onLease?.('lease', count);
        return taken.slots;
      }
      this.options.onLease?.('conflict', count);
      s.row = undefined;
      // Another instance wrote first: step aside a moment (jittered), so that writers spread out.
      await new Promise((r) => setTimeout(r, (10 + 40 * Math.random()) * (attempt + 1)));
    }
    return undefined;
  }
}
