import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReadBudget } from '../../src/core/readBudget';

describe('ARM read budget', () => {
  it('allows the burst, then spaces deferred polls 1/rate apart', () => {
    const b = new ReadBudget({ burst: 3, perSecond: 10 });
    assert.deepEqual([0, 0, 0].map(() => b.take('s', 0)), [0, 0, 0]);
    const waits = Array.from({ length: 5 }, () => b.take('s', 0));
    assert.deepEqual(waits, [100, 200, 300, 400, 500]);
  });
  it('refills at the rate, up to the burst', () => {
    const b = new ReadBudget({ burst: 2, perSecond: 4 });
    b.take('s', 0);
    b.take('s', 0);
    assert.ok(b.take('s', 0) > 0);
    assert.equal(b.take('s', 10_000), 0);
    assert.equal(b.take('s', 10_000), 0);
    assert.ok(b.take('s', 10_000) > 0, 'never more than the burst');
  });
  it('keeps subscriptions apart', () => {
    const b = new ReadBudget({ burst: 1, perSecond: 1 });
    assert.equal(b.take('a', 0), 0);
    assert.equal(b.take('b', 0), 0);
    assert.ok(b.take('a', 0) > 0);
  });
  it('believes ARM when it says less is left', () => {
    const b = new ReadBudget({ burst: 100, perSecond: 10 });
    b.observe('s', 0, 0);
    assert.ok(b.take('s', 0) > 0);
    b.observe('s', undefined, 0);
    b.observe('s', 500, 1000);
    assert.equal(b.take('s', 1000), 0, 'a higher remaining does not add tokens');
  });
});
