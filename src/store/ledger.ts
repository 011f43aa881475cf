// The delivery ledger: one partition per command (its key is a hash of cluster and command id), holding
//   - the command row ("_command"): the poll chain (generation, owner, lease), the deadline, and whether a
//     final result is stored;
//   - one row per target (row key = the target's name), registered by every copy of the command that
//     names it, with that copy's command text and context, and the target's delivery state.
// Every write is conditional (insert-if-absent, or replace-if-unchanged by ETag), and every lease is
// judged on the Table service's clock: a row's Timestamp plus the lease, against the Date of the answer
// that read it. Rows are read tolerantly: fields this version does not know are kept on rewrite, and
// rows written by 0.1 (no "v", a local-clock "until") are understood.
import { createHash, randomUUID } from 'node:crypto';
import {
  StoreRejectedError,
  type EntityStore,
  type EntityValue,
  type NewEntity,
  type StoredEntity,
} from './entityStore';

export const COMMAND_ROW = '_command';
export const LEDGER_VERSION = 2;

export function commandKey(clusterResourceId: string, commandId: string): string {
  return createHash('sha256').update(`${clusterResourceId.toLowerCase()}|${commandId}`).digest('hex');
}

export interface CommandState {
  etag: string;
  timestampMs: number;
  clusterResourceId: string;
  commandId: string;
  firstSeenAt: string;
  deadlineAt: string;
  stage: 'poll' | 'final';
  /** Poll generation: every poll step of the live chain advances it. */
  gen: number;
  /** Queue message id of the message that made the last step (its retries may redo that step). */
  owner?: string;
  /** The chain is alive until the row's Timestamp plus this. */
  pollLeaseMs: number;
  finalAt?: string;
  /** Targets not delivered by then are given up (delivery deadline). */
  deliverBy?: string;
  outcome?: string;
  /** Fields of other versions, kept as they are. */
  other: Record<string, EntityValue>;
}

export type TargetPhase = 'pending' | 'claimed' | 'delivered' | 'failed' | 'skipped';

export interface TargetState {
  etag: string;
  timestampMs: number;
  name: string;
  state: TargetPhase;
  /** The registering copy's command text and context (shown in this target's notification). */
  command?: string;
  context?: Record<string, string>;
  /** Claimed: the holder's id, and how long its claim lasts from the row's Timestamp. */
  claimId?: string;
  claimLeaseMs?: number;
  /** Pending: not before the row's Timestamp plus this (Retry-After, backoff). */
  waitMs?: number;
  attempts: number;
  lastError?: string;
  /** Failed: the target refused for good, or the delivery deadline passed. */
  failure?: 'permanent' | 'expired';
  form?: 'full' | 'minimal';
  deliveredAt?: string;
  lagMs?: number;
  /** Hash of the target's configuration at the last attempt: a changed one is tried again. */
  fingerprint?: string;
  /** Provider-owned state (e.g. the Slack app's channel and message ts), as JSON. */
  providerState?: string;
  /**
   * An attempt since this time (ledger clock, ms) may have posted without a record: its holder died, or
   * its post got no answer. Cleared by the next success (providers that find their own posts look first).
   */
  unsureSince?: number;
  /** 0.1 rows: claim end on the writer's clock. */
  legacyUntil?: number;
  other: Record<string, EntityValue>;
}

export interface CommandEntries {
  command?: CommandState;
  targets: TargetState[];
  serverNow: number;
}

const COMMAND_FIELDS = [
  'v',
  'clusterResourceId',
  'commandId',
  'firstSeenAt',
  'deadlineAt',
  'stage',
  'gen',
  'owner',
  'pollLeaseMs',
  'finalAt',
  'deliverBy',
  'outcome',
];
const TARGET_FIELDS = [
  'v',
  'state',
  'command',
  'context',
  'claimId',
  'claimLeaseMs',
  'waitMs',
  'attempts',
  'lastError',
  'failure',
  'form',
  'deliveredAt',
  'lagMs',
  'fingerprint',
  'providerState',
  'unsureSince',
  'until',
  'detail',
];

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v)
    ? v
    : typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)
      ? Number(v)
      : undefined;

function others(e: StoredEntity, known: string[]): Record<string, EntityValue> {
  const out: Record<string, EntityValue> = {};
  for (const [k, v] of Object.entries(e)) {
    if (['partitionKey', 'rowKey', 'etag', 'timestampMs'].includes(k) || known.includes(k) || v === undefined) continue;
    out[k] = v;
  }
  return out;
}

