// What the unit tests of the pipeline's stages share: one message through handleCommandMessage in a
// MemoryWorld (the real ledger logic over an in-memory table, on a settable clock), what it re-enqueued and
// what the ledger holds after, and stores that fail on cue (unreachable, or refusing a request).
import { handleCommandMessage } from '../../src/pipeline/journey';
import { StoreRejectedError, StoreUnavailableError, type EntityStore } from '../../src/store/entityStore';
import { commandKey, readTarget } from '../../src/store/ledgerRows';
import { CLUSTER_ID, quiet, type MemoryWorld } from './memory';

export const KEY = commandKey(CLUSTER_ID, 'abc');
export const finished = {
  kind: 'finished' as const,
  result: { provisioningState: 'Succeeded', exitCode: 0, finishedAt: '2026-01-01T00:00:00Z', logs: 'ok' },
};
/** The bookkeeping and targets of the message re-enqueued last (or the i-th). */
export const body = (w: MemoryWorld, i = -1) =>
  JSON.parse(w.sent.at(i)![0]) as { _notifier: Record<string, unknown>; targets?: string[] };
export const run = (w: MemoryWorld, text: string, id: string, extra: Partial<{ insertionTime: Date }> = {}) =>
  handleCommandMessage(text, { id, ...extra }, w.deps, quiet);
export const rows = async (w: MemoryWorld) => (await w.store.listPartition(KEY)).entities;
export const target = async (w: MemoryWorld, name: string) =>
  readTarget((await rows(w)).find((e) => e.rowKey === name)!);

/** Makes the store fail (as if Table storage were unreachable) while `down()` is true. */
export function flaky(store: EntityStore, down: () => boolean): EntityStore {
  const fail = () =>
    Promise.reject(new StoreUnavailableError('the delivery ledger (Table storage) failed: ECONNREFUSED on write'));
  return {
    listPartition: (pk) => (down() ? fail() : store.listPartition(pk)),
    insertAll: (e) => (down() ? fail() : store.insertAll(e)),
    replace: (e, etag) => (down() ? fail() : store.replace(e, etag)),
    merge: (e, etag) => (down() ? fail() : store.merge(e, etag)),
    delete: (pk, rk, etag) => (down() ? fail() : store.delete(pk, rk, etag)),
    listOlderThan: (c) => store.listOlderThan(c),
    listSince: (c) => store.listSince(c),
  };
}

/** A store that refuses, as Table storage does a request it will never take (PropertyValueTooLarge). */
export function refusing(store: EntityStore, refuses: (e: Record<string, unknown>) => boolean): EntityStore {
  return {
    ...flaky(store, () => false),
    insertAll: (es) =>
      es.some(refuses)
        ? Promise.reject(
            new StoreRejectedError(
              'the delivery ledger (Table storage) refused the insert with 400 PropertyValueTooLarge',
              400,
              'PropertyValueTooLarge',
            ),
          )
        : store.insertAll(es),
  };
}
