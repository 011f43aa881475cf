// The one token bucket (ARM reads per subscription, channel paces): the burst, then slots 1/rate apart, the
// app's rate shared by the instances alive, ARM's own count and 429s believed, slots that travel with the
// message, bounded in memory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_KEYS, shareOf, slotWait, TokenBuckets } from '../../../src/core/tokenBucket';

describe('TokenBuckets', () => {
  it('allows the burst, then spaces deferred polls 1/rate apart', () => {
    const b = new TokenBuckets({ burst: 3, perSecond: 10 });
    assert.deepEqual(
      [0, 0, 0].map(() => b.take('s', 0)),
      [0, 0, 0],
    );
    const waits = Array.from({ length: 5 }, () => b.take('s', 0));
    assert.deepEqual(waits, [100, 200, 300, 400, 500]);
  });
  it('refills at the rate, up to the burst', () => {
    const b = new TokenBuckets({ burst: 2, perSecond: 4 });
    b.take('s', 0);
    b.take('s', 0);
    assert.ok(b.take('s', 0) > 0);
    assert.equal(b.take('s', 10_000), 0);
    assert.equal(b.take('s', 10_000), 0);
    assert.ok(b.take('s', 10_000) > 0, 'never more than the burst');
  });
  it('keeps subscriptions apart', () => {
    const b = new TokenBuckets({ burst: 1, perSecond: 1 });
    assert.equal(b.take('a', 0), 0);
    assert.equal(b.take('b', 0), 0);
    assert.ok(b.take('a', 0) > 0);
  });
  it('believes ARM when it says less is left', () => {
    const b = new TokenBuckets({ burst: 100, perSecond: 10 });
    b.observe('s', 0, 0);
    assert.ok(b.take('s', 0) > 0);
    b.observe('s', undefined, 0);
    b.observe('s', 500, 1000);
    assert.equal(b.take('s', 1000), 0, 'a higher remaining does not add tokens');
  });
  // 200,000 subscriptions, 20 times the bound: a map that kept them all grows by about 27 MB (measured), a
  // bounded one by 2. A million took 8 s (each new key past the bound evicts the oldest) and found no more.
  it('keeps at most 10,000 subscriptions, least recently used out, and stays small for 200,000', () => {
    const b = new TokenBuckets({ burst: 2, perSecond: 1 });
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 200_000; i++) b.take(`00000000-0000-0000-0000-${String(i).padStart(12, '0')}`, i);
    gc?.();
    const grew = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
    console.log(`read budget: 200,000 subscriptions, ${b.size} kept, heap grew ${grew.toFixed(1)} MB`);
    assert.equal(b.size, MAX_KEYS);
    // The heap is measured after a collection: only with --expose-gc (test/run.ts passes it).
    if (gc) assert.ok(grew < 10, `heap grew ${grew.toFixed(1)} MB for 200,000 subscriptions`);
    // A subscription in use stays; the oldest unused one went first.
    const c = new TokenBuckets({ burst: 1, perSecond: 0.001 }, { maxKeys: 2 });
    c.take('a', 0);
    c.take('b', 0);
    c.take('a', 0);
    c.take('c', 0);
    assert.ok(c.take('a', 0) > 0, 'a is still spent (kept)');
    assert.equal(c.take('b', 0), 0, 'b was forgotten, so it starts full');
  });
  it("divides the app's rate among the instances alive, never below one token of burst", () => {
    let n = 1;
    const b = new TokenBuckets({ burst: 6, perSecond: 6 }, { instances: () => n });
    n = 3;
    assert.deepEqual(
      [0, 0, 0].map(() => b.take('s', 0)),
      [0, 0, 500],
      'a third of the burst (2), then slots 1/2 s apart (a third of the rate)',
    );
    n = 12;
    const c = new TokenBuckets({ burst: 6, perSecond: 6 }, { instances: () => n });
    assert.equal(c.take('s', 0), 0, 'half a token of burst is raised to one: a lone message still goes at once');
    assert.equal(c.take('s', 0), 2000, 'then one token per 2 s (6/s over 12)');
  });
  it('an instance joining shrinks what the others keep at once; their debts stay owed', () => {
    let n = 1;
    const b = new TokenBuckets({ burst: 10, perSecond: 10 }, { instances: () => n });
    assert.equal(b.take('s', 0), 0);
    n = 2;
    // 9 tokens kept by one instance are capped at 5 (half the burst) once a second shares the rate.
    const waits = Array.from({ length: 6 }, () => b.take('s', 1));
    assert.deepEqual(waits.slice(0, 5), [0, 0, 0, 0, 0]);
    assert.ok(waits[5]! > 0, 'the sixth waits: the share is 5');
  });
  it("believes ARM when it says less is left, as this instance's share of it", () => {
    const b = new TokenBuckets({ burst: 100, perSecond: 10 }, { instances: () => 4 });
    b.observe('s', 8, 0);
    assert.deepEqual(
      [0, 0, 0].map(() => b.take('s', 0) > 0),
      [false, false, true],
      '8 left for the app is 2 for one of 4 instances',
    );
  });
  it('after a 429 nothing more goes before its Retry-After', () => {
    const b = new TokenBuckets({ burst: 100, perSecond: 10 });
    b.refused('s', 3, 0);
    assert.ok(b.take('s', 0) >= 3000, 'the next read waits out the Retry-After');
    assert.equal(b.take('s', 5000), 0, 'and refills from then on');
  });
  it('tryNow takes a token only when one is there, and owes nothing when none is', () => {
    const b = new TokenBuckets({ burst: 1, perSecond: 1 });
    assert.deepEqual([b.tryNow('s', 0), b.tryNow('s', 0), b.tryNow('s', 0)], [true, false, false]);
    assert.equal(b.take('s', 0), 1000, 'refused tries left no debt');
  });
  it("takes a rate per call for keys that have their own (a channel's pace)", () => {
    const b = new TokenBuckets();
    const pace = { perSecond: 2, burst: 1 };
    assert.equal(b.take('channel', 0, pace), 0);
    assert.equal(b.take('channel', 0, pace), 500);
    assert.throws(() => b.take('other', 0), /no rate/);
  });
});

describe('slotWait: a slot a message carries', () => {
  const now = Date.parse('2026-12-02T10:00:00Z');
  it('goes at its slot (or a little early), waits when early, on any instance', () => {
    assert.equal(slotWait(now, now), 0);
    assert.equal(slotWait(now + 200, now), 0, 'within the tolerance');
    assert.equal(slotWait(now + 4000, now), 4000);
    assert.equal(slotWait(now - 4000, now), 0, 'a slot passed 4 s ago still goes');
  });
  it('is no slot when absent, long past or further ahead than any bucket gives', () => {
    assert.equal(slotWait(undefined, now), undefined);
    assert.equal(slotWait(now - 6000, now), undefined, 'more than 5 s past (a stalled host): it queues anew');
    assert.equal(slotWait(now + 7 * 3600_000, now), undefined);
    assert.equal(slotWait(Number.NaN, now), undefined);
  });
});

describe('shareOf', () => {
  it('divides rate and burst; the burst never drops below one token', () => {
    assert.deepEqual(shareOf({ perSecond: 20, burst: 200 }, 4), { perSecond: 5, burst: 50 });
    assert.deepEqual(shareOf({ perSecond: 1, burst: 3 }, 6), { perSecond: 1 / 6, burst: 1 });
    assert.deepEqual(shareOf({ perSecond: 1, burst: 3 }, 0), { perSecond: 1, burst: 3 }, 'never more than the whole');
  });
});
