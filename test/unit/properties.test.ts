// Property-based tests over the message parser and the ARM URL builder: whatever arrives, it ends as a
// valid command or a clear rejection, and no input yields a request outside the commandResults template
// or to another host.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { commandResultUrl } from '../../src/core/armUrl';
import { MessageError, parsePollRequest, serializePollRequest } from '../../src/core/message';
import { contextText, MAX_CONTEXT_STORED_CHARS, TRIMMED } from '../../src/store/ledgerRows';

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
