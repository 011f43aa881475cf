// The channel seam, from the channels' side: random neutral messages — any headline, facts, untrusted
// sections, context, a table of up to 300 rows, logs inline or for a thread, links, in every combination a
// report kind not written yet might produce — rendered by every shipped chat channel, full and minimal, are
// within that channel's every limit, keep untrusted text inert (only where it is never parsed, never in the
// notification text), and hand the logs whole to a thread where the channel has one. Fixed seed: a failure
// replays.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BOT_MESSAGE_MAX_BYTES } from '../../../dev/botConnectorStandIn';
import type { Notification, Section, Table } from '../../../src/notify/notification';
import type { ChatProvider } from '../../../src/notify/provider';
import type { SlackAppPayload } from '../../../src/notify/providers/slackApp';
import type { TeamsPayload } from '../../../src/notify/teams/card';
import type { TeamsAppPayload } from '../../../src/notify/providers/teamsApp';
import { replyActivity } from '../../../src/notify/providers/teamsApp/replies';
import { PROVIDERS } from '../../../src/notify/registry';
import type { SlackPayload } from '../../../src/notify/slack/blocks';
import { clip } from '../../../src/core/text';
import { checkSlackPayload, checkTeams, HOSTILE, MARK } from '../../support/rendering';

const TRICKS = [
  ...HOSTILE.split('\n'),
  '<!channel>',
  '<@U012AB3CD>',
  '```',
  '<at>Boss</at>',
  '[x](https://evil.example)',
  '\u001b[31m',
  '\u202e',
  '\u200b',
  '\u2028',
  '\r',
  '\u0000',
  '\ud800',
  '👨‍👩‍👧',
  '中文',
  '\n',
  '\t',
];
/** Untrusted text, the marker inside; sometimes huge. */
const untrusted = (maxPieces: number) =>
  fc
    .tuple(
      fc.array(fc.oneof(fc.constantFrom(...TRICKS), fc.string({ unit: 'binary', maxLength: 12 })), {
        maxLength: maxPieces,
      }),
      fc.constantFrom(1, 1, 1, 30, 600),
    )
    .map(([parts, repeat]) => `${MARK}${parts.join('')}`.repeat(repeat));
/** Our own words: what a builder writes (validated names, numbers, our sentences), never the marker. */
const ours = (max: number) => fc.stringMatching(new RegExp(`^[A-Za-z0-9][\\w .:/,()-]{0,${max - 1}}$`));
const https = fc.oneof(
  fc.webUrl({ validSchemes: ['https'], size: 'small' }).filter((u) => u.length <= 3000),
  fc.integer({ min: 1000, max: 2980 }).map((n) => `https://example.com/${'a'.repeat(n)}`),
);

const section: fc.Arbitrary<Section> = fc.record(
  {
    label: ours(20),
    untrusted: untrusted(20),
    code: fc.boolean(),
    max: fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.constantFrom(2000, 2990, 3000, 10_000)),
    trim: fc.constantFrom('a', 'b', 'c', 'context'),
  },
  { requiredKeys: ['untrusted', 'max'] },
);

const table: fc.Arbitrary<Table> = fc
  .array(
    fc.record({
      title: ours(16),
      untrusted: fc.boolean(),
      max: fc.option(fc.integer({ min: 1, max: 400 }), { nil: undefined }),
    }),
    {
      minLength: 1,
      maxLength: 16,
    },
  )
  .chain((columns) =>
    fc.record({
      columns: fc.constant(columns.map(({ max, ...c }) => (max === undefined ? c : { ...c, max }))),
      rows: fc.array(
        fc.record({
          mark: fc.constantFrom('✅', '❌', '⚠️', '⏳', '🔧'),
          cells: fc.tuple(...columns.map((c) => (c.untrusted ? untrusted(6) : ours(60)))),
          quiet: fc.boolean(),
        }),
        { maxLength: 300 },
      ),
      quietWord: ours(12),
    }),
  );

const message: fc.Arbitrary<Notification> = fc
  .record(
    {
      ref: fc.record({ id: ours(40), about: ours(40), name: ours(60) }),
      final: fc.boolean(),
      alert: fc.boolean(),
      tone: fc.constantFrom('good', 'attention', 'warning', 'accent'),
      emoji: fc.constantFrom('✅', '❌', '⏳', '🔧'),
      headline: ours(300),
      headlineUntrusted: untrusted(10),
      summary: ours(300),
      lead: ours(3500),
      facts: fc.array(fc.record({ title: ours(100), value: ours(400) }), { maxLength: 30 }),
      factLink: https,
      sections: fc.array(section, { maxLength: 14 }),
      context: fc.record({
        untrusted: fc.array(
          fc.tuple(
            untrusted(3).map((k) => clip(k, 64)),
            untrusted(10),
          ),
          { maxLength: 25 },
        ),
        maxEntries: fc.integer({ min: 0, max: 30 }),
        maxValue: fc.integer({ min: 1, max: 1000 }),
      }),
      table,
      logs: fc.record({
        untrusted: fc.oneof(untrusted(40), fc.constant(`${MARK}<!channel>\n`.repeat(40_000))),
        title: ours(30),
        inline: fc.boolean(),
        fileName: fc.stringMatching(/^[\w.-]{1,60}$/),
      }),
      links: fc.array(fc.record({ title: ours(100), hint: ours(60), url: https }, { requiredKeys: ['title', 'url'] }), {
        maxLength: 6,
      }),
      minimalNote: ours(6000),
      trimOrder: fc.shuffledSubarray(['context', 'a', 'b', 'c']),
    },
    {
      requiredKeys: [
        'ref',
        'final',
        'alert',
        'tone',
        'emoji',
        'headline',
        'summary',
        'facts',
        'sections',
        'links',
        'trimOrder',
      ],
    },
  )
  .filter((m) => m.logs === undefined || m.logs.untrusted.trim() !== '');

