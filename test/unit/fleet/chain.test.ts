// A fleet run's journey, through the real handler in the memory world: its first declaration is recorded
// before its members are, and members act on the group only once every member row is written; a
// declaration cut short by an outage is completed by its next copy, and nothing is lost meanwhile.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ledger } from '../../../src/store/ledger';
import { StoreUnavailableError } from '../../../src/store/entityStore';
import { isMemberRow } from '../../../src/store/memberRows';
import { fleetWorld } from '../../support/fleetWorld';

describe("a group's declaration", () => {
  it('cut short before its members are written: members wait, and its next copy completes it', async () => {
    const f = fleetWorld(['aks-a', 'aks-b']);
    const store = f.w.store;
    let down = true;
    f.w.deps.ledger = new Ledger(
      new Proxy(store, {
        get(target, property, receiver) {
          if (property === 'insertAll' && down)
            return (entities: { rowKey: string }[]) =>
              entities.some((e) => isMemberRow(e.rowKey))
                ? Promise.reject(new StoreUnavailableError('the delivery ledger (Table storage) timed out on insert'))
                : target.insertAll(entities as never);
          const value = Reflect.get(target, property, receiver) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      }),
    );
    assert.equal((await f.handle(f.declaration)).kind, 'deferred', 'recorded, its members not yet');
    const retry = f.latest((m) => 'members' in m);

    // a's result comes meanwhile: the group is recorded but not declared, so a waits (never guesses).
    f.finish(0, 1);
    assert.equal((await f.handle(f.tracking(0))).kind, 'deferred');
    assert.equal(f.told('slack', 0), 0);

    down = false;
    assert.equal((await f.handle(retry)).kind, 'requeued', 'its next copy writes the members and goes on');
    assert.equal((await f.handle(f.of(0))).kind, 'notified', 'a is in the group now');
    f.finish(1, 0);
    assert.equal((await f.handle(f.tracking(1))).kind, 'notified');
    assert.equal((await f.handle(f.chain())).kind, 'notified');
    assert.equal(f.summaries('slack').length, 1);
    assert.equal(f.told('slack', 0), 1);
    assert.equal(f.told('slack', 1), 1);
  });
});
