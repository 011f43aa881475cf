// Hostile text in every field of every outcome, rendered for every channel: within every limit, inert
// (no mention, channel link or URL link from untrusted input in any mrkdwn field; in Teams, untrusted text
// only in TextRuns), and every card valid Adaptive Card 1.4. Then the regressions found by probing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { OUTCOMES, type CommandReport, type Outcome } from '../../../src/core/report';
import { cleanText, clip } from '../../../src/core/text';
import { slackPayloadProblem, TEAMS_MAX_REQUEST_BYTES } from '../../../dev/webhookReceivers';
import { createRedactor, oneLine, secretForms } from '../../../src/log';
import { escapeForLog } from '../../../src/core/message';
import { slackApp, type SlackAppPayload } from '../../../src/notify/providers/slackApp';
import {
  classifyTeamsAnswer,
  renderTeams,
  TEAMS_MAX_BYTES,
  teamsEndpointKind,
} from '../../../src/notify/providers/teams';
import { MAX_URL_CHARS } from '../../../src/notify/render';
import { sampleReport, sampleRunningReport } from '../../../src/notify/samples';
import { renderSlack, SLACK_LIMITS, type SlackPayload } from '../../../src/notify/slack/blocks';
import { cardProblems } from '../../support/cards';

const ARM = 'https://management.azure.com';
/** Every untrusted value carries this marker, so a test can tell where untrusted text went. */
const MARK = 'QZX';

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

interface MrkdwnText {
  text: string;
  verbatim?: boolean;
}

function slackTexts(p: SlackPayload): MrkdwnText[] {
  const out: MrkdwnText[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (o.type === 'mrkdwn') out.push(o as unknown as MrkdwnText);
    Object.values(o).forEach(visit);
  };
  visit(p.blocks);
  return out;
}

function checkSlack(report: CommandReport, p: SlackPayload, mention?: string): void {
  assert.equal(slackPayloadProblem(p), undefined);
  assert.ok(p.blocks.length <= SLACK_LIMITS.blocks);
  assert.ok(JSON.stringify(p.blocks).length <= SLACK_LIMITS.blocksTotal, `blocks ${JSON.stringify(p.blocks).length}`);
  assert.ok(p.text.length <= SLACK_LIMITS.text);
  for (const b of p.blocks) {
    const text = (b.text as { text?: string } | undefined)?.text;
    if (b.type === 'header') assert.ok(text!.length <= SLACK_LIMITS.header);
    if (b.type === 'section' && text) assert.ok(text.length <= SLACK_LIMITS.sectionText);
    for (const f of (b.fields as { text: string }[] | undefined) ?? [])
      assert.ok(f.text.length <= SLACK_LIMITS.fieldText);
    if (b.type === 'context') assert.ok((b.elements as unknown[]).length <= SLACK_LIMITS.contextElements);
    if (b.type === 'actions')
      for (const e of b.elements as { url: string }[])
        assert.ok(e.url.length <= MAX_URL_CHARS, `button URL of ${e.url.length}`);
  }
  const portal = `<https://portal.azure.com/#resource${report.clusterResourceId}/overview|${report.clusterName}>`;
  for (const t of [...slackTexts(p), { text: p.text, verbatim: true }]) {
    assert.equal(t.verbatim, true, 'every mrkdwn text object is verbatim');
    const untrusted = t.text
      .split(portal)
      .join('')
      .split(mention ?? '\u0000')
      .join('');
    assert.doesNotMatch(
      untrusted,
      /<[!@#]|<https?:/i,
      `a mention or link from untrusted text: ${untrusted.slice(0, 200)}`,
    );
    assert.doesNotMatch(
      t.text,
      /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u061c\ufeff]/,
      'no controls, bidi or format characters',
    );
    assert.ok(t.text.isWellFormed(), 'no lone surrogates');
  }
  assert.ok(!p.text.includes(MARK), 'the notification text holds no untrusted text');
}

function checkTeams(p: ReturnType<typeof renderTeams>): void {
  const bytes = Buffer.byteLength(JSON.stringify(p), 'utf8');
  assert.ok(bytes <= TEAMS_MAX_BYTES, `${bytes} bytes`);
  assert.ok(bytes < TEAMS_MAX_REQUEST_BYTES);
  const card = p.attachments[0].content;
  assert.deepEqual(cardProblems(card), []);
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (o.type === 'TextBlock')
      assert.ok(!String(o.text).includes(MARK), `untrusted text in a TextBlock: ${String(o.text).slice(0, 100)}`);
    if (o.type === 'FactSet')
      for (const f of o.facts as { title: string; value: string }[])
        assert.ok(!`${f.title}${f.value}`.includes(MARK), 'untrusted text in a FactSet');
    if (o.type === 'TextRun') {
      assert.doesNotMatch(
        String(o.text),
        /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u061c\ufeff]/,
      );
      assert.ok(String(o.text).isWellFormed());
    }
    for (const v of Object.values(o)) visit(v);
  };
  visit(card);
  for (const a of card.actions as { url: string }[]) assert.ok(a.url.length <= MAX_URL_CHARS);
}

