// The fleet run's own messages: a declaration names every planned member once and round-trips, and its
// digest tells a copy from a different declaration part by part; a member not started carries its outcome
// and reason; a summary request says nothing but its group; anything else is a command's message.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseClusterResourceId, MessageError } from '../../../src/core/message';
import {
  declarationDiffers,
  declarationDigest,
  parseQueueMessage,
  serializeGroupRequest,
  serializeNotStarted,
  serializeSummaryRequest,
} from '../../../src/core/groupMessage';

const SUB = '11111111-2222-3333-4444-555555555555';
const id = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/rg-1/providers/Microsoft.ContainerService/managedClusters/${name}`;
const rejects = (raw: unknown, pattern: RegExp) =>
  assert.throws(
    () => parseQueueMessage(raw),
    (e: unknown) => e instanceof MessageError && pattern.test(e.message),
  );

describe('fleet messages', () => {
  it('a declaration round-trips with its members in order, its command, targets and context', () => {
    const req = {
      groupId: 'g-1',
      members: ['b', 'a', 'c'].map((n) => parseClusterResourceId(id(n))),
      command: 'kubectl get nodes',
      targets: ['ops'],
      context: { requestedBy: 'ana' },
    };
    const parsed = parseQueueMessage(serializeGroupRequest(req));
    assert.deepEqual(parsed, { kind: 'group', req });
  });

  it('a declaration names each cluster once (case-insensitively), at least one, at most 200', () => {
    rejects({ groupId: 'g', members: [id('a'), id('A')] }, /twice/);
    rejects({ groupId: 'g', members: [] }, /members/);
    rejects({ groupId: 'g', members: Array.from({ length: 201 }, (_, i) => id(`c-${i}`)) }, /at most 200/);
    rejects({ groupId: 'g/../x', members: [id('a')] }, /plain token/);
    rejects({ groupId: 'g', members: ['https://evil.example/x'] }, /./);
    rejects({ groupId: 'g', members: [id('a')], extra: 1 }, /extra|unrecognized/i);
  });

  it('a member not started carries its outcome and its reason', () => {
    const cluster = parseClusterResourceId(id('a'));
    const text = serializeNotStarted({ groupId: 'g', cluster, outcome: 'couldNotStart', reason: 'x'.repeat(5000) });
    const parsed = parseQueueMessage(text);
    assert.equal(parsed.kind, 'notStarted');
    if (parsed.kind !== 'notStarted') return;
    assert.deepEqual(parsed.req.cluster, cluster);
    assert.equal(parsed.req.outcome, 'couldNotStart');
    assert.equal(parsed.req.reason.length, 2048);
    rejects({ groupId: 'g', clusterResourceId: id('a'), notStarted: { outcome: 'succeeded', reason: '' } }, /outcome/);
  });

  it('a copy has the declaration’s digest; any change of members, command, targets or context is a difference', () => {
    const members = ['b', 'a'].map((n) => parseClusterResourceId(id(n)));
    const req: Parameters<typeof declarationDigest>[0] = {
      members,
      command: 'kubectl get nodes',
      targets: ['ops'],
      context: { requestedBy: 'ana', link: 'x' },
    };
    const recorded = declarationDigest(req);
    const copy = {
      ...req,
      // A member's id in another case, the context's keys in another order: the same declaration.
      members: [
        parseClusterResourceId(id('B').toUpperCase().replace('/MANAGEDCLUSTERS/', '/managedClusters/')),
        members[1]!,
      ],
      context: { link: 'x', requestedBy: 'ana' },
    };
    assert.deepEqual(declarationDiffers(recorded, declarationDigest(copy)), []);
    const differs = (change: Partial<typeof req>) =>
      declarationDiffers(recorded, declarationDigest({ ...req, ...change }));
    assert.deepEqual(differs({ members: [members[1]!, members[0]!] }), ['members'], 'the order is part of it');
    assert.deepEqual(differs({ members: [members[0]!] }), ['members']);
    assert.deepEqual(differs({ command: 'kubectl get nodes ' }), ['command'], 'byte for byte');
    assert.deepEqual(differs({ targets: ['default'] }), ['targets'], 'as declared, not as resolved');
    assert.deepEqual(differs({ targets: undefined }), ['targets']);
    assert.deepEqual(differs({ context: { requestedBy: 'ana' } }), ['context']);
  });

  it('a summary request names its group and nothing else', () => {
    const parsed = parseQueueMessage(serializeSummaryRequest({ groupId: 'g-1' }));
    assert.deepEqual(parsed, { kind: 'summary', req: { groupId: 'g-1' } });
    rejects({ groupId: 'g-1', deliverSummary: false }, /deliverSummary/);
    rejects({ groupId: 'g-1', deliverSummary: true, targets: ['ops'] }, /targets|unrecognized/i);
  });

  it("anything else is a command's message, with its group when it has one", () => {
    const parsed = parseQueueMessage({ clusterResourceId: id('a'), commandId: 'c1', groupId: 'g' });
    assert.equal(parsed.kind, 'command');
    if (parsed.kind === 'command') assert.equal(parsed.req.groupId, 'g');
    rejects({ clusterResourceId: id('a') }, /commandId/);
    rejects([1, 2], /JSON object/);
  });
});