const SLACK_MENTION = '<!subteam^S0OPS>';
const TEAMS_MENTION = 'oncall@contoso.com|On-call';

type Form = 'full' | 'minimal';

/**
 * Where a channel with a thread must put the logs whole: a final message, logs wanted, and the message does
 * not show them (they are for the thread, or the minimal form leaves them out). When the message shows
 * their end it may still add them (when it cut them); it never does for a running message.
 */
function threadOwed(m: Notification, includeLogs: boolean, form: Form): boolean | undefined {
  if (!m.final || !includeLogs || !m.logs) return false;
  return !m.logs.inline || form === 'minimal' ? true : undefined;
}

/** Whether a card mentions someone (its entities: untrusted text may spell `<at>` but never adds one). */
const mentions = (card: TeamsPayload) =>
  !!(card.attachments[0].content.msteams as { entities?: unknown[] } | undefined)?.entities?.length;

/** Each shipped chat channel's limits, checked on what it renders. */
const CHECKS: Record<string, (payload: unknown, m: Notification, includeLogs: boolean, form: Form) => void> = {
  slack: (p, m) => {
    const slack = p as SlackPayload;
    checkSlackPayload(slack, allowedSlack(m));
    assert.equal(JSON.stringify(slack).includes(SLACK_MENTION), m.alert, 'the mention goes with an alert only');
  },
  'slack-app': (p, m, includeLogs, form) => {
    const app = p as SlackAppPayload;
    checkSlackPayload(app.message, allowedSlack(m));
    assert.equal(JSON.stringify(app.message).includes(SLACK_MENTION), m.alert, 'the mention goes with an alert only');
    assert.ok(!JSON.stringify(app.metadata).includes(MARK), 'metadata holds our ids only');
    // The thread file is the one place the logs go as they are: a file, never rendered as mrkdwn.
    const owed = threadOwed(m, includeLogs, form);
    if (owed !== undefined) assert.equal(!!app.file, owed, 'the logs in the thread');
    if (app.file) assert.equal(app.file.content, m.logs?.untrusted);
  },
  teams: (p, m) => {
    const card = p as TeamsPayload;
    checkTeams(card);
    assert.equal(mentions(card), m.alert, 'the mention goes with an alert only');
  },
  'teams-app': (p, m, includeLogs, form) => {
    const app = p as TeamsAppPayload;
    checkTeams(app.card);
    assert.equal(mentions(app.card), m.alert, 'the mention goes with an alert only');
    const owed = threadOwed(m, includeLogs, form);
    if (owed !== undefined) assert.equal(!!app.replies, owed, 'the logs in the thread');
    if (app.replies?.omittedBytes === 0) assert.equal(app.replies.parts.join(''), m.logs?.untrusted);
    for (const i of (app.replies?.parts ?? []).keys()) {
      const reply = replyActivity(app.replies!, i);
      assert.ok(Buffer.byteLength(JSON.stringify(reply), 'utf8') <= BOT_MESSAGE_MAX_BYTES, `reply ${i}`);
    }
  },
};

/** The links and the mention we put in mrkdwn ourselves; any other link or mention came from untrusted text. */
function allowedSlack(m: Notification): string[] {
  return [SLACK_MENTION, ...(m.factLink ? [`<${m.factLink}|`] : [])];
}

const chatProviders = PROVIDERS.filter((p): p is ChatProvider<any> => p.takes !== 'report');

describe('the neutral message on every chat channel (property-based)', () => {
  it('every shipped chat channel has its limits checked here', () => {
    assert.deepEqual(chatProviders.map((p) => p.kind).sort(), Object.keys(CHECKS).sort());
  });

  it('any message, full and minimal: within every limit of every channel, untrusted text inert', () => {
    fc.assert(
      fc.property(message, fc.boolean(), (generated, includeLogs) => {
        // As a builder makes it: plain objects (fast-check may make some without a prototype).
        const m = JSON.parse(JSON.stringify(generated)) as Notification;
        for (const provider of chatProviders) {
          const mention = provider.kind.startsWith('slack') ? SLACK_MENTION : TEAMS_MENTION;
          for (const form of ['full', 'minimal'] as const) {
            const payload = provider.render(m, { includeLogs, target: 'ops', mention }, form);
            try {
              CHECKS[provider.kind]!(payload, m, includeLogs, form);
            } catch (err) {
              throw new Error(`${provider.kind}, ${form} form: ${(err as Error).message.slice(0, 300)}`);
            }
          }
        }
      }),
      { numRuns: 200, seed: 20261207, endOnFailure: true },
    );
  });
});
