// Text as the app shows it: cleaned of escape sequences, controls, bidi and format characters and lone
// surrogates, clipped at a grapheme boundary, and the tail of logs kept with a count of what was cut.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cleanText, clip, tail } from '../../../src/core/text';

describe('hostile text: regressions', () => {
  it('cleans escape sequences with their payloads, controls, bidi and format characters, and lone surrogates', () => {
    assert.equal(cleanText('a\u001b]8;;https://evil.example\u0007link\u001b]8;;\u0007b'), 'alinkb');
    assert.equal(cleanText('a\u001b[31mred\u001b[0m\u009b1mb'), 'aredb');
    assert.equal(cleanText('x\u202eevil\u2066\u061c\ufeff\u200b\u0090y'), 'xevily');
    assert.equal(cleanText('a\u2028b\u0085c\r\nd'), 'a\nb\nc\nd');
    assert.equal(cleanText('\ud800x\udfff'), '\ufffdx\ufffd');
    assert.equal(cleanText('👨‍👩‍👧'), '👨‍👩‍👧', 'emoji sequences keep their joiners');
    assert.equal(clip('👨‍👩‍👧👨‍👩‍👧', 10), '👨‍👩‍👧…', 'cut at a grapheme boundary');
    assert.equal(clip('ée\u0301e\u0301', 3), 'é…');
  });
});

describe('untrusted text helpers', () => {
  it('tails keep the end and count what was cut', () => {
    const t = tail('a\nb\nc\nd\ne', 4);
    assert.equal(t.text, 'd\ne');
    assert.equal(t.omittedLines, 3);
    assert.equal(t.omittedBytes, 6);
  });
});
