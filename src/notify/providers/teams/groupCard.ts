// The Teams card of a fleet run's summary (core/group.ts), shared by the webhook and the app provider: the
// title, the counts, the command, then one line per member — failures first, then the rest as space
// allows, and a last line saying how many are not shown — within TEAMS_MAX_BYTES for groups of up to 200.
// Adaptive Card 1.4 has no table; each member is a RichTextBlock, and the first error line (untrusted)
// is a TextRun, which Teams never parses as markdown.
import {
  groupEmoji,
  groupExitCode,
  groupTitle,
  MEMBER_EMOJI,
  outcomeWords,
  progressLine,
  type GroupReport,
  type MemberLine,
} from '../../../core/group';
import { formatDuration } from '../../../core/report';
import { clip } from '../../../core/text';
import type { Form, RenderOptions } from '../../provider';
import { TEAMS_MAX_BYTES, type TeamsPayload } from './card';

type Element = Record<string, unknown>;
const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');
const ERROR_CHARS = 120;
const COMMAND_CHARS = 600;

function colour(report: GroupReport): { style: string; color: string } {
  if (report.outcome === undefined) return { style: 'accent', color: 'Accent' };
  const code = groupExitCode(report.members);
  if (code === 0) return { style: 'good', color: 'Good' };
  if (code === 1) return { style: 'attention', color: 'Attention' };
  return { style: 'warning', color: 'Warning' };
}

function memberElement(m: MemberLine): Element {
  const facts = [outcomeWords(m), ...(m.durationSeconds !== undefined ? [formatDuration(m.durationSeconds)] : [])].join(
    ', ',
  );
  return {
    type: 'RichTextBlock',
    spacing: 'None',
    inlines: [
      { type: 'TextRun', text: `${MEMBER_EMOJI[m.outcome]} ${m.cluster.resourceName}`, weight: 'Bolder' },
      { type: 'TextRun', text: ` ${facts}` },
      ...(m.error
        ? [{ type: 'TextRun', text: ` ${clip(m.error, ERROR_CHARS)}`, isSubtle: true, fontType: 'Monospace' }]
        : []),
    ],
  };
}

export function renderTeamsGroup(report: GroupReport, options: RenderOptions, form: Form = 'full'): TeamsPayload {
  const { style, color } = colour(report);
  const body: Element[] = [
    {
      type: 'Container',
      style,
      bleed: true,
      items: [
        {
          type: 'TextBlock',
          text: `${groupEmoji(report)} ${groupTitle(report)}`,
          weight: 'Bolder',
          size: 'Medium',
          color,
          wrap: true,
        },
      ],
    },
  ];
  const msteams: Record<string, unknown> = { width: 'Full' };
  const failing = report.outcome !== undefined && report.outcome !== 'succeeded';
  if (options.mention && failing) {
    const [id, name] = options.mention.split('|') as [string, string];
    body.push({ type: 'TextBlock', text: `<at>${name}</at> please take a look.`, wrap: true });
    msteams.entities = [{ type: 'mention', text: `<at>${name}</at>`, mentioned: { id, name } }];
  }
  body.push({ type: 'TextBlock', text: progressLine(report), weight: 'Bolder', wrap: true });
  body.push({
    type: 'FactSet',
    facts: [
      { title: 'Fleet run', value: report.groupId },
      { title: 'Clusters', value: String(report.total) },
      { title: 'Started', value: report.startedAt.replace(/\.\d+Z$/, 'Z') },
      ...(report.finishedAt ? [{ title: 'Finished', value: report.finishedAt.replace(/\.\d+Z$/, 'Z') }] : []),
    ],
  });
  const card = (items: Element[]): TeamsPayload => ({
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          type: 'AdaptiveCard',
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          version: '1.4',
          msteams,
          body: items,
        },
      },
    ],
  });
  if (form === 'minimal') {
    const names = report.members.filter((m) => m.outcome !== 'succeeded').map((m) => m.cluster.resourceName);
    if (names.length)
      body.push({ type: 'TextBlock', text: clip(`Not succeeded: ${names.join(', ')}`, 4000), wrap: true });
    return card(body);
  }
  if (report.command !== undefined) {
    body.push({
      type: 'RichTextBlock',
      inlines: [
        { type: 'TextRun', text: 'Command: ', weight: 'Bolder' },
        { type: 'TextRun', text: clip(report.command, COMMAND_CHARS), fontType: 'Monospace' },
      ],
    });
  }
  const requested = report.context?.requestedBy;
  if (requested) {
    body.push({
      type: 'RichTextBlock',
      inlines: [
        { type: 'TextRun', text: 'requested by: ', weight: 'Bolder' },
        { type: 'TextRun', text: clip(requested, 150) },
      ],
    });
  }
  // One line per member until the card's budget is reached; the last line says what is left.
  let room = TEAMS_MAX_BYTES - bytes(card(body)) - 400;
  let shown = 0;
  for (const m of report.members) {
    const e = memberElement(m);
    const cost = bytes(e) + 1;
    if (cost > room) break;
    body.push(e);
    room -= cost;
    shown++;
  }
  const left = report.members.length - shown;
  if (left > 0) {
    const ok = report.members.slice(shown).filter((m) => m.outcome === 'succeeded').length;
    body.push({
      type: 'TextBlock',
      text: `… and ${left} more not shown${ok ? ` (${ok} of them succeeded)` : ''}`,
      isSubtle: true,
      wrap: true,
      size: 'Small',
    });
  }
  return card(body);
}
