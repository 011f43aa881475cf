// Hostile text in every field of every outcome, rendered for every channel (Slack, the Slack app, Teams):
// within every limit, inert and valid, by the rules every renderer shares (notify/render.ts: which fields are
// untrusted, how a payload is brought within its limit, which link may be a button). Then the regressions
// of those rules found by probing; each channel's own are in its renderer's test.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { OUTCOMES, type CommandReport, type Outcome } from '../../../src/core/report';
import { slackApp, type SlackAppPayload } from '../../../src/notify/providers/slackApp';
import { sampleReport, sampleRunningReport } from '../../../src/notify/samples';
import { ARM, checkSlack, checkTeams, MARK, messageOf, slackOf, teamsOf } from '../../support/rendering';

const TRICKS = [
  '<!channel>',
  '<!here>',
  '<!everyone>',
  '<@U012AB3CD>',
  '<#C012AB3CD|general>',
  '<!subteam^S123|@oncall>',
  '<https://evil.example/login|Re-run the pipeline>',
  'https://evil.example/x',
  '#general',
  '@here',
  '```',
  '`',
  '``````',
  '*bold* _it_ ~s~',
  '[click](https://evil.example)',
  '<at>Boss</at>',
  '&lt;',
  '&amp;',
  '<',
  '>',
  '&',
  '\u001b[31m',
  '\u001b]8;;https://evil.example\u0007link\u001b]8;;\u0007',
  '\u001b]0;title\u001b\\',
  '\u009b31m',
  '\u009d0;t\u009c',
  '\u202e',
  '\u2066',
  '\u061c',
  '\u200b',
  '\ufeff',
  '\u00ad',
  '\u2028',
  '\u2029',
  '\u0085',
  '\r',
  '\u0000',
  '\u007f',
  '\u0090',
  '\ud800',
  '\udfff',
  '\ud83d',
  '🚀',
  '👨‍👩‍👧',
  '中文',
  'é',
  'e\u0301',
  '\n',
  '\t',
];
const piece = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...TRICKS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
);
/** Hostile text with the marker inside; sometimes huge. */
const hostile = (maxPieces: number) =>
  fc
    .tuple(fc.array(piece, { minLength: 0, maxLength: maxPieces }), fc.constantFrom(1, 1, 1, 50, 400))
    .map(([parts, repeat]) => `${MARK}${parts.join('')}`.repeat(repeat));
const contextKey = fc.stringMatching(/^[\w.-]{1,64}$/);

const reportArb = fc.record({
  outcome: fc.constantFrom<Outcome | undefined>(...OUTCOMES, undefined),
  command: fc.option(hostile(30), { nil: undefined }),
  reason: fc.option(hostile(30), { nil: undefined }),
  detail: fc.option(hostile(20), { nil: undefined }),
  state: fc.option(fc.oneof(hostile(5), fc.constantFrom('Succeeded', 'running', 'FAILED')), { nil: undefined }),
  times: fc.option(fc.tuple(hostile(3), hostile(3)), { nil: undefined }),
  context: fc.option(fc.dictionary(contextKey, hostile(10), { maxKeys: 20 }), { nil: undefined }),
  link: fc.option(fc.oneof(fc.constant(`https://example.com/${'中'.repeat(1970)}`), fc.webUrl(), hostile(5)), {
    nil: undefined,
  }),
  logs: fc.option(fc.oneof(hostile(50), fc.constant(`${MARK}<!channel>\n`.repeat(40_000))), { nil: undefined }),
});

