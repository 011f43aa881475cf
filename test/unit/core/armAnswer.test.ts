// How an answer of ARM to a commandResults read is classified (running, finished, not found, forbidden,
// transient, rejected), and how its Retry-After is read.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyArmResponse, retryAfterSeconds } from '../../../src/core/armAnswer';

const res = (status: number, body?: unknown, headers: Record<string, string> = {}) => ({
  status,
  headers,
  bodyText: body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body),
});
const NOW = Date.parse('2026-01-01T00:00:00Z');

describe('classifying ARM answers', () => {
  it('202 is running, whatever the body', () => {
    assert.deepEqual(classifyArmResponse(res(202, { properties: { provisioningState: 'Running' } }), NOW), {
      kind: 'running',
      provisioningState: 'Running',
    });
    assert.deepEqual(classifyArmResponse(res(202), NOW), { kind: 'running', provisioningState: 'Running' });
    assert.deepEqual(classifyArmResponse(res(202, undefined, { 'retry-after': '7' }), NOW), {
      kind: 'running',
      provisioningState: 'Running',
      retryAfterSeconds: 7,
    });
  });

  it('200 with a non-final state keeps polling; final states compare case-insensitively', () => {
    assert.equal(classifyArmResponse(res(200, { properties: { provisioningState: 'Accepted' } }), NOW).kind, 'running');
    for (const state of ['Succeeded', 'succeeded', 'FAILED', 'Canceled']) {
      assert.equal(
        classifyArmResponse(res(200, { properties: { provisioningState: state } }), NOW).kind,
        'finished',
        state,
      );
    }
  });

  it('errors: 404 not found, 401/403 forbidden, 429/5xx/408 transient, others rejected', () => {
    assert.deepEqual(classifyArmResponse(res(404, { error: { code: 'NotFound', message: 'gone' } }), NOW), {
      kind: 'notFound',
      error: { code: 'NotFound', message: 'gone' },
    });
    assert.equal(classifyArmResponse(res(403), NOW).kind, 'forbidden');
    assert.equal(classifyArmResponse(res(401), NOW).kind, 'forbidden');
    const throttled = classifyArmResponse(res(429, undefined, { 'retry-after': '12' }), NOW);
    assert.deepEqual(throttled, {
      kind: 'transient',
      detail: 'ARM throttled the read (429)',
      status: 429,
      throttled: true,
      retryAfterSeconds: 12,
    });
    for (const s of [500, 502, 503, 504, 408])
      assert.equal(classifyArmResponse(res(s), NOW).kind, 'transient', String(s));
    for (const s of [400, 409, 302]) assert.equal(classifyArmResponse(res(s), NOW).kind, 'rejected', String(s));
  });

  it('malformed 200 answers are transient, not crashes', () => {
    assert.equal(classifyArmResponse(res(200, '{not json'), NOW).kind, 'transient');
    assert.equal(classifyArmResponse(res(200, {}), NOW).kind, 'transient');
    assert.equal(classifyArmResponse(res(200, { properties: {} }), NOW).kind, 'transient');
    assert.equal(classifyArmResponse(res(200, 'null'), NOW).kind, 'transient');
  });

  it('reads Retry-After as seconds, as a date, and x-ms-retry-after-ms', () => {
    assert.equal(retryAfterSeconds({ 'retry-after': '5' }, NOW), 5);
    assert.equal(retryAfterSeconds({ 'retry-after': new Date(NOW + 9000).toUTCString() }, NOW), 9);
    assert.equal(retryAfterSeconds({ 'x-ms-retry-after-ms': '1500' }, NOW), 1.5);
    assert.equal(retryAfterSeconds({ 'retry-after': 'soon' }, NOW), undefined);
  });
});
