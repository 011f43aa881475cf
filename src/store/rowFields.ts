// How every kind of ledger row is read tolerantly: the version rows are written with, values read whatever
// type the store gives back, and fields this version does not know kept for the rewrite.
import type { EntityValue, StoredEntity } from './entityStore';

export const LEDGER_VERSION = 2;

export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v)
    ? v
    : typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)
      ? Number(v)
      : undefined;

export function others(e: StoredEntity, known: string[]): Record<string, EntityValue> {
  const out: Record<string, EntityValue> = {};
  for (const [k, v] of Object.entries(e)) {
    if (['partitionKey', 'rowKey', 'etag', 'timestampMs'].includes(k) || known.includes(k) || v === undefined) continue;
    out[k] = v;
  }
  return out;
}
