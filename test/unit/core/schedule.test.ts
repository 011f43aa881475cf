// The delays the app chooses: between polls, between retries of a start, between delivery rounds, and
// while a store is down.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  baseIntervalSeconds,
  cappedRetryAfterSeconds,
  decideAfterFailure,
  deliveryRoundDelaySeconds,
  MAX_QUEUE_DELAY_SECONDS,
  nextDelaySeconds,
  RETRY_AFTER_CAP_SECONDS,
  retryDelaySeconds,
  START_ATTEMPTS,
  START_RETRY_AFTER_CAP_SECONDS,
  startRetryDelaySeconds,
  storeRetryDelaySeconds,
} from '../../../src/core/schedule';

const S = { initialDelaySeconds: 5, maxDelaySeconds: 60 };
const at = (elapsedSeconds: number, extra = {}) =>
  nextDelaySeconds(S, { elapsedSeconds, remainingSeconds: 1e9, random: 0, ...extra });

describe('poll schedule', () => {
  it('starts at the initial delay, grows with 10% of the time waited, stops at the max', () => {
    assert.deepEqual(
      [0, 30, 50, 100, 300, 600, 6000].map((e) => at(e)),
      [5, 5, 5, 10, 30, 60, 60],
    );
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

describe('retries of a start (the runCommand POST)', () => {
  it('a connection never made backs off 1, 2, 4 s; a 429 waits its Retry-After; both stop after the last attempt', () => {
    assert.deepEqual(
      [1, 2, 3].map((attempt) => startRetryDelaySeconds({ attempt, refusal: 'not-connected' })),
      [1, 2, 4],
    );
    assert.equal(startRetryDelaySeconds({ attempt: START_ATTEMPTS, refusal: 'not-connected' }), undefined);
    assert.equal(startRetryDelaySeconds({ attempt: 1, refusal: 'throttled', retryAfterSeconds: 7.2 }), 8);
    assert.equal(startRetryDelaySeconds({ attempt: 2, refusal: 'throttled' }), 2, 'no Retry-After: the backoff');
    assert.equal(
      startRetryDelaySeconds({ attempt: START_ATTEMPTS, refusal: 'throttled', retryAfterSeconds: 1 }),
      undefined,
    );
  });
  it('a Retry-After beyond the bound is not waited out: the caller is told to try later', () => {
    assert.equal(
      startRetryDelaySeconds({ attempt: 1, refusal: 'throttled', retryAfterSeconds: START_RETRY_AFTER_CAP_SECONDS }),
      START_RETRY_AFTER_CAP_SECONDS,
    );
    assert.equal(
      startRetryDelaySeconds({
        attempt: 1,
        refusal: 'throttled',
        retryAfterSeconds: START_RETRY_AFTER_CAP_SECONDS + 1,
      }),
      undefined,
    );
    assert.equal(
      startRetryDelaySeconds({ attempt: 1, refusal: 'throttled', retryAfterSeconds: Infinity }),
      undefined,
      'a Retry-After too long to be a number',
    );
    assert.equal(startRetryDelaySeconds({ attempt: 1, refusal: 'throttled', retryAfterSeconds: NaN }), undefined);
  });
});

describe('delivery retries and deferrals', () => {
  const P = { maxDelaySeconds: 900 };
  it('back off from 2 s, doubling, jittered down by at most 20 %, up to the cap', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 9, 10, 11, 40].map((round) => retryDelaySeconds(P, { round, random: 0 })),
      [2, 4, 8, 16, 32, 512, 900, 900, 900],
    );
    for (const random of [0.5, 0.999]) assert.ok(retryDelaySeconds(P, { round: 5, random }) >= 26);
  });
  it("honour a Retry-After up to 15 minutes and the configured cap, never past the queue's 7 days", () => {
    assert.equal(retryDelaySeconds(P, { round: 1, random: 0, retryAfterSeconds: 30 }), 30);
    assert.equal(retryDelaySeconds(P, { round: 1, random: 0, retryAfterSeconds: 99_999_999 }), 900);
    assert.equal(
      retryDelaySeconds({ maxDelaySeconds: 10_000_000 }, { round: 1, random: 0, retryAfterSeconds: 99_999_999 }),
      RETRY_AFTER_CAP_SECONDS,
    );
    assert.equal(
      retryDelaySeconds({ maxDelaySeconds: 20 }, { round: 1, random: 0, retryAfterSeconds: 99_999_999 }),
      20,
    );
    assert.equal(cappedRetryAfterSeconds(-5, 900), 0);
    assert.ok(RETRY_AFTER_CAP_SECONDS < MAX_QUEUE_DELAY_SECONDS);
  });
  it('retry a refused full payload in its minimal form at once; end a refused minimal one, or a permanent answer', () => {
    assert.deepEqual(decideAfterFailure('refused', 'full'), { kind: 'retry-minimal' });
    assert.deepEqual(decideAfterFailure('refused', 'minimal'), { kind: 'give-up' });
    assert.deepEqual(decideAfterFailure('permanent', 'full'), { kind: 'give-up' });
    assert.deepEqual(decideAfterFailure('transient', 'minimal'), { kind: 'later' });
  });
  it('bring a round back when its first target may be tried, one second late for the Table clock, within the deadline', () => {
    assert.equal(deliveryRoundDelaySeconds(P, { waitsMs: [30_000, 2_000], msToDeadline: 1e9 }), 3);
    assert.equal(deliveryRoundDelaySeconds(P, { waitsMs: [5_000_000], msToDeadline: 1e9 }), 900);
    assert.equal(deliveryRoundDelaySeconds(P, { waitsMs: [60_000], msToDeadline: 10_000 }), 11);
  });
  it('wait out a store that is down no longer than the poll interval while polling', () => {
    const at = (stage: 'poll' | 'deliver', round: number) =>
      storeRetryDelaySeconds({ stage, round, deliveryMaxDelaySeconds: 900, pollMaxDelaySeconds: 60, random: 0 });
    assert.deepEqual(
      [1, 6, 20].map((r) => at('poll', r)),
      [2, 60, 60],
    );
    assert.deepEqual(
      [1, 6, 20].map((r) => at('deliver', r)),
      [2, 64, 900],
    );
  });
});
