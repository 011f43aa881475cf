// The app's shared budget: one timeline of slots in a table row, whichever instance asks; takers waiting
// together share one write; a row lost to another writer is read again; a table out of reach leaves the
// safe local share (1/MAX_INSTANCE_COUNT), never a stop; a 429 holds every instance back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryEntityStore } from '../../../dev/memoryStores';
import { BUDGET_FALLBACK_MS } from '../../../src/core/schedule';
import type { EntityStore } from '../../../src/store/entityStore';
import { budgetPartition, readBudgetRow, SharedBudget } from '../../../src/store/sharedBudget';
import { flaky } from '../../support/stages';

const rate = { burst: 4, perSecond: 2 };

function instances(store: EntityStore, clock: { now: number }, n: number) {
  const events: string[] = [];
  const budgets = Array.from(
    { length: n },
    () =>
      new SharedBudget(store, {
        queueName: 'q',
        prefix: 'arm.',
        rate,
        maxInstances: 8,
        now: () => clock.now,
        monotonic: () => clock.now,
        onLease: (e) => events.push(e),
      }),
  );
  return { budgets, events };
}

describe('SharedBudget', () => {
  it('six instances draw from one bucket: the burst once, then slots 1/rate apart across them all', async () => {
    const clock = { now: Date.parse('2026-12-02T10:00:00Z') };
    const store = new MemoryEntityStore(() => clock.now);
    const { budgets, events } = instances(store, clock, 6);
    const waits: number[] = [];
    for (const b of budgets) waits.push(await b.take('sub', 0));
    for (const b of budgets) waits.push(await b.take('sub', 0));
    assert.deepEqual(
      waits,
      [0, 0, 0, 0, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000],
      'as one bucket would: 4 at once, then one every 500 ms',
    );
    assert.ok(events.includes('conflict'), 'instances writing from stale ETags read the row again');
    const row = readBudgetRow((await store.listPartition(budgetPartition('q'))).entities[0]!);
    assert.equal(row.key, 'arm.sub');
    assert.equal(row.slots, 12);
  });

  it('takers waiting together on one instance share one lease (one write)', async () => {
    const clock = { now: Date.parse('2026-12-02T10:00:00Z') };
    const store = new MemoryEntityStore(() => clock.now);
    const { budgets, events } = instances(store, clock, 1);
    const waits = await Promise.all(Array.from({ length: 10 }, () => budgets[0]!.take('sub', 0)));
    assert.deepEqual(waits, [0, 0, 0, 0, 500, 1000, 1500, 2000, 2500, 3000]);
    assert.ok(events.filter((e) => e === 'lease').length <= 2, events.join());
  });

  it('a 429 holds every instance back for its Retry-After; what ARM says is left is believed', async () => {
    const clock = { now: Date.parse('2026-12-02T10:00:00Z') };
    const store = new MemoryEntityStore(() => clock.now);
    const { budgets } = instances(store, clock, 2);
    await budgets[0]!.take('sub', 0);
    budgets[0]!.refused('sub', 5);
    await budgets[0]!.take('sub', 0);
    assert.ok((await budgets[1]!.take('sub', 0)) >= 5000, 'the other instance waits it out too');
    const fresh = instances(new MemoryEntityStore(() => clock.now), clock, 1).budgets[0]!;
    fresh.observe('sub', 1);
    assert.deepEqual([await fresh.take('sub', 0), (await fresh.take('sub', 0)) > 0], [0, true]);
  });

  it('with the table out of reach it keeps to the safe local share, then goes back to the row', async () => {
    const clock = { now: Date.parse('2026-12-02T10:00:00Z') };
    let down = true;
    const store = flaky(new MemoryEntityStore(() => clock.now), () => down);
    const { budgets, events } = instances(store, clock, 1);
    const b = budgets[0]!;
    // 1/8 of the rate: a burst of one token, then one per 4 s. Slower, never stopped.
    assert.deepEqual([await b.take('sub', 0), await b.take('sub', 0)], [0, 4000]);
    assert.ok(events.includes('fallback'));
    down = false;
    clock.now += BUDGET_FALLBACK_MS;
    assert.equal(await b.take('sub', 0), 0);
    assert.equal(events.at(-1), 'lease', 'the row again');
  });

  it('leases ahead what the instance took in the last second, and spends what passes unused', async () => {
    const clock = { now: Date.parse('2026-12-02T10:00:00Z') };
    const store = new MemoryEntityStore(() => clock.now);
    const { budgets, events } = instances(store, clock, 1);
    const b = budgets[0]!;
    for (let i = 0; i < 3; i++) await b.take('sub', 0);
    clock.now += 1000;
    const before = events.filter((e) => e === 'lease').length;
    await b.take('sub', 0);
    await b.take('sub', 0);
    await b.take('sub', 0);
    assert.equal(events.filter((e) => e === 'lease').length, before + 1, 'one write for the three: 3/s ahead');
    await b.take('sub', 0);
    clock.now += 1000;
    const leased = (await store.listPartition(budgetPartition('q'))).entities.map(readBudgetRow)[0]!.slots;
    clock.now += 5000;
    await b.take('sub', 0);
    assert.ok(events.includes('unused'), 'a slot leased ahead whose time passed is dropped, not used late');
    assert.ok(leased >= 7);
  });

  it('tryNow takes a token only if one is there now, and leaves no debt when there is none', async () => {
    const clock = { now: Date.parse('2026-12-02T10:00:00Z') };
    const store = new MemoryEntityStore(() => clock.now);
    const { budgets } = instances(store, clock, 2);
    const [a, b] = budgets as [SharedBudget, SharedBudget];
    const got = [];
    for (let i = 0; i < 6; i++) got.push(await a.tryNow('sub'));
    assert.deepEqual(got, [true, true, true, true, false, false], 'the burst of 4, then nothing');
    // A hundred refused tries (polls of running commands) owe nothing: the next take waits one refill only.
    for (let i = 0; i < 100; i++) await b.tryNow('sub');
    assert.equal(await b.take('sub', 0), 500);
  });
});