function parseContext(text: string | undefined): Record<string, string> | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
  } catch {
    return undefined;
  }
}

export function readCommand(e: StoredEntity): CommandState {
  return {
    etag: e.etag,
    timestampMs: e.timestampMs,
    clusterResourceId: str(e.clusterResourceId) ?? '',
    commandId: str(e.commandId) ?? '',
    firstSeenAt: str(e.firstSeenAt) ?? new Date(e.timestampMs).toISOString(),
    deadlineAt: str(e.deadlineAt) ?? new Date(e.timestampMs).toISOString(),
    stage: e.stage === 'final' ? 'final' : 'poll',
    gen: num(e.gen) ?? 0,
    ...(str(e.owner) ? { owner: str(e.owner)! } : {}),
    pollLeaseMs: num(e.pollLeaseMs) ?? 0,
    ...(str(e.finalAt) ? { finalAt: str(e.finalAt)! } : {}),
    ...(str(e.deliverBy) ? { deliverBy: str(e.deliverBy)! } : {}),
    ...(str(e.outcome) ? { outcome: str(e.outcome)! } : {}),
    other: others(e, COMMAND_FIELDS),
  };
}

const PHASES: readonly TargetPhase[] = ['pending', 'claimed', 'delivered', 'failed', 'skipped'];

export function readTarget(e: StoredEntity): TargetState {
  const state = PHASES.includes(e.state as TargetPhase) ? (e.state as TargetPhase) : 'pending';
  const legacy = num(e.v) === undefined;
  const command = str(e.command);
  const context = parseContext(str(e.context));
  const lastError = str(e.lastError) ?? str(e.detail);
  return {
    etag: e.etag,
    timestampMs: e.timestampMs,
    name: e.rowKey,
    state,
    ...(command !== undefined ? { command } : {}),
    ...(context ? { context } : {}),
    ...(str(e.claimId) ? { claimId: str(e.claimId)! } : {}),
    ...(num(e.claimLeaseMs) !== undefined ? { claimLeaseMs: num(e.claimLeaseMs)! } : {}),
    ...(num(e.waitMs) !== undefined ? { waitMs: num(e.waitMs)! } : {}),
    attempts: num(e.attempts) ?? 0,
    ...(lastError ? { lastError } : {}),
    ...(e.failure === 'permanent' || e.failure === 'expired'
      ? { failure: e.failure }
      : legacy && state === 'failed'
        ? { failure: 'permanent' as const }
        : {}),
    ...(e.form === 'full' || e.form === 'minimal' ? { form: e.form } : {}),
    ...(str(e.deliveredAt) ? { deliveredAt: str(e.deliveredAt)! } : {}),
    ...(num(e.lagMs) !== undefined ? { lagMs: num(e.lagMs)! } : {}),
    ...(str(e.fingerprint) ? { fingerprint: str(e.fingerprint)! } : {}),
    ...(str(e.providerState) ? { providerState: str(e.providerState)! } : {}),
    ...(num(e.unsureSince) !== undefined ? { unsureSince: num(e.unsureSince)! } : {}),
    ...(legacy && num(e.until) !== undefined ? { legacyUntil: num(e.until)! } : {}),
    other: others(e, TARGET_FIELDS),
  };
}

function commandEntity(pk: string, c: Omit<CommandState, 'etag' | 'timestampMs'>): NewEntity {
  return {
    ...c.other,
    partitionKey: pk,
    rowKey: COMMAND_ROW,
    v: LEDGER_VERSION,
    clusterResourceId: c.clusterResourceId,
    commandId: c.commandId,
    firstSeenAt: c.firstSeenAt,
    deadlineAt: c.deadlineAt,
    stage: c.stage,
    gen: c.gen,
    owner: c.owner,
    pollLeaseMs: Math.round(c.pollLeaseMs),
    finalAt: c.finalAt,
    deliverBy: c.deliverBy,
    outcome: c.outcome,
  };
}

/**
 * Table storage holds 32K UTF-16 characters a property and 1 MiB an entity, counted as stored: after JSON
 * escaping, which can grow a producer's text sixfold (a `"` becomes `\"`, a control character `\u0001`).
 * The stored copies are for display: what does not fit is cut with a visible marker, never refused.
 */
const MAX_COMMAND_CHARS = 4000;
const MAX_CONTEXT_VALUE_CHARS = 1000;
export const MAX_CONTEXT_STORED_CHARS = 8000;
export const TRIMMED = '… (trimmed)';

