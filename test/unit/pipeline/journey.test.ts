// One message through every stage, over the real ledger logic on an in-memory table and a settable clock:
// a store that refuses a request (a rejection, not an outage: recorded without the field, that target failed,
// or poisoned at once), and messages and ledger rows of other versions read without poisoning them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { handleCommandMessage } from '../../../src/pipeline/journey';
import { StoreRejectedError } from '../../../src/store/entityStore';
import { Ledger } from '../../../src/store/ledger';
import { MESSAGE, memoryWorld, quiet } from '../../support/memory';
import { finished, KEY, refusing, rows, run } from '../../support/stages';

describe('a store that refuses a request', () => {
  it("a refused copy is recorded without its command and context, and the result is delivered (shown from the message's own)", async () => {
    const w = memoryWorld();
    const errors: string[] = [];
    w.deps.ledger = new Ledger(refusing(w.store, (e) => e.context !== undefined));
    w.arm = [finished];
    const r = await handleCommandMessage(
      JSON.stringify({ ...JSON.parse(MESSAGE), command: 'kubectl get nodes', context: { who: 'me' } }),
      { id: 'm1' },
      w.deps,
      { ...quiet, error: (m) => errors.push(m) },
    );
    assert.equal(r.kind, 'notified', JSON.stringify(r));
    assert.match(
      errors.join('\n'),
      /refused the insert with 400 PropertyValueTooLarge .*recorded without this copy's command and context/,
    );
    assert.match(JSON.stringify(w.posted.get('slack')), /"who":"me"/);
  });

  it('a refusal in the delivery stage fails that target alone: the others are delivered, nothing is poisoned', async () => {
    const w = memoryWorld({}, ['slack', 'teams']);
    const store = w.store;
    const refused = new StoreRejectedError(
      'the delivery ledger (Table storage) refused the write with 400 InvalidInput',
      400,
      'InvalidInput',
    );
    w.deps.ledger = new Ledger({
      ...refusing(store, () => false),
      replace: (e, etag) =>
        e.rowKey === 'teams' && e.state === 'claimed' ? Promise.reject(refused) : store.replace(e, etag),
    });
    w.arm = [finished];
    const errors: string[] = [];
    const r = await handleCommandMessage(MESSAGE, { id: 'm1' }, w.deps, {
      ...quiet,
      error: (m) => errors.push(m),
    });
    assert.deepEqual(
      r.kind === 'notified' && r.results.map((x) => `${x.target}:${x.status}`).sort(),
      ['slack:delivered', 'teams:failed'],
      JSON.stringify(r),
    );
    assert.match(errors.join('\n'), /target teams: not delivered: .*refused the write with 400 InvalidInput/);
    assert.equal(w.poisoned.length, 0);
  });

  it('a refusal that persists goes to poison at once with its code, not into 24 hours of outage retries', async () => {
    const w = memoryWorld();
    w.deps.ledger = new Ledger(refusing(w.store, () => true));
    const r = await run(w, MESSAGE, 'm1');
    assert.ok(
      r.kind === 'poisoned' && /refused the insert with 400 PropertyValueTooLarge/.test(r.reason),
      JSON.stringify(r),
    );
    assert.equal(w.sent.length, 0, 'no deferral');
  });
});

describe('rolling deploys', () => {
  it('reads messages and ledger rows of other versions without poisoning them', async () => {
    const w = memoryWorld({}, ['slack', 'teams']);
    // 0.1's bookkeeping (no v, no gen) and a future version's unknown fields.
    const v1 = JSON.stringify({
      ...JSON.parse(MESSAGE),
      _notifier: {
        attempt: 3,
        firstSeenAt: '2025-12-31T23:50:00Z',
        deadlineAt: '2026-01-01T01:50:00Z',
        lastDelaySeconds: 6,
      },
    });
    assert.equal((await run(w, v1, 'old')).kind, 'requeued');
    const v3 = JSON.stringify({
      ...JSON.parse(MESSAGE),
      _notifier: { v: 3, attempt: 4, gen: 'x', shiny: { new: true }, stage: 'later' },
    });
    assert.notEqual((await run(w, v3, 'new')).kind, 'poisoned');
    // Rows of another version: slack delivered, teams claimed with a field this one does not know for its lease.
    const etagOf = async (rk: string) => (await rows(w)).find((e) => e.rowKey === rk)!.etag;
    await w.store.replace({ partitionKey: KEY, rowKey: 'slack', state: 'delivered' }, await etagOf('slack'));
    await w.store.replace(
      { partitionKey: KEY, rowKey: 'teams', state: 'claimed', until: w.clock.now - 1 },
      await etagOf('teams'),
    );
    w.arm = [finished];
    w.clock.now += 6000;
    const r = await run(w, w.sent.at(-1)![0], 'after');
    assert.deepEqual(r.kind === 'notified' && r.results.map((x) => `${x.target}:${x.status}`).sort(), [
      'slack:skipped',
      'teams:delivered',
    ]);
    assert.equal(w.posted.get('slack'), undefined);
  });
});
