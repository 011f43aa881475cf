// A fleet member's row in its group's ledger partition (fleet/): which cluster, its place in the
// declaration, how far it got (planned, tracked, final, not started) and how its command ended.
import { createHash } from 'node:crypto';
import { memberId, MEMBER_OUTCOMES, type MemberOutcome, type MemberState } from '../core/group';
import { parseClusterResourceId } from '../core/message';
import type { EntityValue, NewEntity, StoredEntity } from './entityStore';
import { LEDGER_VERSION, num, others, str } from './rowFields';

/** Member rows start with a character no target name has. */
const MEMBER_PREFIX = '~m';

export function isMemberRow(rowKey: string): boolean {
  return rowKey.startsWith(MEMBER_PREFIX);
}

export function memberRowKey(cluster: Parameters<typeof memberId>[0]): string {
  return `${MEMBER_PREFIX}${createHash('sha256').update(memberId(cluster)).digest('hex').slice(0, 32)}`;
}

export interface MemberRow extends MemberState {
  etag: string;
  timestampMs: number;
  rowKey: string;
  other: Record<string, EntityValue>;
}

const MEMBER_FIELDS = [
  'v',
  'cluster',
  'index',
  'state',
  'commandId',
  'outcome',
  'exitCode',
  'durationSeconds',
  'error',
];
const MEMBER_STATES: readonly MemberState['state'][] = ['planned', 'tracked', 'final', 'notStarted'];

/** A member row, or undefined when it does not name a cluster (it is then left out of the summary). */
export function readMember(e: StoredEntity): MemberRow | undefined {
  let cluster;
  try {
    cluster = parseClusterResourceId(str(e.cluster) ?? '');
  } catch {
    return undefined;
  }
  const state = MEMBER_STATES.includes(e.state as MemberState['state']) ? (e.state as MemberState['state']) : 'planned';
  const outcome = MEMBER_OUTCOMES.includes(e.outcome as MemberOutcome) ? (e.outcome as MemberOutcome) : undefined;
  return {
    etag: e.etag,
    timestampMs: e.timestampMs,
    rowKey: e.rowKey,
    cluster,
    index: num(e.index) ?? 0,
    state,
    ...(str(e.commandId) ? { commandId: str(e.commandId)! } : {}),
    ...(outcome ? { outcome } : {}),
    ...(num(e.exitCode) !== undefined ? { exitCode: num(e.exitCode)! } : {}),
    ...(num(e.durationSeconds) !== undefined ? { durationSeconds: num(e.durationSeconds)! } : {}),
    ...(str(e.error) ? { error: str(e.error)! } : {}),
    other: others(e, MEMBER_FIELDS),
  };
}

export function memberEntity(pk: string, m: MemberState & { other?: Record<string, EntityValue> }): NewEntity {
  return {
    ...(m.other ?? {}),
    partitionKey: pk,
    rowKey: memberRowKey(m.cluster),
    v: LEDGER_VERSION,
    cluster: `/subscriptions/${m.cluster.subscriptionId}/resourceGroups/${m.cluster.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${m.cluster.resourceName}`,
    index: m.index,
    state: m.state,
    commandId: m.commandId,
    outcome: m.outcome,
    exitCode: m.exitCode,
    durationSeconds: m.durationSeconds !== undefined ? Math.round(m.durationSeconds) : undefined,
    error: m.error?.slice(0, 500),
  };
}
