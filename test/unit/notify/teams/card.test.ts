// The Teams card: within Teams' size limit whatever the logs, untrusted text only in TextRuns, every card
// valid Adaptive Card 1.4.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEAMS_MAX_BYTES } from '../../../../src/notify/teams/card';
import { TEAMS_MAX_REQUEST_BYTES } from '../../../../dev/webhookReceivers';
import { OUTCOMES } from '../../../../src/core/report';
import { sampleReport } from '../../../../src/notify/samples';
import { cardProblems } from '../../../support/cards';
import { ARM, checkTeams, HOSTILE, LOGS, reportWithLogs, teamsOf } from '../../../support/rendering';

describe('Teams cards', () => {
  for (const outcome of OUTCOMES) {
    for (const [size, logs] of Object.entries(LOGS)) {
      it(`${outcome} with ${size} logs is a valid 1.4 card under the size limit`, () => {
        const p = teamsOf(reportWithLogs(outcome, logs), {
          armEndpoint: ARM,
          includeLogs: true,
          mention: 'oncall@contoso.com|On-call',
        });
        const bytes = Buffer.byteLength(JSON.stringify(p), 'utf8');
        assert.ok(bytes <= TEAMS_MAX_BYTES, `${bytes} bytes`);
        assert.ok(bytes < TEAMS_MAX_REQUEST_BYTES);
        assert.equal(p.type, 'message');
        assert.equal(p.attachments[0].contentType, 'application/vnd.microsoft.card.adaptive');
        assert.deepEqual(cardProblems(p.attachments[0].content), []);
        const json = JSON.stringify(p);
        if (logs?.trim() && size !== '512 kB backticks')
          assert.ok(json.includes(JSON.stringify(logs.slice(-8)).slice(1, -1)), 'the end of the logs is kept');
        if (logs && logs.length > 20_000) assert.match(json, /… \d+ lines? \([\d.]+ (?:B|KiB|MiB)\) omitted/);
      });
    }
  }

  it('puts untrusted text only in TextRuns, which Teams never renders as markdown', () => {
    const report = {
      ...sampleReport('failed', HOSTILE),
      command: HOSTILE,
      reason: HOSTILE,
      context: { note: HOSTILE },
    };
    const card = teamsOf(report, { armEndpoint: ARM, includeLogs: true }).attachments[0].content;
    assert.deepEqual(cardProblems(card), []);
    const markdownTexts: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (!node || typeof node !== 'object') return;
      const o = node as Record<string, unknown>;
      if (o.type === 'TextBlock') markdownTexts.push(String(o.text));
      if (o.type === 'FactSet')
        for (const f of o.facts as { title: string; value: string }[]) markdownTexts.push(f.title, f.value);
      Object.values(o).forEach(walk);
    };
    walk(card);
    for (const t of markdownTexts) assert.doesNotMatch(t, /evil|\[click|<!channel|`/, t);
  });

  it('mentions only where configured, and only on failures', () => {
    const mention = 'oncall@contoso.com|On-call';
    const failed = teamsOf(sampleReport('failed'), { armEndpoint: ARM, includeLogs: true, mention }).attachments[0]
      .content;
    assert.deepEqual((failed.msteams as { entities: unknown[] }).entities, [
      { type: 'mention', text: '<at>On-call</at>', mentioned: { id: 'oncall@contoso.com', name: 'On-call' } },
    ]);
    const ok = teamsOf(sampleReport('succeeded'), { armEndpoint: ARM, includeLogs: true, mention }).attachments[0]
      .content;
    assert.equal((ok.msteams as { entities?: unknown }).entities, undefined);
    assert.ok(!JSON.stringify(ok).includes('<at>'));
  });
});

describe('hostile text: regressions', () => {
  it('20 context values of multi-byte text with lone surrogates: the Teams request stays under 24 KB', () => {
    const context = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, '\ud800'.repeat(2048)]));
    const p = teamsOf(
      { ...sampleReport('exitCode', 'x\n'.repeat(30_000)), context },
      { armEndpoint: ARM, includeLogs: true },
    );
    assert.ok(Buffer.byteLength(JSON.stringify(p), 'utf8') <= TEAMS_MAX_BYTES);
    checkTeams(p);
    assert.match(JSON.stringify(p), /trimmed to fit the channel's size limit: context/);
  });
});
