// The poll logic with in-memory adapters on a settable clock: the real ledger logic over an in-memory
// table, a queue that records what is sent, ARM answers from a script, a channel that records posts.
import { ClusterScope } from '../../src/core/scope';
import type { ArmRead } from '../../src/core/armAnswer';
import { TokenBuckets } from '../../src/core/tokenBucket';
import { Cooldowns } from '../../src/delivery';
import type { Provider, SendResult, Target } from '../../src/notify/provider';
import type { PipelineDeps } from '../../src/pipeline/context';
import { MemoryEntityStore, MemoryResultStore } from '../../dev/memoryStores';
import { Ledger } from '../../src/store/ledger';

export const CLUSTER_ID =
  '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks';
export const MESSAGE = JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: 'abc' });
export const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface MemoryWorld {
  deps: PipelineDeps;
  clock: { now: number };
  store: MemoryEntityStore;
  results: MemoryResultStore;
  /** Re-enqueued messages: [text, delaySeconds]. */
  sent: [string, number][];
  poisoned: [string, string][];
  /** Posts per target. */
  posted: Map<string, unknown[]>;
  armReads: number;
  /** What ARM answers next (the last one repeats). */
  arm: ArmRead[];
  /** What each target's channel answers next (then ok). */
  answers: Map<string, SendResult[]>;
}

function fakeProvider(world: () => MemoryWorld): Provider<{ channel: string }> {
  return {
    kind: 'fake',
    readSettings: () => ({ channel: 'x' }),
    describe: (s) => `channel ${s.channel}`,
    docs: 'none',
    options: {},
    identity: (s) => s.channel,
    // A data channel: what it records is the report itself.
    takes: 'report',
    render: (report, _o, form) => ({ report: report.data, form }),
    asText: () => '',
    maxSendMs: (t) => t,
    send: async (settings, payload) => {
      const w = world();
      const next = w.answers.get(settings.channel)?.shift();
      if (next && !next.ok) return next;
      w.posted.set(settings.channel, [...(w.posted.get(settings.channel) ?? []), payload]);
      return next ?? { ok: true };
    },
  };
}

export function memoryWorld(overrides: Partial<PipelineDeps> = {}, targetNames: string[] = ['slack']): MemoryWorld {
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  const now = () => clock.now;
  const store = new MemoryEntityStore(now);
  const results = new MemoryResultStore(now);
  let self: MemoryWorld;
  const provider = fakeProvider(() => self);
  const targets = new Map<string, Target>(
    targetNames.map((name) => [
      name,
      {
        name,
        kind: 'fake',
        provider: provider as Provider<unknown>,
        settings: { channel: name },
        notifyOn: 'all',
        includeLogs: true,
        scope: new ClusterScope([]),
      },
    ]),
  );
  self = {
    clock,
    store,
    results,
    sent: [],
    poisoned: [],
    posted: new Map(),
    armReads: 0,
    arm: [{ kind: 'running', provisioningState: 'Running' }],
    answers: new Map(),
    deps: undefined as unknown as PipelineDeps,
  };
  self.deps = {
    schedule: { initialDelaySeconds: 5, maxDelaySeconds: 60 },
    timeoutMinutes: 120,
    delivery: { timeoutHours: 24, maxDelaySeconds: 900 },
    arm: {
      read: async () => {
        self.armReads++;
        return self.arm.length > 1 ? self.arm.shift()! : self.arm[0]!;
      },
    },
    queue: {
      send: async (t, d) => void self.sent.push([t, d]),
      sendPoison: async (o, r) => void self.poisoned.push([o, r]),
    },
    targets,
    defaultTargets: targetNames,
    ledger: new Ledger(store),
    ledgerTimeoutMs: 1000,
    results,
    armEndpoint: 'https://management.azure.com',
    sendTimeoutMs: 1000,
    cooldowns: new Cooldowns(now),
    pacer: new TokenBuckets(),
    now,
    monotonic: now,
    random: () => 0,
    ...overrides,
  };
  return self;
}
