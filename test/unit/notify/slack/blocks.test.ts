// The Slack renderer (Block Kit): every outcome × log size within Block Kit's limits, the end of the logs kept
// in exactly one code block, untrusted text kept inert, mentions only where configured.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OUTCOMES, type CommandReport } from '../../../../src/core/report';
import { tail } from '../../../../src/core/text';
import { slackPayloadProblem } from '../../../../dev/webhookReceivers';
import { sampleReport } from '../../../../src/notify/samples';
import { SLACK_LIMITS, type SlackPayload } from '../../../../src/notify/slack/blocks';
import { ARM, HOSTILE, LOGS, mrkdwnTexts, reportWithLogs, slackOf } from '../../../support/rendering';

function slackTexts(p: SlackPayload): string[] {
  const out: string[] = [];
  for (const b of p.blocks) {
    const text = (b.text as { text?: string } | undefined)?.text;
    if (text) out.push(text);
    for (const f of (b.fields as { text: string }[] | undefined) ?? []) out.push(f.text);
    for (const e of (b.elements as { text?: unknown }[] | undefined) ?? [])
      if (typeof e.text === 'string') out.push(e.text);
  }
  return out;
}

describe('Slack messages', () => {
  for (const outcome of OUTCOMES) {
    for (const [size, logs] of Object.entries(LOGS)) {
      it(`${outcome} with ${size} logs stays within Block Kit limits`, () => {
        const p = slackOf(reportWithLogs(outcome, logs), {
          armEndpoint: ARM,
          includeLogs: true,
          mention: '<!subteam^S0OPS>',
        });
        assert.equal(slackPayloadProblem(p), undefined);
        assert.ok(p.blocks.length <= SLACK_LIMITS.blocks);
        assert.ok(
          JSON.stringify(p.blocks).length <= SLACK_LIMITS.blocksTotal,
          `blocks ${JSON.stringify(p.blocks).length}`,
        );
        assert.ok(p.text.length <= 40_000);
        for (const t of slackTexts(p)) assert.ok(t.length <= SLACK_LIMITS.sectionText, `text of ${t.length}`);
        const logSection = slackTexts(p).find((t) => t.startsWith('*Logs*'));
        if (logs?.trim()) {
          assert.ok(logSection, 'logs are shown');
          assert.equal(logSection.match(/```/g)?.length, 2, 'exactly one code block, whatever the logs hold');
          if (size !== '512 kB backticks')
            assert.ok(
              logSection
                .replace(/\u200b/g, '')
                .includes(
                  tail(logs, 40).text.slice(-10).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'),
                ),
              'the end of the logs is kept',
            );
          if (logs.length > 3000) assert.match(logSection, /… \d+ lines? \([\d.]+ (?:B|KiB|MiB)\) omitted/);
        } else {
          assert.equal(logSection, undefined);
        }
      });
    }
  }

  it('keeps mentions, links and formatting from untrusted text inert', () => {
    const report = {
      ...sampleReport('exitCode', HOSTILE),
      command: HOSTILE,
      reason: HOSTILE,
      context: { note: HOSTILE },
    };
    const p = slackOf(report, { armEndpoint: ARM, includeLogs: true });
    const all = slackTexts(p).join('\n') + p.text;
    assert.doesNotMatch(all, /<!(channel|here|subteam)/);
    assert.doesNotMatch(all, /<@U/);
    assert.doesNotMatch(all, /<https:\/\/evil/);
    assert.doesNotMatch(all, /\u001b|\u202e/);
    for (const t of slackTexts(p))
      assert.equal((t.match(/```/g)?.length ?? 0) % 2, 0, `unbalanced fence in ${t.slice(0, 80)}`);
    // Only our own portal link is a link.
    assert.deepEqual(
      all.match(/<https?:[^>]*>/g)?.map((l) => l.split('|')[0]),
      [`<https://portal.azure.com/#resource${report.clusterResourceId}/overview`],
    );
  });

  it('mentions only where configured, and only on failures', () => {
    const mention = '<!subteam^S0OPS>';
    assert.ok(
      slackOf(sampleReport('exitCode'), { armEndpoint: ARM, includeLogs: true, mention }).text.startsWith(mention),
    );
    assert.ok(
      !JSON.stringify(slackOf(sampleReport('succeeded'), { armEndpoint: ARM, includeLogs: true, mention })).includes(
        mention,
      ),
    );
    assert.ok(
      !JSON.stringify(slackOf(sampleReport('exitCode'), { armEndpoint: ARM, includeLogs: true })).includes('<!'),
    );
  });

  it('leaves logs out when the target says so', () => {
    const p = slackOf(sampleReport('exitCode', 'secret-ish output'), { armEndpoint: ARM, includeLogs: false });
    assert.ok(!JSON.stringify(p).includes('secret-ish output'));
  });
});

describe('hostile text: regressions', () => {
  const failed = (reason: string): CommandReport => ({ ...sampleReport('failed'), reason });

  it("ARM's reason never reaches Slack's notification text, and is escaped wherever it is shown", () => {
    const p = slackOf(failed('<!channel> <https://evil.example/login|Re-run the pipeline>'), {
      armEndpoint: ARM,
      includeLogs: true,
    });
    assert.doesNotMatch(p.text, /<!channel>|evil/);
    const mrkdwn = JSON.stringify(mrkdwnTexts(p));
    assert.doesNotMatch(mrkdwn, /<!channel>|<https:\/\/evil/);
    assert.match(mrkdwn, /&lt;!channel&gt;/, 'shown, as text');
    // The header is plain_text, which Slack never parses: the reason is shown there as it is.
    const header = p.blocks[0] as { text: { type: string; text: string } };
    assert.deepEqual([header.text.type, header.text.text.includes('Re-run the pipeline')], ['plain_text', true]);
  });
});
