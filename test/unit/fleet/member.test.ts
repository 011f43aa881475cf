// A fleet member's side of its group, through the real handler in the memory world: a member whose group is
// overdue (its chain late, a backlog) ends the group in the chain's stead and is in its summary; whether the
// late chain comes before, during (forced by a store that pauses at the final mark) or after, the member's
// result reaches each target once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterScope } from '../../../src/core/scope';
import { Ledger } from '../../../src/store/ledger';
import { COMMAND_ROW, groupKey } from '../../../src/store/ledgerRows';
import { fleetWorld, memberId, type FleetWorld } from '../../support/fleetWorld';
import { pausing } from '../../support/pausing';

const MINUTE = 60_000;

/** A group of two: b ends at once, a is still running when the group's chain falls behind. */
async function lateChain(): Promise<FleetWorld & { late: string }> {
  const f = fleetWorld(['aks-a', 'aks-b']);
  assert.equal((await f.handle(f.declaration)).kind, 'requeued');
  assert.equal((await f.handle(f.tracking(0))).kind, 'requeued', 'a runs');
  f.finish(1, 0);
  assert.equal((await f.handle(f.tracking(1))).kind, 'notified');
  // The chain's next tick is stuck in a backlog past the group's deadline and 10 minutes more.
  const late = f.chain();
  f.w.clock.now += 140 * MINUTE;
  f.finish(0, 3);
  return { ...f, late };
}

/** Whatever is left: the summary requests, each once. */
async function drain(f: FleetWorld): Promise<void> {
  for (const request of f.summaryRequests()) await f.handle(request);
}

describe('a member whose group is overdue', () => {
  it('ends the group, and is in its summary; the late chain then delivers that one summary, once', async () => {
    const f = await lateChain();
    assert.equal((await f.handle(f.of(0))).kind, 'notified');
    assert.equal(f.told('slack', 0), 0, "a is in the group's summary, not on its own");
    assert.equal(f.summaryRequests().length, 1, 'a asked for the summary to be delivered');
    assert.equal((await f.handle(f.late)).kind, 'notified');
    await drain(f);
    assert.equal(f.summaries('slack').length, 1);
    assert.equal(f.told('slack', 0), 1, 'a: in the summary, and only there');
    assert.equal(f.told('slack', 1), 1);
    assert.match(JSON.stringify(f.summaries('slack')[0]!.members), /"exitCode":3/);
  });

  it('when the chain is lost, the summary request delivers the summary', async () => {
    const f = await lateChain();
    await f.handle(f.of(0));
    await drain(f);
    assert.equal(f.summaries('slack').length, 1);
    assert.equal(f.told('slack', 0), 1);
  });

  it('when the chain ends the group while the member is ending it, the member is told once', async () => {
    const f = await lateChain();
    const table = pausing(f.w.store);
    f.w.deps.ledger = new Ledger(table.store);
    // a finds the group overdue and stops just before its final mark; the chain comes meanwhile.
    const mark = table.pauseAt(
      'replace',
      (e: Record<string, unknown>) =>
        e.partitionKey === groupKey(f.groupId) && e.rowKey === COMMAND_ROW && e.stage === 'final',
    );
    const member = f.handle(f.of(0));
    const first = await Promise.race([mark.reached.then(() => 'paused' as const), member.then(() => 'done' as const)]);
    assert.equal(first, 'paused', 'the member ends an overdue group itself');
    assert.equal((await f.handle(f.late)).kind, 'notified', 'the chain ends it first, with a in it');
    mark.release();
    assert.equal((await member).kind, 'notified');
    await drain(f);
    assert.equal(f.summaries('slack').length, 1);
    assert.equal(f.told('slack', 0), 1, 'a: in the summary, and only there');
  });

  it('set apart from a group not recorded in time, it stays apart when the declaration comes after all', async () => {
    const f = fleetWorld(['aks-a', 'aks-b'], ['slack', 'teams']);
    f.finish(0, 1);
    assert.equal((await f.handle(f.tracking(0))).kind, 'deferred', 'a waits for its group');
    // Ten minutes without a declaration: a is reported on its own; teams answers 503, to be tried again.
    f.w.clock.now += 11 * MINUTE;
    f.w.answers.set('teams', [{ ok: false, failure: 'transient', detail: 'Teams answered 503', status: 503 }]);
    assert.equal((await f.handle(f.of(0))).kind, 'deferred');
    assert.equal(f.told('slack', 0), 1);
    // The declaration comes after all, before a's next delivery round.
    assert.equal((await f.handle(f.declaration)).kind, 'requeued');
    f.w.clock.now += MINUTE;
    assert.equal((await f.handle(f.of(0))).kind, 'notified');
    f.finish(1, 0);
    assert.equal((await f.handle(f.tracking(1))).kind, 'notified');
    f.w.clock.now += 130 * MINUTE;
    assert.equal((await f.handle(f.chain())).kind, 'notified', 'the group ends at its deadline');
    assert.equal(f.summaries('slack').length, 1);
    assert.equal(f.told('slack', 0), 1, 'a: on its own, and not in the summary too');
    assert.equal(f.told('teams', 0), 1);
    assert.equal(f.told('slack', 1), 1);
  });

  it('a target that may no longer show the group (its _CLUSTERS changed) hears of the member on its own', async () => {
    const f = fleetWorld(['aks-a', 'aks-b'], ['slack', 'teams']);
    assert.equal((await f.handle(f.declaration)).kind, 'requeued');
    // A restart with NOTIFY_TARGET_…_CLUSTERS narrowed to a: the group's slack row is recorded, but the
    // summary may not go there, so it cannot tell a's result there.
    const slack = f.w.deps.targets.get('slack')!;
    (f.w.deps.targets as Map<string, typeof slack>).set('slack', {
      ...slack,
      scope: new ClusterScope([memberId('aks-a')]),
    });
    f.finish(0, 1);
    assert.equal((await f.handle(f.tracking(0))).kind, 'notified');
    assert.equal(f.told('slack', 0), 1, 'on its own');
    f.finish(1, 0);
    await f.handle(f.tracking(1));
    assert.equal((await f.handle(f.chain())).kind, 'notified');
    assert.equal(f.summaries('slack').length, 0, 'the summary may not go there');
    assert.equal(f.told('slack', 0), 1);
    assert.equal(f.told('teams', 0), 1, 'teams: in the summary');
    assert.equal(f.summaries('teams').length, 1);
  });
});
