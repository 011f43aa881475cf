import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { baseIntervalSeconds, nextDelaySeconds } from '../../src/core/schedule';

const S = { initialDelaySeconds: 5, maxDelaySeconds: 60 };
const at = (elapsedSeconds: number, extra = {}) => nextDelaySeconds(S, { elapsedSeconds, remainingSeconds: 1e9, random: 0, ...extra });

describe('poll schedule', () => {
  it('starts at the initial delay, grows with 10% of the time waited, stops at the max', () => {
    assert.deepEqual([0, 30, 50, 100, 300, 600, 6000].map((e) => at(e)), [5, 5, 5, 10, 30, 60, 60]);
    assert.equal(baseIntervalSeconds(S, 120), 12);
  });
  it('jitter only shortens a delay, by at most 20%', () => {
    for (const random of [0, 0.25, 0.5, 0.999]) {
      const d = at(300, { random });
      assert.ok(d <= 30 && d >= 24, `${random} -> ${d}`);
    }
  });
  it('honours Retry-After up to the max delay, rounding up', () => {
    assert.equal(at(0, { retryAfterSeconds: 7 }), 7);
    assert.equal(at(0, { retryAfterSeconds: 2.2 }), 5, 'a shorter Retry-After does not speed polling up');
    assert.equal(at(0, { retryAfterSeconds: 7.2 }), 8);
    assert.equal(at(0, { retryAfterSeconds: 3600 }), 60);
  });
  it('backs off from the last delay when throttled', () => {
    assert.equal(at(0, { throttled: true, lastDelaySeconds: 8 }), 16);
    assert.equal(at(0, { throttled: true, lastDelaySeconds: 50 }), 60);
  });
  it('lands the last poll on the deadline and never goes below one second', () => {
    assert.equal(at(1000, { remainingSeconds: 12 }), 12);
    assert.equal(at(1000, { remainingSeconds: 0.2 }), 1);
  });
});
