// Every outcome × log size against Slack's and Teams' limits, untrusted text kept inert, cards valid.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OUTCOMES, type CommandReport } from '../../../../src/core/report';
import { tail } from '../../../../src/core/text';
import { slackPayloadProblem, TEAMS_MAX_REQUEST_BYTES } from '../../../../dev/webhookReceivers';
import { sampleReport } from '../../../../src/notify/samples';
import { renderSlack, SLACK_LIMITS, type SlackPayload } from '../../../../src/notify/slack/blocks';
import { guardCodeFence } from '../../../../src/notify/slack/mrkdwn';
import { renderTeams, TEAMS_MAX_BYTES } from '../../../../src/notify/providers/teams';
import { cardProblems } from '../../../support/cards';
import { mrkdwnTexts } from '../../../support/rendering';

const ARM = 'https://management.azure.com';
const HOSTILE = [
  '<!channel> <!here> <@U012AB3CD> <!subteam^S123>',
  '<https://evil.example/login|Azure portal> [click here](https://evil.example) ![img](https://evil.example/x.png)',
  '```',
  '`````` code ```',
  '*bold* _it_ ~strike~ # heading',
  '&lt;already escaped&gt; & <b>',
  '\u001b[31mred\u001b[0m \u202eevil\u202c',
  'emoji 🚀 and 中文 and é',
].join('\n');

function lines(n: number, width = 80): string {
  return Array.from({ length: n }, (_, i) => `line ${String(i).padStart(6, '0')} ${'x'.repeat(width - 12)}`).join('\n');
}

const LOGS: Record<string, string | undefined> = {
  none: undefined,
  empty: '',
  'one line': 'namespace dummy created',
  '3 kB': lines(40),
  '100 kB': lines(1300),
  '512 kB': lines(6600),
  '512 kB hostile': `${`${HOSTILE}\n`.repeat(2400)}LAST LINE`,
  '512 kB backticks': '`'.repeat(512 * 1024),
  '512 kB one line of <': '<'.repeat(512 * 1024),
  '512 kB multibyte': '🚀'.repeat(128 * 1024),
};

/** A sample report of that outcome carrying exactly these logs (or none). */
function report(outcome: (typeof OUTCOMES)[number], logs: string | undefined): CommandReport {
  const { logs: _sample, ...rest } = sampleReport(outcome);
  return logs === undefined ? rest : { ...rest, logs };
}

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
        const p = renderSlack(report(outcome, logs), {
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
          if (logs.length > 3000) assert.match(logSection, /… \d+ lines? \([\d.]+ (kB|B)\) omitted/);
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
    const p = renderSlack(report, { armEndpoint: ARM, includeLogs: true });
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
      renderSlack(sampleReport('exitCode'), { armEndpoint: ARM, includeLogs: true, mention }).text.startsWith(mention),
    );
    assert.ok(
      !JSON.stringify(
        renderSlack(sampleReport('succeeded'), { armEndpoint: ARM, includeLogs: true, mention }),
      ).includes(mention),
    );
    assert.ok(
      !JSON.stringify(renderSlack(sampleReport('exitCode'), { armEndpoint: ARM, includeLogs: true })).includes('<!'),
    );
  });

  it('leaves logs out when the target says so', () => {
    const p = renderSlack(sampleReport('exitCode', 'secret-ish output'), { armEndpoint: ARM, includeLogs: false });
    assert.ok(!JSON.stringify(p).includes('secret-ish output'));
  });
});

describe('hostile text: regressions', () => {
  const failed = (reason: string): CommandReport => ({ ...sampleReport('failed'), reason });

  it("ARM's reason never reaches Slack's notification text, and is escaped wherever it is shown", () => {
    const p = renderSlack(failed('<!channel> <https://evil.example/login|Re-run the pipeline>'), {
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

describe('Teams cards', () => {
  for (const outcome of OUTCOMES) {
    for (const [size, logs] of Object.entries(LOGS)) {
      it(`${outcome} with ${size} logs is a valid 1.4 card under the size limit`, () => {
        const p = renderTeams(report(outcome, logs), {
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
        if (logs && logs.length > 20_000) assert.match(json, /… \d+ lines? \([\d.]+ kB\) omitted/);
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
    const card = renderTeams(report, { armEndpoint: ARM, includeLogs: true }).attachments[0].content;
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
    const failed = renderTeams(sampleReport('failed'), { armEndpoint: ARM, includeLogs: true, mention }).attachments[0]
      .content;
    assert.deepEqual((failed.msteams as { entities: unknown[] }).entities, [
      { type: 'mention', text: '<at>On-call</at>', mentioned: { id: 'oncall@contoso.com', name: 'On-call' } },
    ]);
    const ok = renderTeams(sampleReport('succeeded'), { armEndpoint: ARM, includeLogs: true, mention }).attachments[0]
      .content;
    assert.equal((ok.msteams as { entities?: unknown }).entities, undefined);
    assert.ok(!JSON.stringify(ok).includes('<at>'));
  });
});

describe('untrusted text helpers', () => {
  it('guards code fences against every run of backticks', () => {
    for (const s of ['`', '``', '```', 'a```b', '``````', 'x`']) {
      assert.doesNotMatch('```' + guardCodeFence(s) + '```', /.```.*```|^````|````$/, s);
    }
  });
  it('tails keep the end and count what was cut', () => {
    const t = tail('a\nb\nc\nd\ne', 4);
    assert.equal(t.text, 'd\ne');
    assert.equal(t.omittedLines, 3);
    assert.equal(t.omittedBytes, 6);
  });
});

describe('preview', () => {
  it('prints the exact payload of every outcome for the example targets', async () => {
    const { runPreview } = await import('../../../../src/cli/preview');
    for (const outcome of OUTCOMES) {
      let out = '';
      runPreview({ outcome, targets: ['teams'] }, { write: (s: string) => ((out += s), true) });
      const json = JSON.parse(out.slice(out.indexOf('\n') + 1)) as { attachments: { content: unknown }[] };
      assert.deepEqual(cardProblems(json.attachments[0]!.content), [], outcome);
    }
    assert.throws(() => runPreview({ outcome: 'maybe' }), /--outcome must be one of/);
  });
});
