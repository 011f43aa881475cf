// What a target row stores of a message's context: within its bound whatever the values, escaping
// included, every key kept, every cut marked (property-based).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { contextText, MAX_CONTEXT_STORED_CHARS, TRIMMED } from '../../../src/store/ledgerRows';

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