/** The context as stored: at most MAX_CONTEXT_STORED_CHARS of JSON, the longest values cut first. */
export function contextText(context: Record<string, string> | undefined): string | undefined {
  if (!context || Object.keys(context).length === 0) return undefined;
  const entries = Object.entries(context)
    .slice(0, 20)
    .map(([k, v]): [string, string] => [
      k.slice(0, 64),
      v.length > MAX_CONTEXT_VALUE_CHARS ? cut(v, MAX_CONTEXT_VALUE_CHARS) : v,
    ]);
  let text = JSON.stringify(Object.fromEntries(entries));
  // Each round halves one value: ~11 rounds empty a value of 1,000, so this bound is never the one that stops.
  for (let round = 0; text.length > MAX_CONTEXT_STORED_CHARS && round < 20 * 12; round++) {
    // The value that takes the most room once escaped gives up half of itself.
    let widest = 0;
    for (let i = 1; i < entries.length; i++)
      if (JSON.stringify(entries[i]![1]).length > JSON.stringify(entries[widest]![1]).length) widest = i;
    const [key, value] = entries[widest]!;
    const kept = value.endsWith(TRIMMED) ? value.slice(0, -TRIMMED.length) : value;
    entries[widest] = [key, kept.length === 0 ? TRIMMED : cut(kept, Math.floor(kept.length / 2))];
    text = JSON.stringify(Object.fromEntries(entries));
  }
  // Only keys too many and too long to fit could leave it over (the message contract rules that out).
  return text.length <= MAX_CONTEXT_STORED_CHARS ? text : JSON.stringify({ context: TRIMMED });
}

/** The first `max` characters (never half a surrogate pair) and the marker. */
function cut(text: string, max: number): string {
  let end = Math.min(max, text.length);
  if (end > 0 && /[\uD800-\uDBFF]/.test(text[end - 1]!)) end--;
  return `${text.slice(0, end)}${TRIMMED}`;
}

function targetEntity(pk: string, t: Omit<TargetState, 'etag' | 'timestampMs'>): NewEntity {
  return {
    ...t.other,
    partitionKey: pk,
    rowKey: t.name,
    v: LEDGER_VERSION,
    state: t.state,
    command: t.command?.slice(0, MAX_COMMAND_CHARS),
    context: contextText(t.context),
    claimId: t.state === 'claimed' ? t.claimId : undefined,
    claimLeaseMs: t.state === 'claimed' && t.claimLeaseMs !== undefined ? Math.round(t.claimLeaseMs) : undefined,
    waitMs: t.state === 'pending' && t.waitMs !== undefined ? Math.round(t.waitMs) : undefined,
    attempts: t.attempts,
    lastError: t.lastError?.slice(0, 1024),
    failure: t.state === 'failed' ? t.failure : undefined,
    form: t.form,
    deliveredAt: t.deliveredAt,
    lagMs: t.lagMs !== undefined ? Math.round(t.lagMs) : undefined,
    fingerprint: t.fingerprint,
    providerState: t.providerState,
    unsureSince: t.state === 'pending' || t.state === 'claimed' ? t.unsureSince : undefined,
  };
}

/** What a target row means now, on the server's clock. */
export type TargetReadiness =
  | { kind: 'done' }
  | { kind: 'failed' }
  /** Someone holds it (a live claim), or it must wait (Retry-After, backoff): for `waitMs` more. */
  | { kind: 'busy'; waitMs: number }
  | { kind: 'waiting'; waitMs: number }
  /** Free to claim; `inDoubt`: the last holder's claim ran out (it may have posted before it died). */
  | { kind: 'ready'; inDoubt: boolean };

export function readiness(t: TargetState, serverNow: number, localNow: number): TargetReadiness {
  switch (t.state) {
    case 'delivered':
    case 'skipped':
      return { kind: 'done' };
    case 'failed':
      return { kind: 'failed' };
    case 'claimed': {
      const left =
        t.legacyUntil !== undefined && t.claimLeaseMs === undefined
          ? t.legacyUntil - localNow
          : t.timestampMs + (t.claimLeaseMs ?? 0) - serverNow;
      return left > 0 ? { kind: 'busy', waitMs: left } : { kind: 'ready', inDoubt: true };
    }
    case 'pending': {
      const left = t.timestampMs + (t.waitMs ?? 0) - serverNow;
      return left > 0 ? { kind: 'waiting', waitMs: left } : { kind: 'ready', inDoubt: false };
    }
  }
}

export interface Registration {
  clusterResourceId: string;
  commandId: string;
  firstSeenAt: string;
  deadlineAt: string;
  owner?: string;
  pollLeaseMs: number;
}

