// What a target row stores of a message's context: within its bound whatever the values, escaping
// included, every key kept, every cut marked (property-based). What a group's chain row keeps of its
// declaration, read back as written.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { declarationDigest } from '../../../src/core/groupMessage';
import { parseClusterResourceId } from '../../../src/core/message';
import { commandEntity, readCommand, type GroupRecord } from '../../../src/store/ledgerRows';
import { contextText, MAX_CONTEXT_STORED_CHARS, TRIMMED } from '../../../src/store/displayCopies';

describe('what the ledger stores of a context', () => {
  const value = fc.oneof(
    fc.string({ maxLength: 2048 }),
    fc.string({ unit: 'binary', maxLength: 2048 }),
    fc.constantFrom('"'.repeat(2048), '\u0001'.repeat(2048), '\ud800'.repeat(2048), '😀'.repeat(1024)),
  );
  it('fits its bound whatever the values (escaping included), keeps every key, and marks every cut', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[\w.-]{1,64}$/), value, { maxKeys: 20 }), (context) => {
        const text = contextText(context);
        if (Object.keys(context).length === 0) return assert.equal(text, undefined);
        assert.ok(text!.length <= MAX_CONTEXT_STORED_CHARS, `${text!.length}`);
        const back = JSON.parse(text!) as Record<string, string>;
        assert.deepEqual(Object.keys(back).sort(), Object.keys(context).sort());
        for (const [k, v] of Object.entries(back)) assert.ok(v === context[k] || v.endsWith(TRIMMED), k);
      }),
      { numRuns: 300 },
    );
  });
});

describe("a group's chain row", () => {
  it('keeps what its declaration said, and reads it back; a row without it has none', () => {
    const member = parseClusterResourceId(
      '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/a',
    );
    const group: GroupRecord = {
      declaration: declarationDigest({ members: [member], command: 'k get nodes', targets: ['ops'] }),
      command: 'k get nodes',
      context: { requestedBy: 'ana' },
      declared: true,
    };
    const chain = {
      clusterResourceId: '',
      commandId: 'g-1',
      firstSeenAt: '2026-01-01T00:00:00.000Z',
      deadlineAt: '2026-01-01T02:00:00.000Z',
      stage: 'poll' as const,
      gen: 1,
      pollLeaseMs: 1000,
      other: {},
    };
    const stored = { ...commandEntity('pk', { ...chain, group }), etag: 'e', timestampMs: 0 };
    assert.deepEqual(readCommand(stored).group, group);
    assert.deepEqual(readCommand(stored).other, {}, 'none of it taken for another version’s field');
    const plain = { ...commandEntity('pk', chain), etag: 'e', timestampMs: 0 };
    assert.equal(readCommand(plain).group, undefined);
    assert.equal(readCommand({ ...stored, declaration: '{"members":1}' }).group, undefined, 'a malformed one is none');
  });
});
