// Retention against Azurite: ledger rows (by their Table Timestamp) and stored results (by their blob's
// Last-Modified) older than LEDGER_RETENTION_DAYS are deleted; younger ones are kept.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sweepOld } from '../../src/pipeline/retention';
import { commandKey } from '../../src/store/ledgerRows';
import { CLUSTER, CLUSTER_ID, commandId, harness, setUpStack, stack, tearDownStack } from '../support/stack';

before(setUpStack);
after(tearDownStack);

const DAY = 24 * 3600_000;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('retention', () => {
  it('deletes rows and stored results older than the retention, and nothing younger', async () => {
    const h = await harness({
      DELIVERY_TABLE_NAME: `ret${commandId().slice(0, 10)}`,
      RESULT_CONTAINER_NAME: `ret-${commandId().slice(0, 10)}`,
    });
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'x' } });
    assert.equal((await h.invoke(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id }))).kind, 'notified');
    const key = commandKey(CLUSTER_ID, id);
    const rows = async () => (await h.rt.ledger.store.listPartition(key)).entities.length;
    assert.equal(await rows(), 3, 'the command row and one row per target');
    assert.ok(await h.rt.deps.results.get(key));

    // Seen 29 days from now, nothing is older than 30 days yet.
    assert.deepEqual(await sweepOld(h.rt.ledger.store, h.rt.deps.results, 30, Date.now() + 29 * DAY, quiet), {
      rows: 0,
      results: 0,
    });
    assert.equal(await rows(), 3);
    // Seen 31 days from now, all of it is — the read budget's row too (an idle app's starts anew, full).
    assert.deepEqual(await sweepOld(h.rt.ledger.store, h.rt.deps.results, 30, Date.now() + 31 * DAY, quiet), {
      rows: 4,
      results: 1,
    });
    assert.equal(await rows(), 0);
    assert.equal(await h.rt.deps.results.get(key), undefined);
  });
});
