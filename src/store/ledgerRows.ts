// What a ledger row is: the command row and the target rows, their fields, how they are read tolerantly
// (rowFields.ts) and written within Table storage's limits. A fleet member's row is memberRows.ts.
import { createHash } from 'node:crypto';
import type { DeclarationDigest } from '../core/groupMessage';
import type { EntityValue, NewEntity, StoredEntity } from './entityStore';
import type { MemberRow } from './memberRows';
import { contextText, MAX_COMMAND_CHARS, parseContext } from './displayCopies';
import { LEDGER_VERSION, num, others, str } from './rowFields';

export const COMMAND_ROW = '_command';

export function commandKey(clusterResourceId: string, commandId: string): string {
  return createHash('sha256').update(`${clusterResourceId.toLowerCase()}|${commandId}`).digest('hex');
}

/** A fleet run's partition: its chain row, its targets, and one row per member. */
export function groupKey(groupId: string): string {
  return createHash('sha256').update(`group|${groupId}`).digest('hex');
}

/**
 * Rows that are neither the command row nor a target's start with "~" (a fleet member, a doctor run's
 * answer, a cluster's doctor read): no target name does.
 */
export function isTargetRow(rowKey: string): boolean {
  return rowKey !== COMMAND_ROW && !rowKey.startsWith('~');
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
  /**
   * A fleet member reported on its own for good (its group was not recorded in time): a declaration that
   * comes later never takes its result into the group's summary too.
   */
  alone?: boolean;
  /** A fleet run's chain row: what its first recorded declaration said. */
  group?: GroupRecord;
  /** Fields of other versions, kept as they are. */
  other: Record<string, EntityValue>;
}

/**
 * What a fleet run is, as its first recorded declaration said (fleet/declare.ts): the only account of the
 * group anything believes. Its members are the member rows; what else it declared is here.
 */
export interface GroupRecord {
  /** How a later declaration is found equal or different (core/groupMessage.ts). */
  declaration: DeclarationDigest;
  /** For display, stored as every command and context is (cut with a visible marker). */
  command?: string;
  context?: Record<string, string>;
  /** Every member row and target row is written: members may act on the group. */
  declared: boolean;
}

type TargetPhase = 'pending' | 'claimed' | 'delivered' | 'failed' | 'skipped';

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
  other: Record<string, EntityValue>;
}

export interface CommandEntries {
  command?: CommandState;
  targets: TargetState[];
  /** A group's members (empty for a command). */
  members: MemberRow[];
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
  'alone',
  'declaration',
  'command',
  'context',
  'declared',
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
];

function readGroupRecord(e: StoredEntity): GroupRecord | undefined {
  let d: Partial<DeclarationDigest> | null;
  try {
    d = JSON.parse(str(e.declaration) ?? 'null') as Partial<DeclarationDigest> | null;
  } catch {
    return undefined;
  }
  const parts = ['members', 'command', 'targets', 'context'] as const;
  if (!d || typeof d !== 'object' || !parts.every((k) => typeof d[k] === 'string')) return undefined;
  const command = str(e.command);
  const context = parseContext(str(e.context));
  return {
    declaration: { members: d.members!, command: d.command!, targets: d.targets!, context: d.context! },
    ...(command !== undefined ? { command } : {}),
    ...(context ? { context } : {}),
    declared: e.declared === true,
  };
}

export function readCommand(e: StoredEntity): CommandState {
  const group = readGroupRecord(e);
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
    ...(e.alone === true ? { alone: true } : {}),
    ...(group ? { group } : {}),
    other: others(e, COMMAND_FIELDS),
  };
}

const PHASES: readonly TargetPhase[] = ['pending', 'claimed', 'delivered', 'failed', 'skipped'];

export function readTarget(e: StoredEntity): TargetState {
  const state = PHASES.includes(e.state as TargetPhase) ? (e.state as TargetPhase) : 'pending';
  const command = str(e.command);
  const context = parseContext(str(e.context));
  const lastError = str(e.lastError);
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
    ...(e.failure === 'permanent' || e.failure === 'expired' ? { failure: e.failure } : {}),
    ...(e.form === 'full' || e.form === 'minimal' ? { form: e.form } : {}),
    ...(str(e.deliveredAt) ? { deliveredAt: str(e.deliveredAt)! } : {}),
    ...(num(e.lagMs) !== undefined ? { lagMs: num(e.lagMs)! } : {}),
    ...(str(e.fingerprint) ? { fingerprint: str(e.fingerprint)! } : {}),
    ...(str(e.providerState) ? { providerState: str(e.providerState)! } : {}),
    ...(num(e.unsureSince) !== undefined ? { unsureSince: num(e.unsureSince)! } : {}),
    other: others(e, TARGET_FIELDS),
  };
}

export function commandEntity(pk: string, c: Omit<CommandState, 'etag' | 'timestampMs'>): NewEntity {
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
    alone: c.alone,
    ...(c.group
      ? {
          declaration: JSON.stringify(c.group.declaration),
          command: c.group.command?.slice(0, MAX_COMMAND_CHARS),
          context: contextText(c.group.context),
          declared: c.group.declared,
        }
      : {}),
  };
}

export function targetEntity(pk: string, t: Omit<TargetState, 'etag' | 'timestampMs'>): NewEntity {
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
