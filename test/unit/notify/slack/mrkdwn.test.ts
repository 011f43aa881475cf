// Slack mrkdwn made safe for untrusted text: a code fence no run of backticks can close early.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guardCodeFence } from '../../../../src/notify/slack/mrkdwn';

describe('untrusted text helpers', () => {
  it('guards code fences against every run of backticks', () => {
    for (const s of ['`', '``', '```', 'a```b', '``````', 'x`']) {
      assert.doesNotMatch('```' + guardCodeFence(s) + '```', /.```.*```|^````|````$/, s);
    }
  });
});
