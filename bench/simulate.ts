// Simulations on a simulated clock that run the project's real poll logic (handleCommandMessage, the
// schedule, the read budget) with in-memory adapters: the queue is an event list, ARM a state machine.
import type { ArmRead } from '../src/core/armAnswer';
import { DEFAULTS } from '../src/config';
import { TokenBuckets } from '../src/core/tokenBucket';
import { ClusterScope } from '../src/core/scope';
import { prng } from '../dev/prng';
import { Cooldowns } from '../src/delivery';
import type { Provider, Target } from '../src/notify/provider';
import type { PipelineDeps } from '../src/pipeline/context';
import { handleCommandMessage } from '../src/pipeline/journey';
import { MemoryEntityStore, MemoryResultStore } from '../dev/memoryStores';
import { Ledger } from '../src/store/ledger';
import type { EntityStore, NewEntity } from '../src/store/entityStore';
import { SharedBudget } from '../src/store/sharedBudget';
import { performance } from 'node:perf_hooks';

/** 60% 5–60 s, 30% 1–10 min, 10% 10–60 min. */
function runTimeSeconds(random: () => number): number {
  const r = random();
  if (r < 0.6) return 5 + random() * 55;
  if (r < 0.9) return 60 + random() * 540;
  return 600 + random() * 3000;
}

class MinHeap<T> {
  private items: { at: number; seq: number; value: T }[] = [];
  private seq = 0;
  get size(): number {
    return this.items.length;
  }
  push(at: number, value: T): void {
    const a = this.items;
    a.push({ at, seq: this.seq++, value });
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (this.less(a[i]!, a[p]!)) [a[i], a[p]] = [a[p]!, a[i]!];
      else break;
      i = p;
    }
  }
  pop(): { at: number; value: T } | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
  private less(x: { at: number; seq: number }, y: { at: number; seq: number }): boolean {
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }
}

