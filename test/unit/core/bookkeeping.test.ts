// What the app adds to a message it re-enqueues (`_notifier`), read as a message carries it: field by field
// and tolerantly, so that a message of another version (a rolling deploy) is never poisoned for it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ownsChain } from '../../../src/core/bookkeeping';
import { parsePollRequest } from '../../../src/core/message';

const ID =
  '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-1/providers/Microsoft.ContainerService/managedClusters/aks-1';

describe('bookkeeping', () => {
  it('reads bookkeeping tolerantly: malformed or unknown fields are dropped, never fatal (rolling deploys)', () => {
    const read = (b: unknown) => parsePollRequest({ clusterResourceId: ID, commandId: 'a', _notifier: b }).bookkeeping;
    assert.deepEqual(
      read({ attempt: 1, firstSeenAt: '2026-01-01T00:00:00Z', deadlineAt: '2026-02-01T00:00:00Z' }),
      { attempt: 1 },
      'a span over 7 days is dropped',
    );
    assert.deepEqual(read({ attempt: -1, firstSeenAt: 'x', deadlineAt: 'y', gen: 1.5 }), { attempt: 0 });
    assert.deepEqual(read({ v: 9, attempt: 3, stage: 'deliver', future: { x: 1 } }), {
      v: 9,
      attempt: 3,
      stage: 'deliver',
      ignored: ['future'],
    });
    assert.equal(read('garbage'), undefined);
    assert.deepEqual(read({ attempt: 1, parent: '3f2c1a9e-0b4d-4e8f-9a6b-1c2d3e4f5a6b' }), {
      attempt: 1,
      parent: '3f2c1a9e-0b4d-4e8f-9a6b-1c2d3e4f5a6b',
    });
    assert.deepEqual(read({ attempt: 1, parent: 'x'.repeat(101) }), { attempt: 1 }, 'a parent id is bounded');
    assert.deepEqual(read({ attempt: 1, parent: 'a b\n' }), { attempt: 1 });
  });

  it("a copy owns the chain when it made the row, is the row's owner or the owner's re-enqueued copy, or holds its ETag", () => {
    const row = { owner: 'm1', etag: 'E2' };
    const owns = (id: string | undefined, book: { etag?: string; parent?: string }, created = false) =>
      ownsChain(row, { ...(id ? { id } : {}), book, created });
    assert.equal(owns('m9', {}, true), true, 'it made the row');
    assert.equal(owns('m1', {}), true, 'a redelivery of the copy that took the last step');
    assert.equal(owns('m2', { parent: 'm1' }), true, 'a copy the owner re-enqueued (after an outage, say)');
    assert.equal(owns('m2', { etag: 'E2' }), true, "the row's ETag");
    assert.equal(owns('m2', { etag: 'E1', parent: 'm0' }), false, 'a stale fork');
    assert.equal(owns(undefined, {}), false);
    assert.equal(ownsChain({ etag: 'E2' }, { book: { parent: 'm1' }, created: false }), false, 'no owner recorded');
  });
});
