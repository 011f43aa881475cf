// An instance's safe share of an app-wide rate: equal parts of the rate, a burst of at least one token.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shareOf } from '../../../src/core/share';

describe('shareOf', () => {
  it('divides rate and burst; the burst never drops below one token', () => {
    assert.deepEqual(shareOf({ perSecond: 20, burst: 200 }, 4), { perSecond: 5, burst: 50 });
    assert.deepEqual(shareOf({ perSecond: 1, burst: 3 }, 6), { perSecond: 1 / 6, burst: 1 });
    assert.deepEqual(shareOf({ perSecond: 1, burst: 3 }, 0), { perSecond: 1, burst: 3 }, 'never more than the whole');
  });
});