const SUB = '00000000-0000-0000-0000-000000000001';
const CLUSTER_ID = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks`;

export interface SimOptions {
  commands: number;
  seed: number;
  /** ARM's token bucket (reads); absent: ARM never throttles. */
  armBucket?: { burst: number; perSecond: number };
  /** The app's read budget; absent: none. */
  readBudget?: { burst: number; perSecond: number };
}

export interface SimResult {
  notified: number;
  reads: number;
  readsPerCommand: number;
  throttled: number;
  peakReadsPerSecond: number;
  worstLagRatio: number;
  /** Seconds from a command's end to its notification: 50th, 90th, 99th percentile and worst. */
  lagSeconds: { p50: number; p90: number; p99: number; max: number };
  fixed5sReadsPerCommand: number;
  fixed5sWorstLagRatio: number;
  simulatedSeconds: number;
}

/**
 * The simulations' world around the real handler: one channel ("sim") that answers at once and calls `sent`
 * with each payload, a queue that is the event list, in-memory stores (wrapped by `stores` when a run counts
 * their calls), and the app's defaults for every setting.
 */
function simDeps(o: {
  clock: () => number;
  events: MinHeap<string>;
  arm: PipelineDeps['arm'];
  random: () => number;
  sent: (payload: unknown) => void;
  readBudget?: { burst: number; perSecond: number };
  stores?: <T extends object>(store: T, name: 'ledger' | 'results') => T;
}): PipelineDeps {
  const provider: Provider<null> = {
    kind: 'sim',
    readSettings: () => null,
    describe: () => 'the simulation',
    docs: 'none',
    options: {},
    identity: () => 'sim',
    // A data channel: what it sends is the report itself.
    takes: 'report',
    render: (report) => report.data,
    asText: () => '',
    maxSendMs: (t) => t,
    send: async (_settings, payload) => {
      o.sent(payload);
      return { ok: true };
    },
  };
  const target: Target = {
    name: 'sim',
    kind: 'sim',
    provider: provider as Provider<unknown>,
    settings: null,
    notifyOn: 'all',
    includeLogs: true,
    scope: new ClusterScope([]),
  };
  const wrap = o.stores ?? (<T extends object>(store: T) => store);
  return {
    schedule: {
      initialDelaySeconds: DEFAULTS.POLL_INITIAL_DELAY_SECONDS,
      maxDelaySeconds: DEFAULTS.POLL_MAX_DELAY_SECONDS,
    },
    timeoutMinutes: DEFAULTS.POLL_TIMEOUT_MINUTES,
    delivery: { timeoutHours: DEFAULTS.DELIVERY_TIMEOUT_HOURS, maxDelaySeconds: DEFAULTS.DELIVERY_MAX_DELAY_SECONDS },
    arm: o.arm,
    queue: {
      send: async (text, delaySeconds) => o.events.push(o.clock() + delaySeconds * 1000, text),
      sendPoison: async (_o, reason) => {
        throw new Error(`simulation poisoned a message: ${reason}`);
      },
    },
    targets: new Map([['sim', target]]),
    defaultTargets: ['sim'],
    ledger: new Ledger(wrap(new MemoryEntityStore(o.clock), 'ledger')),
    ledgerTimeoutMs: 5000,
    results: wrap(new MemoryResultStore(o.clock), 'results'),
    armEndpoint: DEFAULTS.ARM_ENDPOINT,
    sendTimeoutMs: 1000,
    cooldowns: new Cooldowns(o.clock),
    pacer: new TokenBuckets(),
    now: o.clock,
    monotonic: o.clock,
    random: o.random,
    ...(o.readBudget ? { readBudget: new TokenBuckets(o.readBudget) } : {}),
  };
}

export async function simulate(options: SimOptions): Promise<SimResult> {
  const random = prng(options.seed);
  // A clock of today's epoch: times in messages (budget slots) are believed only as real times.
  const START = Date.parse('2026-01-01T00:00:00Z');
  let now = START;
  const events = new MinHeap<string>();
  const finishAt = new Map<string, number>();
  const notifiedAt = new Map<string, number>();
  const readsPerSecond = new Map<number, number>();
  let reads = 0;
  let throttled = 0;
  const bucket = options.armBucket ? { tokens: options.armBucket.burst, at: START } : undefined;

  const arm = {
    async read(_cluster: unknown, commandId: string): Promise<ArmRead> {
      reads++;
      const second = Math.floor(now / 1000);
      readsPerSecond.set(second, (readsPerSecond.get(second) ?? 0) + 1);
      if (bucket && options.armBucket) {
        bucket.tokens = Math.min(
          options.armBucket.burst,
          bucket.tokens + ((now - bucket.at) / 1000) * options.armBucket.perSecond,
        );
        bucket.at = now;
        if (bucket.tokens < 1) {
          throttled++;
          const retryAfterSeconds = Math.ceil((1 - bucket.tokens) / options.armBucket.perSecond);
          return {
            kind: 'transient',
            detail: 'ARM throttled the read (429)',
            status: 429,
            throttled: true,
            retryAfterSeconds,
            remainingReads: 0,
          };
        }
        bucket.tokens -= 1;
      }
      const remaining = bucket ? { remainingReads: Math.floor(bucket.tokens) } : {};
      if (now >= finishAt.get(commandId)!) {
        return { kind: 'finished', result: { provisioningState: 'Succeeded', exitCode: 0 }, ...remaining };
      }
      return { kind: 'running', provisioningState: 'Running', ...remaining };
    },
  };
  // The channel: records when each command was first announced (lag).
  const deps = simDeps({
    clock: () => now,
    events,
    arm,
    random,
    sent: (payload) => {
      const id = (payload as { commandId: string }).commandId;
      if (!notifiedAt.has(id)) notifiedAt.set(id, now);
    },
    ...(options.readBudget ? { readBudget: options.readBudget } : {}),
  });
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

  let fixedReads = 0;
  let fixedWorst = 0;
  for (let i = 0; i < options.commands; i++) {
    const id = `c${i}`;
    const run = runTimeSeconds(random);
    finishAt.set(id, START + run * 1000);
    events.push(START, JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id }));
    // A fixed 5 s poller on the same command: polls at 0, 5, 10, … until one sees it done.
    const polls = Math.ceil(run / 5) + 1;
    fixedReads += polls;
    fixedWorst = Math.max(fixedWorst, (5 * Math.ceil(run / 5) - run) / Math.max(5, 0.1 * run));
  }
  let seq = 0;
  for (let e = events.pop(); e; e = events.pop()) {
    now = e.at;
    await handleCommandMessage(e.value, { insertionTime: new Date(START), id: `m${++seq}` }, deps, quiet);
  }
  let worst = 0;
  const lags: number[] = [];
  for (const [id, finish] of finishAt) {
    const at = notifiedAt.get(id);
    if (at === undefined) continue;
    const run = (finish - START) / 1000;
    lags.push((at - START) / 1000 - run);
    worst = Math.max(worst, ((at - START) / 1000 - run) / Math.max(5, 0.1 * run));
  }
  lags.sort((a, b) => a - b);
  const pct = (q: number) => Math.round(10 * (lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] ?? 0)) / 10;
  return {
    notified: notifiedAt.size,
    reads,
    readsPerCommand: reads / options.commands,
    throttled,
    peakReadsPerSecond: Math.max(...readsPerSecond.values()),
    worstLagRatio: worst,
    lagSeconds: { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), max: pct(1) },
    fixed5sReadsPerCommand: fixedReads / options.commands,
    fixed5sWorstLagRatio: fixedWorst,
    simulatedSeconds: (now - START) / 1000,
  };
}

export interface SharedBudgetSimOptions {
  instances: number;
  /** The app's budget, and the takes per second asked of it, spread evenly over the instances. */
  rate: { burst: number; perSecond: number };
  demandPerSecond: number;
  seconds: number;
  /** Before the others start, one instance alone for this long (a scale-out from one). */
  aloneSeconds?: number;
  /** Latency of one Table call (ms), drawn uniformly. */
  latencyMs: [number, number];
  seed: number;
}

export interface SharedBudgetSimResult {
  slots: number;
  leases: number;
  conflicts: number;
  fallbacks: number;
  /** Slots leased ahead that passed unused (their tokens spent). */
  unused: number;
  /** Conflicts per conditional write. */
  conflictRate: number;
  storageCallsPerSlot: number;
  /** The most slots falling in any one second, against burst + rate; and beyond the bucket at any time. */
  peakSlotsPerSecond: number;
  overBudget: number;
  /** After the scale-out: the most slots in a second. */
  peakAfterScaleOut?: number;
}

/**
 * The app's shared budget (store/sharedBudget.ts, the real code) on a table with a Table service's
 * latency, in real time: N instances ask for slots at the given demand. Counts the conditional writes that
 * lost to another instance, the Storage calls per slot, and whether the slots ever exceed one bucket.
 */
export async function simulateSharedBudget(o: SharedBudgetSimOptions): Promise<SharedBudgetSimResult> {
  const random = prng(o.seed);
  const inner = new MemoryEntityStore();
  let calls = 0;
  const slow =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      calls++;
      await new Promise((r) => setTimeout(r, o.latencyMs[0] + random() * (o.latencyMs[1] - o.latencyMs[0])));
      return f(...a);
    };
  const store: EntityStore = {
    listPartition: slow((pk: string) => inner.listPartition(pk)),
    insertAll: slow((e: NewEntity[]) => inner.insertAll(e)),
    replace: slow((e: NewEntity, etag: string) => inner.replace(e, etag)),
    merge: slow((e: NewEntity, etag: string) => inner.merge(e, etag)),
    delete: slow((pk: string, rk: string, etag: string) => inner.delete(pk, rk, etag)),
    listOlderThan: (c) => inner.listOlderThan(c),
    listSince: (c) => inner.listSince(c),
  };
  const counts = { lease: 0, conflict: 0, fallback: 0, unused: 0 };
  const budgets = Array.from(
    { length: o.instances },
    () =>
      new SharedBudget(store, {
        queueName: 'sim',
        prefix: 'arm.',
        rate: o.rate,
        maxInstances: o.instances,
        now: Date.now,
        monotonic: () => performance.now(),
        onLease: (e) => counts[e]++,
      }),
  );
  const slots: number[] = [];
  const start = Date.now();
  const alone = (o.aloneSeconds ?? 0) * 1000;
  const end = start + alone + o.seconds * 1000;
  const takers: Promise<void>[] = [];
  await Promise.all(
    budgets.map(async (b, i) => {
      if (i > 0 && alone) await new Promise((r) => setTimeout(r, alone));
      const perInstance = o.demandPerSecond / (i > 0 || !alone ? o.instances : 1);
      while (Date.now() < end) {
        // Poisson arrivals at this instance's part of the demand.
        await new Promise((r) => setTimeout(r, (-Math.log(1 - random()) / perInstance) * 1000));
        takers.push(
          Promise.resolve(b.take('sub', 0)).then((waitMs) => {
            slots.push(Date.now() + waitMs);
          }),
        );
      }
    }),
  );
  await Promise.all(takers);
  slots.sort((a, b) => a - b);
  // The slots against one bucket: at no time more than burst + rate × elapsed since any earlier time.
  let overBudget = 0;
  let peak = 0;
  for (let i = 0, j = 0; i < slots.length; i++) {
    while (slots[i]! - slots[j]! >= 1000) j++;
    peak = Math.max(peak, i - j + 1);
  }
  for (let i = 0; i < slots.length; i++) {
    // Slots in [slots[0], slots[i]] must fit burst + rate × span.
    const span = (slots[i]! - slots[0]!) / 1000;
    if (i + 1 > o.rate.burst + o.rate.perSecond * span + 1) overBudget++;
  }
  let peakAfterScaleOut: number | undefined;
  if (alone) {
    const from = start + alone;
    const after = slots.filter((t) => t >= from && t < from + 1000).length;
    peakAfterScaleOut = after;
  }
  const writes = counts.lease + counts.conflict;
  return {
    slots: slots.length,
    leases: counts.lease,
    conflicts: counts.conflict,
    fallbacks: counts.fallback,
    unused: counts.unused,
    conflictRate: writes ? counts.conflict / writes : 0,
    storageCallsPerSlot: slots.length ? calls / slots.length : 0,
    peakSlotsPerSecond: peak,
    overBudget,
    ...(peakAfterScaleOut !== undefined ? { peakAfterScaleOut } : {}),
  };
}

export interface FleetSimResult {
  mode: 'group' | 'separate';
  members: number;
  armReads: number;
  /** Ledger calls by kind: reads (a partition listed) and writes (insert, replace, merge, delete). */
  ledgerReads: number;
  ledgerWrites: number;
  resultStoreCalls: number;
  messagesHandled: number;
  /** Posts to the channel: one per member when separate, the group's summary (and its updates) when grouped. */
  posts: number;
  summaries: number;
}

/** Counts every method call of an object (the stores), by name. */
function counting<T extends object>(inner: T, counts: Map<string, number>): T {
  return new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        counts.set(String(property), (counts.get(String(property)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/**
 * One command on `members` clusters, on the simulated clock with the real handler: as one fleet run (the
 * declaration, then a tracking message per member, started 10 a second as `run` starts them) or as as many
 * separate runs. What each costs in ARM reads, ledger and result-store calls, messages and posts.
 */
export async function simulateFleet(o: { members: number; seed: number; grouped: boolean }): Promise<FleetSimResult> {
  const random = prng(o.seed);
  const START = Date.parse('2026-01-01T00:00:00Z');
  let now = START;
  const events = new MinHeap<string>();
  const finishAt = new Map<string, number>();
  let armReads = 0;
  let posts = 0;
  let summaries = 0;
  const arm = {
    async read(_cluster: unknown, commandId: string): Promise<ArmRead> {
      armReads++;
      return now >= finishAt.get(commandId)!
        ? { kind: 'finished', result: { provisioningState: 'Succeeded', exitCode: 0 } }
        : { kind: 'running', provisioningState: 'Running' };
    },
  };
  const ledgerCalls = new Map<string, number>();
  const resultCalls = new Map<string, number>();
  const deps = simDeps({
    clock: () => now,
    events,
    arm,
    random,
    sent: (payload) => {
      posts++;
      if ((payload as { kind?: string }).kind === 'group') summaries++;
    },
    stores: (store, name) => counting(store, name === 'ledger' ? ledgerCalls : resultCalls),
  });
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const clusters = Array.from(
    { length: o.members },
    (_, i) =>
      `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-${String(i).padStart(3, '0')}`,
  );
  const groupId = 'fleet-sim';
  if (o.grouped) events.push(START, JSON.stringify({ groupId, members: clusters }));
  clusters.forEach((clusterResourceId, i) => {
    const commandId = `c${i}`;
    const startedAt = START + Math.floor(i / 10) * 1000;
    finishAt.set(commandId, startedAt + runTimeSeconds(random) * 1000);
    events.push(startedAt, JSON.stringify({ clusterResourceId, commandId, ...(o.grouped ? { groupId } : {}) }));
  });
  let handled = 0;
  for (let e = events.pop(); e; e = events.pop()) {
    now = e.at;
    handled++;
    await handleCommandMessage(e.value, { insertionTime: new Date(START), id: `m${handled}` }, deps, quiet);
  }
  const sum = (m: Map<string, number>, names: string[]) => names.reduce((n, k) => n + (m.get(k) ?? 0), 0);
  return {
    mode: o.grouped ? 'group' : 'separate',
    members: o.members,
    armReads,
    ledgerReads: sum(ledgerCalls, ['listPartition']),
    ledgerWrites: sum(ledgerCalls, ['insertAll', 'replace', 'merge', 'delete']),
    resultStoreCalls: [...resultCalls.values()].reduce((a, b) => a + b, 0),
    messagesHandled: handled,
    posts,
    summaries,
  };
}
