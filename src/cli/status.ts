// `aks-command-notifier status`: what an operator asks first. How full are the queues, why are messages
// in the poison queue, what was delivered lately (and how long after the command finished), and which
// targets have notifications that did not arrive. A table for people, or --json for tools.
import { parsePoisonEnvelope } from '../queue/commandQueue';
import { measureQueues, type QueueDepth } from '../pipeline/queueMonitor';
import { doctorKey } from '../store/doctorRows';
import { COMMAND_ROW, isTargetRow, readCommand, readTarget, type CommandState } from '../store/ledgerRows';
import type { StoredEntity } from '../store/entityStore';
import { escapeForLog } from '../core/text';
import { takeSlots } from '../core/tokenBucket';
import { budgetPartition, readBudgetRow } from '../store/sharedBudget';
import type { OperatorStores } from './operator';

interface PoisonEntry {
  insertedOn?: string;
  reason: string;
  commandId?: string;
  cluster?: string;
}

interface DeliveryEntry {
  commandId: string;
  cluster: string;
  target: string;
  state: string;
  form?: string;
  lagSeconds?: number;
  updatedAt: string;
  lastError?: string;
}

export interface StatusReport {
  queue: { name: string } & QueueDepth;
  poison: { name: string; recent: PoisonEntry[] } & QueueDepth;
  /** Target rows written in the window, newest first. */
  deliveries: DeliveryEntry[];
  /** Targets with notifications that did not arrive (pending or failed) in the window. */
  undelivered: { target: string; pending: number; failed: number; lastError?: string }[];
  /** The app's shared budgets (ARM reads per subscription, channel paces): what is left now, and what they gave. */
  budgets: {
    budget: string;
    tokensNow: number;
    ratePerSecond: number;
    burst: number;
    slots: number;
    leases: number;
    lastWaitSeconds: number;
    updatedAt: string;
  }[];
  windowHours: number;
}

function clusterName(id: string): string {
  return id.split('/').pop() ?? id;
}

