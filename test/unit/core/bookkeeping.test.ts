// What the app adds to a message it re-enqueues (`_notifier`), read as a message carries it: field by field
// and tolerantly, so that a message of another version (a rolling deploy) is never poisoned for it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
  });
});