function build(r: fc.Arbitrary<unknown> extends fc.Arbitrary<infer T> ? T : never): CommandReport {
  const x = r as {
    outcome?: Outcome;
    command?: string;
    reason?: string;
    detail?: string;
    state?: string;
    times?: [string, string];
    context?: Record<string, string>;
    link?: string;
    logs?: string;
  };
  const {
    command: _c,
    reason: _r,
    detail: _d,
    logs: _l,
    context: _x,
    provisioningState: _p,
    ...base
  } = x.outcome === undefined ? sampleRunningReport() : sampleReport(x.outcome);
  const context = { ...(x.context ?? {}), ...(x.link !== undefined ? { link: x.link } : {}) };
  return {
    ...base,
    ...(x.command !== undefined ? { command: x.command } : {}),
    ...(x.reason !== undefined ? { reason: x.reason } : {}),
    ...(x.detail !== undefined ? { detail: x.detail } : {}),
    ...(x.state !== undefined ? { provisioningState: x.state } : {}),
    ...(x.times ? { startedAt: x.times[0], finishedAt: x.times[1] } : {}),
    ...(Object.keys(context).length ? { context } : {}),
    ...(x.logs !== undefined ? { logs: x.logs } : {}),
  };
}

describe('hostile reports (property-based)', () => {
  it('every outcome (and the running message), every field: Slack, Slack app and Teams payloads within every limit, inert, valid', () => {
    fc.assert(
      fc.property(reportArb, fc.boolean(), (r, logs) => {
        const report = build(r);
        for (const form of ['full', 'minimal'] as const) {
          checkSlack(
            report,
            slackOf(report, { armEndpoint: ARM, includeLogs: logs, mention: '<!subteam^S0OPS>' }, form),
            '<!subteam^S0OPS>',
          );
          checkTeams(
            teamsOf(report, { armEndpoint: ARM, includeLogs: logs, mention: 'oncall@contoso.com|On-call' }, form),
          );
          const app = slackApp.render(
            messageOf(report),
            { includeLogs: logs, target: 'ops', mention: '<!subteam^S0OPS>' },
            form,
          ) as SlackAppPayload;
          checkSlack(report, app.message, '<!subteam^S0OPS>');
          assert.ok(!JSON.stringify(app.metadata).includes(MARK), 'metadata holds validated ids only');
          // The thread file is the one place the logs go as they are: a file, never rendered as mrkdwn.
          if (app.file) assert.equal(app.file.content, report.logs);
          if (report.outcome === undefined || !logs) assert.equal(app.file, undefined);
        }
      }),
      { numRuns: 250, seed: 20261128 },
    );
  });
});

describe('hostile text: regressions', () => {
  const failed = (reason: string): CommandReport => ({ ...sampleReport('failed'), reason });

  it('a 50,000-character reason stays within every limit', () => {
    const report = failed('x'.repeat(50_000));
    const p = slackOf(report, { armEndpoint: ARM, includeLogs: true });
    assert.ok(p.text.length < 200);
    checkSlack(report, p);
    checkTeams(teamsOf(report, { armEndpoint: ARM, includeLogs: true }));
  });

  it('a link of 1,970 CJK characters (17,700 once encoded) is not a button', () => {
    const report = { ...sampleReport('succeeded'), context: { link: `https://example.com/${'中'.repeat(1970)}` } };
    const slack = slackOf(report, { armEndpoint: ARM, includeLogs: true });
    checkSlack(report, slack);
    // Buttons (Slack) and actions (Teams) that lead to the link.
    const slackButtons = (blocks: Record<string, unknown>[]) =>
      blocks
        .filter((b) => b.type === 'actions')
        .flatMap((b) => b.elements as { url: string }[])
        .filter((e) => e.url.startsWith('https://example.com/'));
    const teamsActions = (p: ReturnType<typeof teamsOf>) =>
      ((p.attachments[0].content.actions ?? []) as { url: string }[]).filter((a) =>
        a.url.startsWith('https://example.com/'),
      );
    assert.deepEqual(slackButtons(slack.blocks), []);
    const teams = teamsOf(report, { armEndpoint: ARM, includeLogs: true });
    checkTeams(teams);
    assert.deepEqual(teamsActions(teams), []);
    // The same link, short: a button on both.
    const short = { ...report, context: { link: 'https://example.com/build/42' } };
    assert.equal(slackButtons(slackOf(short, { includeLogs: true }).blocks).length, 1);
    assert.equal(teamsActions(teamsOf(short, { includeLogs: true })).length, 1);
  });
});