describe('hostile reports (property-based)', () => {
  it('every outcome (and the running message), every field: Slack, Slack app and Teams payloads within every limit, inert, valid', () => {
    fc.assert(
      fc.property(reportArb, fc.boolean(), (r, logs) => {
        const report = build(r);
        for (const form of ['full', 'minimal'] as const) {
          checkSlack(
            report,
            renderSlack(report, { armEndpoint: ARM, includeLogs: logs, mention: '<!subteam^S0OPS>' }, form),
            '<!subteam^S0OPS>',
          );
          checkTeams(
            renderTeams(report, { armEndpoint: ARM, includeLogs: logs, mention: 'oncall@contoso.com|On-call' }, form),
          );
          const app = slackApp.render(
            report,
            { armEndpoint: ARM, includeLogs: logs, target: 'ops', mention: '<!subteam^S0OPS>' },
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

  it("ARM's reason never reaches Slack's notification text, and is escaped wherever it is shown", () => {
    const p = renderSlack(failed('<!channel> <https://evil.example/login|Re-run the pipeline>'), {
      armEndpoint: ARM,
      includeLogs: true,
    });
    assert.doesNotMatch(p.text, /<!channel>|evil/);
    const mrkdwn = JSON.stringify(slackTexts(p));
    assert.doesNotMatch(mrkdwn, /<!channel>|<https:\/\/evil/);
    assert.match(mrkdwn, /&lt;!channel&gt;/, 'shown, as text');
    // The header is plain_text, which Slack never parses: the reason is shown there as it is.
    const header = p.blocks[0] as { text: { type: string; text: string } };
    assert.deepEqual([header.text.type, header.text.text.includes('Re-run the pipeline')], ['plain_text', true]);
  });

  it('a 50,000-character reason stays within every limit', () => {
    const report = failed('x'.repeat(50_000));
    const p = renderSlack(report, { armEndpoint: ARM, includeLogs: true });
    assert.ok(p.text.length < 200);
    checkSlack(report, p);
    checkTeams(renderTeams(report, { armEndpoint: ARM, includeLogs: true }));
  });

  it('20 context values of multi-byte text with lone surrogates: the Teams request stays under 24 KB', () => {
    const context = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, '\ud800'.repeat(2048)]));
    const p = renderTeams(
      { ...sampleReport('exitCode', 'x\n'.repeat(30_000)), context },
      { armEndpoint: ARM, includeLogs: true },
    );
    assert.ok(Buffer.byteLength(JSON.stringify(p), 'utf8') <= TEAMS_MAX_BYTES);
    checkTeams(p);
    assert.match(JSON.stringify(p), /trimmed to fit the channel's size limit: context/);
  });

  it('a link of 1,970 CJK characters (17,700 once encoded) is not a button', () => {
    const report = { ...sampleReport('succeeded'), context: { link: `https://example.com/${'中'.repeat(1970)}` } };
    const slack = renderSlack(report, { armEndpoint: ARM, includeLogs: true });
    checkSlack(report, slack);
    assert.ok(!JSON.stringify(slack.blocks).includes('open-link'));
    checkTeams(renderTeams(report, { armEndpoint: ARM, includeLogs: true }));
  });

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

describe('Teams answers, judged by the kind of endpoint', () => {
  it('tells Workflows from a legacy connector by host', () => {
    assert.equal(teamsEndpointKind('https://prod-00.westeurope.logic.azure.com/workflows/x'), 'workflows');
    assert.equal(teamsEndpointKind('https://default.environment.api.powerplatform.com/powerautomate/x'), 'workflows');
    assert.equal(teamsEndpointKind('https://contoso.webhook.office.com/webhookb2/x'), 'connector');
  });
  it('Workflows: 202 (or 200 from a flow that answers itself) is taken', () => {
    assert.deepEqual(classifyTeamsAnswer('workflows', 202, ''), { ok: true });
    assert.deepEqual(classifyTeamsAnswer('workflows', 200, ''), { ok: true });
    assert.equal((classifyTeamsAnswer('workflows', 204, '') as { failure: string }).failure, 'permanent');
  });
  it('a connector: 200 with "1" is taken; 200 with an error text is not', () => {
    assert.deepEqual(classifyTeamsAnswer('connector', 200, '1'), { ok: true });
    const tooBig = classifyTeamsAnswer(
      'connector',
      200,
      'Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 413',
    );
    assert.deepEqual([tooBig.ok, (tooBig as { failure: string }).failure], [false, 'refused']);
    assert.equal(
      (classifyTeamsAnswer('connector', 200, 'Microsoft Teams endpoint returned HTTP error 429') as { failure: string })
        .failure,
      'transient',
    );
    const other = classifyTeamsAnswer('connector', 200, 'Bad payload received by generic incoming webhook.') as {
      failure: string;
      detail: string;
    };
    assert.deepEqual([other.failure, /Bad payload received/.test(other.detail)], ['permanent', true]);
    assert.equal((classifyTeamsAnswer('connector', 202, '') as { failure: string }).failure, 'permanent');
  });
});
