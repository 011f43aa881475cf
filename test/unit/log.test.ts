// What the app logs: every form of a secret masked, every log line one line, bidi controls escaped.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeForLog } from '../../src/core/text';
import { createRedactor, oneLine, secretForms } from '../../src/log';

describe('redaction of every form of a secret', () => {
  const url = 'https://hooks.example.com/services/T0123/B0456/abcdefghijklmnopqrstuvwx';
  const redact = createRedactor([url, 'xoxb-1111-2222-abcdefabcdef']);
  for (const [form, text] of [
    ['as given', url],
    ['http instead of https', url.replace('https:', 'http:')],
    ['without a scheme', url.replace('https://', '')],
    ['the path alone', '/services/T0123/B0456/abcdefghijklmnopqrstuvwx'],
    ['URL-encoded', encodeURIComponent(url)],
    ['URL-encoded in lower case', encodeURIComponent(url).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())],
    ['JSON-escaped', JSON.stringify({ u: url }).replace(/\//g, '\\/')],
    ['a Slack bot token', 'token xoxb-1111-2222-abcdefabcdef'],
    ['a Slack webhook of another workspace', 'https://hooks.slack.com/services/T9/B9/zzzzzzzzzzzz'],
    [
      'a Teams workflow signature',
      'https://prod.westeurope.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version=1&sig=SECRET123456',
    ],
  ] as const) {
    it(form, () => {
      const out = redact(`before ${text} after`);
      assert.match(out, /\[redacted\]/, out);
      assert.doesNotMatch(out, /abcdefghijklmnopqrstuvwx|abcdefabcdef|zzzzzzzzzzzz|SECRET123456/, out);
    });
  }
  it('lists the forms it masks', () => {
    assert.ok(secretForms(url).length >= 8);
  });
  it('makes every log line one line', () => {
    assert.equal(
      oneLine('unknown field(s): "a\nFAKE: admin logged in"'),
      'unknown field(s): "a\\nFAKE: admin logged in"',
    );
  });
  it('escapes bidi controls, so a line reads as it is written', () => {
    for (const c of [
      '\u061c',
      '\u200e',
      '\u200f',
      '\u202a',
      '\u202b',
      '\u202c',
      '\u202d',
      '\u202e',
      '\u2066',
      '\u2067',
      '\u2068',
      '\u2069',
    ]) {
      const escaped = `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
      assert.equal(oneLine(`user ${c}nimda logged in`), `user ${escaped}nimda logged in`);
      assert.equal(escapeForLog(`field ${c}x`), `field ${escaped}x`);
    }
    assert.equal(
      oneLine('emoji 👩\u200d💻 stays'),
      'emoji 👩\u200d💻 stays',
      'a zero-width joiner is not a bidi control',
    );
  });
});
