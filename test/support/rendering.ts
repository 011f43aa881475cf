// What the renderers' unit tests share: reports with logs of every size and hostile text, the marker every
// untrusted value carries, and the checks that a
// Slack or Teams payload is within every limit of its channel, keeps untrusted text inert (no mention, channel
// link or URL link from untrusted input in any mrkdwn field; in Teams, untrusted text only in TextRuns) and,
// for Teams, is a valid Adaptive Card 1.4.
import assert from 'node:assert/strict';
import { slackPayloadProblem, TEAMS_MAX_REQUEST_BYTES } from '../../dev/webhookReceivers';
import { groupSummary, type GroupReport, type MemberState, type Report } from '../../src/core/group';
import type { CommandReport, OUTCOMES } from '../../src/core/report';
import { compose } from '../../src/notify/compose';
import type { Notification } from '../../src/notify/notification';
import type { Form, RenderOptions } from '../../src/notify/provider';
import { renderTeams, TEAMS_MAX_BYTES, type TeamsPayload } from '../../src/notify/teams/card';
import { MAX_URL_CHARS } from '../../src/notify/render';
import { renderSlack, SLACK_LIMITS, type SlackPayload } from '../../src/notify/slack/blocks';
import { sampleReport } from '../../src/notify/samples';
import { cardProblems } from './cards';

export const ARM = 'https://management.azure.com';

/** A report's neutral message, as delivery composes it (notify/compose.ts). */
export function messageOf(report: Report, armEndpoint = ARM): Notification {
  return compose(report, armEndpoint).message;
}

type ReportOptions = RenderOptions & { armEndpoint?: string };

/** A report as Slack shows it: composed once, rendered by the channel from the neutral message alone. */
export function slackOf(report: Report, options: ReportOptions, form: Form = 'full'): SlackPayload {
  return renderSlack(messageOf(report, options.armEndpoint), options, form);
}

/** A report as Teams shows it: composed once, rendered by the channel from the neutral message alone. */
export function teamsOf(report: Report, options: ReportOptions, form: Form = 'full'): TeamsPayload {
  return renderTeams(messageOf(report, options.armEndpoint), options, form);
}

/** Untrusted text that would mention, link, format or break a code block if it were not kept inert. */
export const HOSTILE = [
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

/** Logs of every size a renderer must fit, the 512 kB ARM may return included. */
export const LOGS: Record<string, string | undefined> = {
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
export function reportWithLogs(outcome: (typeof OUTCOMES)[number], logs: string | undefined): CommandReport {
  const { logs: _sample, ...rest } = sampleReport(outcome);
  return logs === undefined ? rest : { ...rest, logs };
}

/** Every untrusted value carries this marker, so a test can tell where untrusted text went. */
export const MARK = 'QZX';

export interface MrkdwnText {
  text: string;
  verbatim?: boolean;
}

/** Every mrkdwn text object of a Slack payload's blocks. */
export function mrkdwnTexts(p: SlackPayload): MrkdwnText[] {
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

export function checkSlack(report: CommandReport, p: SlackPayload, mention?: string): void {
  const portal = `<https://portal.azure.com/#resource${report.clusterResourceId}/overview|${report.clusterName}>`;
  checkSlackPayload(p, [portal, ...(mention ? [mention] : [])]);
}

/** Within every Block Kit limit, and inert: no mention or link in mrkdwn but the `allowed` ones we put there. */
export function checkSlackPayload(p: SlackPayload, allowed: string[] = []): void {
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
  for (const t of [...mrkdwnTexts(p), { text: p.text, verbatim: true }]) {
    assert.equal(t.verbatim, true, 'every mrkdwn text object is verbatim');
    const untrusted = allowed.reduce((text, ok) => text.split(ok).join(''), t.text);
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

export function checkTeams(p: TeamsPayload): void {
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
  for (const a of (card.actions ?? []) as { url: string }[]) assert.ok(a.url.length <= MAX_URL_CHARS);
}

/**
 * A fleet run's summary of `n` members with names of the longest kind, a mix of every outcome (failures
 * spread through the declaration) and hostile first error lines, each carrying MARK; `final` past the deadline.
 */
export function groupOfSize(n: number, final: boolean): GroupReport {
  const kinds: Partial<MemberState>[] = [
    { state: 'final', outcome: 'succeeded', exitCode: 0, durationSeconds: 41 },
    { state: 'final', outcome: 'exitCode', exitCode: 2, durationSeconds: 3605 },
    { state: 'notStarted', outcome: 'couldNotStart' },
    { state: 'final', outcome: 'failed' },
    { state: 'tracked' },
    { state: 'final', outcome: 'succeeded', exitCode: 0, durationSeconds: 12 },
    { state: 'planned' },
    { state: 'final', outcome: 'forbidden' },
  ];
  const hostileLine = (i: number) =>
    i % 3 === 0 ? `${MARK}${'`'.repeat(300)}` : `${MARK} ${HOSTILE.replace(/\n/g, ' ')} ${'é'.repeat(i % 50)}`;
  const members: MemberState[] = Array.from({ length: n }, (_, i) => {
    const kind = kinds[i % kinds.length]!;
    const failed = kind.outcome !== undefined && kind.outcome !== 'succeeded';
    return {
      cluster: {
        subscriptionId: '11111111-2222-3333-4444-555555555555',
        resourceGroupName: `rg-${'g'.repeat(80)}`,
        resourceName: `aks-${String(i).padStart(3, '0')}-${'n'.repeat(55)}`,
      },
      index: i,
      state: 'planned',
      ...kind,
      ...(kind.state !== 'planned' ? { commandId: `cmd${i}` } : {}),
      ...(failed ? { error: hostileLine(i) } : {}),
    };
  });
  return groupSummary({
    groupId: 'b3b7c1de-0000-4000-8000-000000000200',
    members,
    command: `${MARK} kubectl get pods -A \`\`\` <!channel> ${'x'.repeat(20_000)}`,
    context: { requestedBy: `${MARK} <!here> ana@example.com` },
    startedAt: '2026-12-01T10:00:00.123Z',
    final,
    ...(final ? { finishedAt: '2026-12-01T11:05:00.456Z' } : {}),
  });
}