export interface TargetCopy {
  name: string;
  command?: string;
  context?: Record<string, string>;
}

export class Ledger {
  constructor(readonly store: EntityStore) {}

  async load(key: string): Promise<CommandEntries> {
    const { entities, serverNow } = await this.store.listPartition(key);
    let command: CommandState | undefined;
    const targets: TargetState[] = [];
    for (const e of entities) {
      if (e.rowKey === COMMAND_ROW) command = readCommand(e);
      else targets.push(readTarget(e));
    }
    return { ...(command ? { command } : {}), targets, serverNow };
  }

  /**
   * Makes sure the command and this copy's targets are recorded; a row that exists is left as it is
   * (the first copy's deadline and each target's first registration stand). Returns what is recorded.
   */
  async register(
    key: string,
    init: Registration,
    given: TargetCopy[],
    loaded?: CommandEntries,
  ): Promise<CommandEntries & { created: boolean; rejected?: StoreRejectedError }> {
    let entries = loaded ?? (await this.load(key));
    let copies = given;
    let stripped: StoreRejectedError | undefined;
    const done = (created: boolean) => ({ ...entries, created, ...(stripped ? { rejected: stripped } : {}) });
    for (let round = 0; round < 4; round++) {
      const missing: NewEntity[] = [];
      const creating = !entries.command;
      if (creating) {
        missing.push(commandEntity(key, { ...init, stage: 'poll', gen: 1, other: {} }));
      }
      for (const copy of copies) {
        if (entries.targets.some((t) => t.name === copy.name)) continue;
        missing.push(
          targetEntity(key, {
            name: copy.name,
            state: 'pending',
            attempts: 0,
            ...(copy.command !== undefined ? { command: copy.command } : {}),
            ...(copy.context ? { context: copy.context } : {}),
            other: {},
          }),
        );
      }
      if (missing.length === 0) return done(false);
      let inserted: boolean;
      try {
        inserted = await this.store.insertAll(missing);
      } catch (err) {
        if (!(err instanceof StoreRejectedError) || stripped) throw err;
        // The rows are bounded, so this is a bug; still, the command must be tracked: its targets are
        // registered without the copy's command and context (the notification then shows the message's).
        stripped = err;
        copies = copies.map((c) => ({ name: c.name }));
        continue;
      }
      entries = await this.load(key);
      if (inserted) return done(creating);
      // Another copy registered at the same moment: look again and add what is still missing.
    }
    return done(false);
  }

  async writeCommand(
    key: string,
    prev: CommandState,
    next: Partial<Omit<CommandState, 'etag' | 'timestampMs'>>,
  ): Promise<CommandState | undefined> {
    const merged = { ...prev, ...next };
    const written = await this.store.replace(commandEntity(key, merged), prev.etag);
    return written ? { ...merged, etag: written.etag, timestampMs: written.serverNow } : undefined;
  }

  async writeTarget(
    key: string,
    prev: TargetState,
    next: Partial<Omit<TargetState, 'etag' | 'timestampMs' | 'name'>>,
  ): Promise<TargetState | undefined> {
    const merged: TargetState = { ...prev, ...next };
    // A rewrite always leaves 0.1's local-clock claim behind.
    delete merged.legacyUntil;
    const written = await this.store.replace(targetEntity(key, merged), prev.etag);
    return written ? { ...merged, etag: written.etag, timestampMs: written.serverNow } : undefined;
  }

  /**
   * One poll step of the live chain, in one conditional write: succeeds only if the command row is exactly
   * as this chain's last step left it (`etag`, carried in the message).
   */
  async step(
    key: string,
    etag: string,
    fields: { gen: number; owner?: string; pollLeaseMs: number },
  ): Promise<{ etag: string; serverNow: number } | undefined> {
    return this.store.merge(
      {
        partitionKey: key,
        rowKey: COMMAND_ROW,
        gen: fields.gen,
        owner: fields.owner ?? '',
        pollLeaseMs: Math.round(fields.pollLeaseMs),
      },
      etag,
    );
  }

  /** Claims a ready target for `leaseMs` on the server's clock; undefined if someone else changed it first. */
  async claim(
    key: string,
    target: TargetState,
    leaseMs: number,
    unsureSince?: number,
  ): Promise<TargetState | undefined> {
    return this.writeTarget(key, target, {
      state: 'claimed',
      claimId: randomUUID(),
      claimLeaseMs: leaseMs,
      unsureSince,
    });
  }
}
