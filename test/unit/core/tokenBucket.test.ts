// The one token bucket (ARM reads per subscription, channel paces): the burst, then slots 1/rate apart, a slot
// kept for its holder, ARM's own count believed, bounded in memory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_KEYS, TokenBuckets } from '../../../src/core/tokenBucket';

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
  it('keeps at most 10,000 subscriptions, least recently used out, and stays small for a million', () => {
    const b = new TokenBuckets({ burst: 2, perSecond: 1 });
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1_000_000; i++) b.take(`00000000-0000-0000-0000-${String(i).padStart(12, '0')}`, i);
    gc?.();
    const grew = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
    console.log(`read budget: a million subscriptions, ${b.size} kept, heap grew ${grew.toFixed(1)} MB`);
    assert.equal(b.size, MAX_KEYS);
    assert.ok(grew < 50, `heap grew ${grew.toFixed(1)} MB for a million subscriptions`);
    // A subscription in use stays; the oldest unused one went first.
    const c = new TokenBuckets({ burst: 1, perSecond: 0.001 }, 2);
    c.take('a', 0);
    c.take('b', 0);
    c.take('a', 0);
    c.take('c', 0);
    assert.ok(c.take('a', 0) > 0, 'a is still spent (kept)');
    assert.equal(c.take('b', 0), 0, 'b was forgotten, so it starts full');
  });
  it('keeps a slot for its holder: back at its slot (or a little early) it goes without paying again', () => {
    const b = new TokenBuckets({ burst: 1, perSecond: 1 });
    assert.equal(b.take('s', 0, 'a'), 0);
    assert.equal(b.take('s', 0, 'b'), 1000, 'b owes the next token: its slot is in 1 s');
    assert.equal(b.take('s', 0, 'c'), 2000, 'c behind b');
    assert.equal(b.take('s', 500, 'b'), 500, 'too early: still waiting for its slot');
    assert.equal(b.take('s', 800, 'b'), 0, 'within the tolerance of its slot');
    assert.equal(b.take('s', 2000, 'c'), 0, 'c at its slot');
    assert.equal(b.take('s', 2000, 'd'), 1000, 'd after the two slots already paid for');
  });
  it('gives back the token of a slot its holder never came back for', () => {
    // One token per 1,000 s: refill alone would not cover the forgotten slot's debt in time.
    const b = new TokenBuckets({ burst: 1, perSecond: 0.001 });
    b.take('s', 0, 'a');
    assert.equal(b.take('s', 0, 'gone'), 1_000_000, "gone's slot is in 1,000 s");
    // Five minutes past that slot, 1.3 tokens have come back: 0.3 left after gone's debt, plus its token given back.
    const later = 1_000_000 + 5 * 60_000 + 1;
    assert.equal(b.take('s', later, 'x'), 0);
    assert.ok(b.take('s', later, 'gone') > 0, 'its slot was dropped: it queues anew');
  });
  it("takes a rate per call for keys that have their own (a channel's pace)", () => {
    const b = new TokenBuckets();
    const pace = { perSecond: 2, burst: 1 };
    assert.equal(b.take('channel', 0, 'x', pace), 0);
    assert.equal(b.take('channel', 0, 'y', pace), 500);
    assert.throws(() => b.take('other', 0), /no rate/);
  });
});
