// NCRONTAB as the Functions host reads it (sec min hour day month weekday): the next run of the timers'
// schedules, and a refusal of the forms the app does not use.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextRun } from '../../../src/core/ncrontab';

describe('timer schedules', () => {
  it('find the next run as the host would', () => {
    const at = (schedule: string, iso: string) => new Date(nextRun(schedule, Date.parse(iso))).toISOString();
    assert.equal(at('0 17 3 * * *', '2026-11-28T01:00:00Z'), '2026-11-28T03:17:00.000Z');
    assert.equal(at('0 17 3 * * *', '2026-11-28T03:17:00Z'), '2026-11-29T03:17:00.000Z');
    assert.equal(at('0 17 3 * * *', '2026-12-31T23:59:59Z'), '2027-01-01T03:17:00.000Z');
    assert.equal(at('0 */5 * * * *', '2026-11-28T01:02:03Z'), '2026-11-28T01:05:00.000Z');
    assert.equal(at('0 */5 * * * *', '2026-11-28T01:55:00Z'), '2026-11-28T02:00:00.000Z');
    assert.throws(() => nextRun('*/5 * * * * *', 0), /only "sec min hour/);
    assert.throws(() => nextRun('0 0 0 1 * *', 0), /only "sec min hour/);
  });
});