export async function status(
  stores: OperatorStores,
  options: { poison: number; deliveries: number; windowHours: number; now?: number },
): Promise<StatusReport> {
  const now = options.now ?? Date.now();
  const { main, poison } = await measureQueues(stores.queue, now);
  const peeked = (
    await stores.queue.poison.peekMessages({ numberOfMessages: Math.min(32, Math.max(1, options.poison)) })
  ).peekedMessageItems;
  const recent: PoisonEntry[] = peeked.slice(0, options.poison).map((m) => {
    const envelope = parsePoisonEnvelope(m.messageText);
    let commandId: string | undefined;
    let cluster: string | undefined;
    try {
      const original = JSON.parse(envelope?.original ?? m.messageText) as {
        commandId?: unknown;
        clusterResourceId?: unknown;
        resourceName?: unknown;
      };
      if (typeof original.commandId === 'string') commandId = escapeForLog(original.commandId, 64);
      const c =
        typeof original.clusterResourceId === 'string'
          ? clusterName(original.clusterResourceId)
          : original.resourceName;
      if (typeof c === 'string') cluster = escapeForLog(c, 64);
    } catch {
      /* not JSON */
    }
    return {
      ...(m.insertedOn ? { insertedOn: m.insertedOn.toISOString() } : {}),
      // As stored, a reason may carry anything a message did: shown like a log line (one line, no controls, no bidi).
      reason:
        envelope?.reason !== undefined
          ? escapeForLog(envelope.reason, 1024)
          : 'moved by the host after repeated failures (see the function logs)',
      ...(commandId ? { commandId } : {}),
      ...(cluster ? { cluster } : {}),
    };
  });

  // Rows written in the window; each target row is shown with its command's cluster and id. Partitions
  // that start with "_" are not commands (the shared budgets).
  const rows: StoredEntity[] = [];
  for await (const e of stores.ledger.store.listSince(now - options.windowHours * 3600_000))
    if (!e.partitionKey.startsWith('_')) rows.push(e);
  const budgetRows = (await stores.ledger.store.listPartition(budgetPartition(stores.settings.queueName))).entities;
  const budgets = budgetRows.map((e) => {
    const b = readBudgetRow(e);
    const left = takeSlots({ tokens: b.tokens, atMs: b.atMs }, b, 0, now).state.tokens;
    return {
      budget: escapeForLog(b.key, 120),
      tokensNow: Math.round(left * 10) / 10,
      ratePerSecond: b.perSecond,
      burst: b.burst,
      slots: b.slots,
      leases: b.leases,
      lastWaitSeconds: Math.round(b.lastWaitMs / 100) / 10,
      updatedAt: new Date(e.timestampMs).toISOString(),
    };
  });
  const commands = new Map<string, CommandState>();
  for (const e of rows) if (e.rowKey === COMMAND_ROW) commands.set(e.partitionKey, readCommand(e));
  const missing = [
    ...new Set(rows.filter((e) => isTargetRow(e.rowKey) && !commands.has(e.partitionKey)).map((e) => e.partitionKey)),
  ];
  for (const key of missing) {
    const loaded = await stores.ledger.load(key);
    if (loaded.command) commands.set(key, loaded.command);
  }
  // A fleet run's partition also holds a row per member (its state, not a delivery).
  const targets = rows.filter((e) => isTargetRow(e.rowKey)).map((e) => ({ e, t: readTarget(e) }));
  const deliveries: DeliveryEntry[] = targets
    .sort((a, b) => b.e.timestampMs - a.e.timestampMs)
    .map(({ e, t }) => {
      const c = commands.get(e.partitionKey);
      return {
        commandId: c?.commandId ?? '?',
        cluster: c ? (c.clusterResourceId ? clusterName(c.clusterResourceId) : groupOrDoctor(e.partitionKey, c)) : '?',
        target: t.name,
        state: t.state === 'failed' && t.failure === 'expired' ? 'expired' : t.state,
        ...(t.form ? { form: t.form } : {}),
        ...(t.lagMs !== undefined ? { lagSeconds: Math.round(t.lagMs / 1000) } : {}),
        updatedAt: new Date(e.timestampMs).toISOString(),
        ...(t.lastError && t.state !== 'delivered' ? { lastError: escapeForLog(t.lastError, 1024) } : {}),
      };
    });
  const byTarget = new Map<string, { target: string; pending: number; failed: number; lastError?: string }>();
  for (const d of deliveries) {
    if (d.state === 'delivered' || d.state === 'skipped') continue;
    const entry = byTarget.get(d.target) ?? { target: d.target, pending: 0, failed: 0 };
    if (d.state === 'failed' || d.state === 'expired') entry.failed++;
    else entry.pending++;
    if (!entry.lastError && d.lastError) entry.lastError = d.lastError;
    byTarget.set(d.target, entry);
  }
  return {
    queue: { name: stores.settings.queueName, ...main },
    poison: { name: stores.settings.poisonQueueName, ...poison, recent },
    deliveries: deliveries.slice(0, options.deliveries),
    undelivered: [...byTarget.values()].sort((a, b) => b.failed + b.pending - (a.failed + a.pending)),
    budgets,
    windowHours: options.windowHours,
  };
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const age = (s?: number) =>
  s === undefined ? '-' : s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;

export function formatStatus(r: StatusReport): string {
  const out: string[] = [];
  out.push(
    table(
      ['queue', 'messages', 'oldest visible'],
      [
        [r.queue.name, String(r.queue.messages), age(r.queue.oldestAgeSeconds)],
        [r.poison.name, String(r.poison.messages), age(r.poison.oldestAgeSeconds)],
      ],
    ),
  );
  out.push('');
  if (r.poison.recent.length === 0) out.push('poison queue: empty');
  else {
    out.push(`poison queue (oldest first, ${r.poison.recent.length} shown):`);
    out.push(
      table(
        ['moved', 'command', 'cluster', 'reason'],
        r.poison.recent.map((p) => [p.insertedOn ?? '-', p.commandId ?? '-', p.cluster ?? '-', p.reason.slice(0, 160)]),
      ),
    );
  }
  out.push('');
  out.push(`deliveries in the last ${r.windowHours} h (newest first):`);
  out.push(
    r.deliveries.length === 0
      ? '  none'
      : table(
          ['updated', 'command', 'cluster', 'target', 'state', 'form', 'lag'],
          r.deliveries.map((d) => [
            d.updatedAt,
            d.commandId,
            d.cluster,
            d.target,
            d.state,
            d.form ?? '-',
            d.lagSeconds === undefined ? '-' : `${d.lagSeconds}s`,
          ]),
        ),
  );
  out.push('');
  if (r.undelivered.length === 0) out.push('every target had its notifications');
  else {
    out.push('targets with undelivered notifications:');
    out.push(
      table(
        ['target', 'pending', 'failed', 'last error'],
        r.undelivered.map((u) => [u.target, String(u.pending), String(u.failed), (u.lastError ?? '').slice(0, 120)]),
      ),
    );
  }
  out.push('');
  out.push("the app's budgets (shared by every instance; tokens below zero are slots already given):");
  out.push(
    r.budgets.length === 0
      ? '  none used yet'
      : table(
          ['budget', 'tokens now', 'rate/s', 'burst', 'slots given', 'leases', 'last wait', 'updated'],
          r.budgets.map((b) => [
            b.budget,
            String(b.tokensNow),
            String(b.ratePerSecond),
            String(b.burst),
            String(b.slots),
            String(b.leases),
            `${b.lastWaitSeconds}s`,
            b.updatedAt,
          ]),
        ),
  );
  return out.join('\n');
}

/** A row without a cluster is a fleet run's, or a doctor run's test notification (its partition says which). */
function groupOrDoctor(partitionKey: string, c: CommandState): string {
  return c.commandId.startsWith('doctor-') && doctorKey(c.commandId.slice('doctor-'.length)) === partitionKey
    ? 'doctor'
    : 'fleet';
}
