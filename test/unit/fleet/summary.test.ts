// A group's one settled summary, through the real handler in the memory world: two finishers racing to
// settle it (forced by a store that pauses at a named call) leave one summary, the one every member and
// every target sees.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ledger } from '../../../src/store/ledger';
import { groupKey } from '../../../src/store/ledgerRows';
import type { StoredResult } from '../../../src/store/results';
import { fleetWorld } from '../../support/fleetWorld';
import { pausing } from '../../support/pausing';

const MINUTE = 60_000;

describe('a group settles one summary', () => {
  it('two finishers: the second to write reads back the first one’s, so a member that relied on it is shown', async () => {
    const f = fleetWorld(['aks-a', 'aks-b']);
    const results = pausing(f.w.results);
    const table = pausing(f.w.store);
    f.w.deps.results = results.store;
    f.w.deps.ledger = new Ledger(table.store);

    assert.equal((await f.handle(f.declaration)).kind, 'requeued');
    f.finish(0, 0);
    assert.equal((await f.handle(f.tracking(0))).kind, 'notified');
    assert.equal((await f.handle(f.tracking(1))).kind, 'requeued', 'b runs');
    const chain = f.chain();

    // Past the group's deadline, b's command ends. The chain ends the group: it marks it final, reads the
    // rows (b still running), and stops just before writing its settled summary.
    f.w.clock.now += 126 * MINUTE;
    f.finish(1, 0);
    const settledWrite = results.pauseAt(
      'putIf',
      (_key: string, r: StoredResult) => r.answer.kind === 'group' && r.answer.settled,
    );
    const first = f.handle(chain);
    await Promise.race([settledWrite.reached, first.then(() => assert.fail('never settled'))]);

    // b's result lands in its row, after the final mark: it waits for the summary.
    assert.equal((await f.handle(f.of(1))).kind, 'deferred');
    // A second finisher (a copy of the declaration) settles from the rows as they are now, with b's result,
    // and stops before it claims the target.
    const claim = table.pauseAt(
      'replace',
      (e: Record<string, unknown>) =>
        e.partitionKey === groupKey(f.groupId) && e.rowKey === 'slack' && e.state === 'claimed',
    );
    const second = f.handle(f.declaration);
    await Promise.race([claim.reached, second.then(() => assert.fail('never claimed the target'))]);
    // b reads the settled summary, which shows it: its own result does not go to the target the summary tells.
    assert.equal((await f.handle(f.of(1))).kind, 'notified');

    // The first finisher goes on. It must not replace the summary b relied on.
    settledWrite.release();
    await first;
    claim.release();
    await second;

    const stored = await f.w.results.get(groupKey(f.groupId));
    assert.ok(stored?.answer.kind === 'group');
    const b = stored.answer.members.find((m) => m.cluster.resourceName === 'aks-b')!;
    assert.equal(b.state, 'final', 'the stored summary is the one b relied on');
    assert.equal(f.summaries('slack').length, 1, 'one summary');
    assert.equal(f.told('slack', 1), 1, 'b is told once, in the summary');
    assert.equal(f.told('slack', 0), 1);
  });
});
