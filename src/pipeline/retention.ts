// Retention: ledger rows and stored results older than LEDGER_RETENTION_DAYS are deleted. Rows are judged
// by their Table Timestamp (the server's clock), results by their blob's Last-Modified; every delete of a
// row is conditional on it being unchanged since it was read.
import type { Log } from '../log';
import type { EntityStore } from '../store/entityStore';
import type { ResultStore } from '../store/results';

/** Daily at 03:17 UTC (NCRONTAB), for the host's timer trigger and the worker alike. */
export const RETENTION_SCHEDULE = '0 17 3 * * *';

export interface SweepResult {
  rows: number;
  results: number;
}

export async function sweepOld(
  store: EntityStore,
  results: ResultStore,
  retentionDays: number,
  now: number,
  log: Log,
): Promise<SweepResult> {
  const cutoff = now - retentionDays * 24 * 3600_000;
  let rows = 0;
  let stored = 0;
  for await (const e of store.listOlderThan(cutoff)) {
    if (await store.delete(e.partitionKey, e.rowKey, e.etag)) rows++;
  }
  for await (const key of results.listOlderThan(cutoff)) {
    await results.delete(key);
    stored++;
  }
  log.info(
    `retention: deleted ${rows} ledger row(s) and ${stored} stored result(s) older than ${retentionDays} day(s)`,
  );
  return { rows, results: stored };
}
