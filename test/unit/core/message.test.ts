// The queue message contract: what parsePollRequest accepts and how it normalizes it, how a message
// round-trips with its bookkeeping, and what it rejects, with a clear reason. Then property-based tests:
// whatever arrives ends as a valid command or a clear rejection, and no accepted message yields a request
// outside the commandResults template or to another host.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { commandResultUrl } from '../../../src/core/armUrl';
import { MessageError, parsePollRequest, serializePollRequest } from '../../../src/core/message';

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

const ARM = 'https://management.azure.com';
const RUNS = 3000;
const TEMPLATE =
  /^\/subscriptions\/[0-9a-fA-F-]{36}\/resourceGroups\/[^/?#]+\/providers\/Microsoft\.ContainerService\/managedClusters\/[A-Za-z0-9_-]+\/commandResults\/[A-Za-z0-9_-]+$/;

const TRICKS = [
  '..',
  '.',
  '/',
  '\\',
  '%2f',
  '%2F',
  '%2e%2e',
  '%252f',
  '?',
  '#',
  '@',
  ':',
  '％２ｆ',
  '．．',
  '／',
  '\u2215',
  '\u0000',
  '\n',
  ' ',
  '&',
  '=',
  'https://evil.example',
  '//evil.example',
  '\u202e',
  'é',
  '(',
  ')',
  '_',
  '-',
];
const piece = fc.oneof(
  fc.constantFrom(...TRICKS),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,10}$/),
  fc.uuid(),
);
const field = fc.array(piece, { minLength: 1, maxLength: 4 }).map((parts) => parts.join(''));
/** Mostly hostile, often valid: so that valid, mixed and hostile combinations all occur. */
const fieldOr = (valid: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 2, arbitrary: valid }, { weight: 3, arbitrary: field });
const token = fc.stringMatching(/^[A-Za-z0-9][-_A-Za-z0-9]{0,10}[A-Za-z0-9]$/);

/** Either a valid command or a MessageError; anything else is a bug. */
function outcome(raw: unknown): ReturnType<typeof parsePollRequest> | MessageError {
  try {
    return parsePollRequest(raw);
  } catch (err) {
    if (err instanceof MessageError) {
      assert.ok(err.message.length > 5, 'the rejection says why');
      return err;
    }
    throw err;
  }
}

/** For an accepted message: the URL stays on ARM, inside the template, and round-trips its fields. */
function checkUrl(req: ReturnType<typeof parsePollRequest>): void {
  const url = new URL(commandResultUrl(ARM, req.cluster, req.commandId, '2024-09-01'));
  assert.equal(url.origin, ARM);
  assert.match(url.pathname, TEMPLATE);
  assert.deepEqual([...url.searchParams.keys()], ['api-version']);
  const segments = url.pathname.split('/').map(decodeURIComponent);
  assert.deepEqual(
    [segments[2], segments[4], segments[8], segments[10]],
    [req.cluster.subscriptionId, req.cluster.resourceGroupName, req.cluster.resourceName, req.commandId],
  );
  for (const s of segments) assert.ok(s !== '.' && s !== '..');
}

describe('hostile input (property-based)', () => {
  it('arbitrary strings end as a command or a clear rejection', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => void outcome(s)),
      { numRuns: RUNS },
    );
  });

  it('JSON of every shape ends as a command or a clear rejection', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const r1 = outcome(v);
        const r2 = outcome(JSON.stringify(v) ?? 'null');
        if (!(r1 instanceof MessageError)) checkUrl(r1);
        if (!(r2 instanceof MessageError)) checkUrl(r2);
      }),
      { numRuns: RUNS },
    );
  });

  it('base64 of garbage ends as a clear rejection', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const r = outcome(Buffer.from(bytes).toString('base64'));
        if (!(r instanceof MessageError)) checkUrl(r);
      }),
      { numRuns: RUNS },
    );
  });

  it('traversal, encodings and unicode tricks in every path field never leave the template', () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        fieldOr(fc.uuid()),
        fieldOr(token),
        fieldOr(token),
        fieldOr(token),
        fc.boolean(),
        (sub, rg, name, id, asResourceId) => {
          const msg = asResourceId
            ? {
                clusterResourceId: `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.ContainerService/managedClusters/${name}`,
                commandId: id,
              }
            : { subscriptionId: sub, resourceGroupName: rg, resourceName: name, commandId: id };
          for (const raw of [msg, JSON.stringify(msg), Buffer.from(JSON.stringify(msg)).toString('base64')]) {
            const r = outcome(raw);
            if (r instanceof MessageError) continue;
            accepted++;
            checkUrl(r);
            assert.deepEqual(
              parsePollRequest(serializePollRequest(r)),
              r,
              'what we write back parses to the same command',
            );
          }
        },
      ),
      { numRuns: RUNS },
    );
    assert.ok(accepted > 0, 'the generator also produces valid commands');
  });

  it('valid commands with arbitrary optional fields always produce a URL inside the template', () => {
    const valid = fc.record({
      subscriptionId: fc.uuid(),
      resourceGroupName: fc.stringMatching(/^[-\w.()]{0,20}[-\w()]$/),
      resourceName: fc.stringMatching(/^[a-zA-Z0-9](?:[-_a-zA-Z0-9]{0,20}[a-zA-Z0-9])?$/),
      commandId: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,40}$/),
      command: fc.string({ unit: 'grapheme', maxLength: 200 }),
      context: fc.dictionary(fc.stringMatching(/^[\w.-]{1,20}$/), fc.string({ maxLength: 50 }), { maxKeys: 5 }),
    });
    fc.assert(
      fc.property(valid, (m) => {
        const r = outcome(m);
        assert.ok(!(r instanceof MessageError), r instanceof MessageError ? r.message : '');
        checkUrl(r);
      }),
      { numRuns: RUNS },
    );
  });

  it('64 KB messages are handled, not crashed on', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 60_000, maxLength: 70_000 }),
        fc.constantFrom('command', 'commandId', 'junk'),
        (big, key) => {
          const r = outcome({
            clusterResourceId: `/subscriptions/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks`,
            commandId: 'abc',
            [key]: big,
          });
          assert.ok(r instanceof MessageError);
        },
      ),
      { numRuns: 20 },
    );
  });
});
