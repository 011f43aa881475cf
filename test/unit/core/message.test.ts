// The queue message contract: what parsePollRequest accepts and how it normalizes it, how a message
// round-trips with its bookkeeping, and what it rejects, with a clear reason.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageError, parsePollRequest, serializePollRequest } from '../../../src/core/message';
import { commandResultUrl } from '../../../src/core/armUrl';

const SUB = '11111111-2222-3333-4444-555555555555';
const ID = `/subscriptions/${SUB}/resourceGroups/rg-1/providers/Microsoft.ContainerService/managedClusters/aks-1`;

const rejects = (raw: unknown, pattern: RegExp) =>
  assert.throws(
    () => parsePollRequest(raw),
    (e: unknown) => e instanceof MessageError && pattern.test(e.message),
  );

describe('message contract', () => {
  it('accepts the resource id form, the API page form, objects, raw JSON and base64 JSON alike', () => {
    const a = parsePollRequest({ clusterResourceId: ID, commandId: 'abc123' });
    const b = parsePollRequest(
      JSON.stringify({ subscriptionId: SUB, resourceGroupName: 'rg-1', resourceName: 'aks-1', commandId: 'abc123' }),
    );
    const c = parsePollRequest(
      Buffer.from(JSON.stringify({ clusterResourceId: ID, commandId: 'abc123' })).toString('base64'),
    );
    assert.deepEqual(a, b);
    assert.deepEqual(a, c);
    assert.deepEqual(a.cluster, { subscriptionId: SUB, resourceGroupName: 'rg-1', resourceName: 'aks-1' });
  });

  it('matches the resource id case-insensitively, as ARM does', () => {
    const r = parsePollRequest({
      clusterResourceId: ID.replace('resourceGroups', 'resourcegroups').replace(
        'Microsoft.ContainerService',
        'microsoft.containerservice',
      ),
      commandId: 'x',
    });
    assert.equal(r.cluster.resourceName, 'aks-1');
  });

  it('round-trips through serialize with bookkeeping', () => {
    const req = parsePollRequest({
      clusterResourceId: ID,
      commandId: 'abc',
      command: 'kubectl get ns',
      targets: ['ops'],
      context: { n: 1, ok: true, who: 'me' },
    });
    assert.deepEqual(req.context, { n: '1', ok: 'true', who: 'me' });
    const withBook = {
      ...req,
      bookkeeping: {
        attempt: 2,
        firstSeenAt: '2026-01-01T00:00:00.000Z',
        deadlineAt: '2026-01-01T02:00:00.000Z',
        lastDelaySeconds: 5,
        gen: 7,
        etag: 'W/"x"',
        stage: 'poll' as const,
      },
    };
    assert.deepEqual(parsePollRequest(serializePollRequest(withBook)), {
      ...withBook,
      bookkeeping: { ...withBook.bookkeeping, v: 2 },
    });
  });

  it('rejects what is not a valid command with a clear reason', () => {
    rejects('', /empty/);
    rejects('hello', /neither JSON nor base64/);
    rejects('{"a":', /not valid JSON/);
    rejects('[1,2]', /base64|JSON object/);
    rejects({ commandId: 'a' }, /clusterResourceId .*is required/);
    rejects({ clusterResourceId: ID }, /commandId/);
    rejects({ clusterResourceId: ID, commandId: 'a', extra: 1 }, /unknown field\(s\): "extra"/);
    rejects({ clusterResourceId: ID, commandId: 'a', subscriptionId: SUB }, /not both/);
    rejects(
      { subscriptionId: 'nope', resourceGroupName: 'rg', resourceName: 'aks', commandId: 'a' },
      /subscriptionId must be a UUID/,
    );
    rejects(
      { clusterResourceId: ID.replace('managedClusters', 'virtualMachines'), commandId: 'a' },
      /clusterResourceId must be/,
    );
    rejects({ clusterResourceId: ID, commandId: 'a', targets: [] }, /targets/);
    rejects('{"x":"' + 'a'.repeat(70 * 1024) + '"}', /larger than/);
  });

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

  it('rejects separators, traversal and encodings in every path field', () => {
    const evil = ['..', '../x', 'a/b', 'a?b', 'a#b', '%2F', 'a%2e%2e', 'a\\b', 'a b', '.', 'a\u0000', 'ａ/b'];
    for (const e of evil) {
      rejects({ clusterResourceId: ID, commandId: e }, /commandId/);
      rejects({ subscriptionId: SUB, resourceGroupName: 'rg', resourceName: e, commandId: 'a' }, /resourceName/);
      assert.throws(
        () =>
          parsePollRequest({
            subscriptionId: SUB,
            resourceGroupName: `${e}`.replace(/^\.$/, '..'),
            resourceName: 'aks',
            commandId: 'a',
          }),
        MessageError,
        `resourceGroupName ${JSON.stringify(e)}`,
      );
    }
    rejects({ clusterResourceId: `${ID}/commandResults/x`, commandId: 'a' }, /clusterResourceId must be/);
    rejects({ clusterResourceId: `https://evil.example${ID}`, commandId: 'a' }, /clusterResourceId must be/);
  });

  it('resource group names follow Azure rules (unicode, parentheses, no trailing period)', () => {
    assert.equal(
      parsePollRequest({ subscriptionId: SUB, resourceGroupName: 'Rg_(prod).eu-1', resourceName: 'a', commandId: 'a' })
        .cluster.resourceGroupName,
      'Rg_(prod).eu-1',
    );
    assert.equal(
      parsePollRequest({ subscriptionId: SUB, resourceGroupName: 'groupe-é', resourceName: 'a', commandId: 'a' })
        .cluster.resourceGroupName,
      'groupe-é',
    );
    rejects({ subscriptionId: SUB, resourceGroupName: 'rg.', resourceName: 'a', commandId: 'a' }, /resourceGroupName/);
    rejects(
      { subscriptionId: SUB, resourceGroupName: 'r'.repeat(91), resourceName: 'a', commandId: 'a' },
      /resourceGroupName/,
    );
  });
});

describe('ARM URL', () => {
  it('is the commandResults template on the ARM host, with segments encoded', () => {
    const url = commandResultUrl(
      'https://management.azure.com',
      { subscriptionId: SUB, resourceGroupName: 'groupe-é(1)', resourceName: 'aks-1' },
      'abc',
      '2024-09-01',
    );
    assert.equal(
      url,
      `https://management.azure.com/subscriptions/${SUB}/resourceGroups/groupe-%C3%A9(1)/providers/Microsoft.ContainerService/managedClusters/aks-1/commandResults/abc?api-version=2024-09-01`,
    );
  });
  it('refuses segments that would leave the template', () => {
    assert.throws(() =>
      commandResultUrl(
        'https://management.azure.com',
        { subscriptionId: SUB, resourceGroupName: 'rg', resourceName: 'aks' },
        '../x',
        '2024-09-01',
      ),
    );
    assert.throws(() =>
      commandResultUrl(
        'https://management.azure.com',
        { subscriptionId: SUB, resourceGroupName: '..', resourceName: 'aks' },
        'x',
        '2024-09-01',
      ),
    );
  });
});
