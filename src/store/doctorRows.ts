// Where a doctor run's answer lives in the ledger, so that the CLI on an operator's machine reads what the
// deployed function found: one row in the run's partition (beside its test notification's target rows),
// and one row per cluster that holds its last doctor read, which bounds how often any producer can make
// the function read that cluster.
import { createHash } from 'node:crypto';
import { DOCTOR_CLUSTER_READ_EVERY_MS, type ClusterReadResult, type DoctorAnswer } from '../core/doctor';
import type { EntityStore } from './entityStore';

const ANSWER_ROW = '~doctor';
const READ_ROW = '~read';
/** A Table string property holds 32K UTF-16 characters; the answer is bounded well below. */
const MAX_ANSWER_CHARS = 30_000;

/** A doctor run's partition: its answer, and its test notification's command and target rows. */
export function doctorKey(id: string): string {
  return createHash('sha256').update(`doctor|${id}`).digest('hex');
}

function clusterReadKey(clusterId: string): string {
  return createHash('sha256').update(`doctor-read|${clusterId.toLowerCase()}`).digest('hex');
}

/** Writes the answer once (a copy of the message finds it there and leaves it). */
export async function writeDoctorAnswer(store: EntityStore, answer: DoctorAnswer): Promise<void> {
  await store.insertAll([{ partitionKey: doctorKey(answer.id), rowKey: ANSWER_ROW, answer: boundedJson(answer) }]);
}

/** The answer as JSON within a Table property: details shortened first, then targets left out (and said so). */
export function boundedJson(answer: DoctorAnswer): string {
  let json = JSON.stringify(answer);
  if (json.length <= MAX_ANSWER_CHARS) return json;
  const short = (t: string) => (t.length > 200 ? `${t.slice(0, 199)}…` : t);
  const shortened: DoctorAnswer = {
    ...answer,
    clusters: answer.clusters.map((c) => ({ ...c, detail: short(c.detail) })),
    targets: answer.targets.map((t) => ({
      ...t,
      where: short(t.where),
      clusters: short(t.clusters),
      checks: t.checks.map((c) => ({ ...c, detail: short(c.detail) })),
    })),
    truncated: true,
  };
  for (let keep = shortened.targets.length; ; keep = Math.floor(keep / 2)) {
    json = JSON.stringify({ ...shortened, targets: shortened.targets.slice(0, keep) });
    if (json.length <= MAX_ANSWER_CHARS || keep === 0) return json;
  }
}

export async function readDoctorAnswer(store: EntityStore, id: string): Promise<DoctorAnswer | undefined> {
  const { entities } = await store.listPartition(doctorKey(id));
  const row = entities.find((e) => e.rowKey === ANSWER_ROW);
  if (!row || typeof row.answer !== 'string') return undefined;
  try {
    return JSON.parse(row.answer) as DoctorAnswer;
  } catch {
    return undefined;
  }
}

export interface ClusterReadRecord {
  result: ClusterReadResult;
  detail: string;
  readAt: string;
}

/**
 * A cluster's doctor read, bounded: the last one if it is under a minute old (on the store's clock), or
 * `read()`'s, recorded before ARM is asked (a claim on the row, so that two doctor runs at once read once).
 * `busy`: another run claimed the read just now.
 */
export async function boundedClusterRead(
  store: EntityStore,
  clusterId: string,
  read: () => Promise<{ result: ClusterReadResult; detail: string }>,
): Promise<ClusterReadRecord & { cached: boolean }> {
  const partitionKey = clusterReadKey(clusterId);
  const { entities, serverNow } = await store.listPartition(partitionKey);
  const last = entities.find((e) => e.rowKey === READ_ROW);
  const lastAt = typeof last?.readAt === 'string' ? Date.parse(last.readAt) : Number.NaN;
  if (last && serverNow - lastAt < DOCTOR_CLUSTER_READ_EVERY_MS) {
    if (typeof last.result === 'string' && typeof last.detail === 'string')
      return {
        result: last.result as ClusterReadResult,
        detail: last.detail,
        readAt: last.readAt as string,
        cached: true,
      };
    return {
      result: 'busy',
      detail: 'another doctor run is reading this cluster now; try again in a minute',
      readAt: last.readAt as string,
      cached: true,
    };
  }
  const readAt = new Date(serverNow).toISOString();
  const claim = { partitionKey, rowKey: READ_ROW, readAt };
  const claimed = last ? await store.replace(claim, last.etag) : (await store.insertAll([claim])) ? true : undefined;
  if (!claimed) {
    return {
      result: 'busy',
      detail: 'another doctor run is reading this cluster now; try again in a minute',
      readAt,
      cached: true,
    };
  }
  const answer = await read();
  const written = await store.listPartition(partitionKey);
  const mine = written.entities.find((e) => e.rowKey === READ_ROW && e.readAt === readAt);
  if (mine)
    await store.merge({ partitionKey, rowKey: READ_ROW, result: answer.result, detail: answer.detail }, mine.etag);
  return { ...answer, readAt, cached: false };
}
