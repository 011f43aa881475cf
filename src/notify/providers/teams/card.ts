// The Teams message: an Adaptive Card 1.4 (1.5+ fail in Workflows) in the message envelope. Untrusted text
// goes into RichTextBlock TextRuns, which Teams never parses as markdown, so links and formatting in logs or
// commands stay inert. The request is kept under ~24 KB (Teams refuses ~28 KB).
import { isFailure, outcomeTitle, type CommandReport } from '../../../core/report';
import { clip, fitTail, omittedMarker, type Tail } from '../../../core/text';
import type { Form, RenderOptions } from '../../provider';
import * as facts from '../../render';

export const TEAMS_MAX_BYTES = 24 * 1024;

export interface TeamsPayload {
  type: 'message';
  attachments: [
    { contentType: 'application/vnd.microsoft.card.adaptive'; contentUrl: null; content: Record<string, unknown> },
  ];
}

type Element = Record<string, unknown>;

function colour(report: CommandReport): { style: string; color: string } {
  if (report.outcome === 'succeeded') return { style: 'good', color: 'Good' };
  if (
    report.outcome === 'timedOut' ||
    report.outcome === 'notFound' ||
    report.outcome === 'forbidden' ||
    report.outcome === 'error'
  ) {
    return { style: 'warning', color: 'Warning' };
  }
  return { style: 'attention', color: 'Attention' };
}

function textRuns(label: string, value: string, monospace = false): Element {
  return {
    type: 'RichTextBlock',
    inlines: [
      { type: 'TextRun', text: `${label}: `, weight: 'Bolder' },
      { type: 'TextRun', text: value, ...(monospace ? { fontType: 'Monospace' } : {}) },
    ],
  };
}

function envelope(card: Record<string, unknown>): TeamsPayload {
  return {
    type: 'message',
    attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card }],
  };
}

const DEFAULT_CAPS: facts.FieldCaps = {
  contextEntries: 20,
  contextValue: 300,
  command: 1000,
  reason: 500,
  detail: 1000,
};
const LOG_FLOOR_BYTES = 3000;
const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

function logElements(t: Tail): Element[] {
  return [
    { type: 'TextBlock', text: t.omittedLines > 0 ? 'Logs (end)' : 'Logs', weight: 'Bolder', spacing: 'Medium' },
    {
      type: 'Container',
      style: 'emphasis',
      items: [
        {
          type: 'RichTextBlock',
          inlines: [
            ...(t.omittedLines > 0
              ? [{ type: 'TextRun', text: `${omittedMarker(t.omittedLines, t.omittedBytes)}\n`, isSubtle: true }]
              : []),
            { type: 'TextRun', text: t.text, fontType: 'Monospace', size: 'Small' },
          ],
        },
      ],
    },
  ];
}

/** Untrusted text, each field in TextRuns (never markdown), within the caps of this step. */
function untrustedElements(
  report: CommandReport,
  caps: facts.FieldCaps,
  note: (left: number) => string | undefined,
): Element[] {
  const out: Element[] = [];
  const state = facts.unknownState(report);
  if (state) out.push(textRuns('State', clip(state, 64)));
  if (report.command !== undefined && caps.command > 0)
    out.push(textRuns('Command', clip(report.command, caps.command), true));
  const explains = report.outcome !== 'succeeded' && report.outcome !== 'exitCode';
  if (explains && report.reason && caps.reason > 0) out.push(textRuns('Reason', clip(report.reason, caps.reason)));
  if (explains && report.detail && caps.detail > 0)
    out.push({ type: 'RichTextBlock', inlines: [{ type: 'TextRun', text: clip(report.detail, caps.detail) }] });
  const { shown, left } = facts.contextEntries(report, caps);
  for (const [k, v] of shown) out.push({ ...textRuns(k, v), spacing: 'None' });
  const trimmed = note(left);
  if (trimmed) out.push({ type: 'TextBlock', text: trimmed, isSubtle: true, wrap: true, size: 'Small' });
  return out;
}

/**
 * The card: title, facts, command, reason, context, the end of the logs, an action to the portal. The
 * whole request stays within TEAMS_MAX_BYTES whatever the input: over it, context is trimmed first, then the
 * command, then the reason, while the logs get what is left (and are cut last), with a note saying what was
 * trimmed. The minimal form (for a channel that refused the full one) keeps the title, the facts and the action.
 */
export function renderTeams(report: CommandReport, options: RenderOptions, form: Form = 'full'): TeamsPayload {
  const minimal = form === 'minimal';
  const { style, color } = colour(report);
  const link = facts.portalUrl(options.armEndpoint, report.clusterResourceId);
  const head: Element[] = [
    {
      type: 'Container',
      style,
      bleed: true,
      items: [
        {
          type: 'TextBlock',
          text: `${facts.outcomeEmoji(report)} ${outcomeTitle(report, false)}`,
          weight: 'Bolder',
          size: 'Medium',
          color,
          wrap: true,
        },
      ],
    },
  ];
  const msteams: Record<string, unknown> = { width: 'Full' };
  if (options.mention && isFailure(report.outcome)) {
    const [id, name] = options.mention.split('|') as [string, string];
    head.push({ type: 'TextBlock', text: `<at>${name}</at> please take a look.`, wrap: true });
    msteams.entities = [{ type: 'mention', text: `<at>${name}</at>`, mentioned: { id, name } }];
  }
  head.push({ type: 'FactSet', facts: facts.trustedFacts(report) });
  const actions: Element[] = [{ type: 'Action.OpenUrl', title: 'Open cluster in the Azure portal', url: link }];
  const cl = minimal ? undefined : facts.contextLink(report);
  if (cl) actions.push({ type: 'Action.OpenUrl', title: 'Open link', url: cl });
  const card = (body: Element[]): TeamsPayload =>
    envelope({
      type: 'AdaptiveCard',
      $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
      version: '1.4',
      msteams,
      body,
      actions,
    });
  if (minimal) return card(head);

  const wantsLogs = options.includeLogs && report.logs !== undefined && report.logs.trim() !== '';
  let last = card(head);
  let lastBody = head;
  for (const step of facts.capLadder(DEFAULT_CAPS)) {
    const body = [...head, ...untrustedElements(report, step.caps, (left) => facts.trimmedNote(step, left))];
    const fixed = card(body);
    const room = TEAMS_MAX_BYTES - bytes(fixed) - 16;
    [last, lastBody] = [fixed, body];
    if (!wantsLogs) {
      if (room >= 0) return fixed;
      continue;
    }
    if (room >= LOG_FLOOR_BYTES) return withLogs(body, room);
  }
  return wantsLogs ? withLogs(lastBody, TEAMS_MAX_BYTES - bytes(last) - 16) : last;

  function withLogs(body: Element[], room: number): TeamsPayload {
    // A JSON array of the log elements, spliced into the body: its size is what it adds, plus a comma.
    const logsJson = fitTail(
      report.logs!,
      Math.max(0, room - 1),
      (t) => JSON.stringify(logElements(t)),
      (s) => Buffer.byteLength(s, 'utf8'),
    );
    return card([...body, ...(JSON.parse(logsJson) as Element[])]);
  }
}

/** What a Teams channel would show, as plain text. */
export function teamsAsText(body: unknown): string {
  const card = (body as { attachments?: { content?: Record<string, any> }[] }).attachments?.[0]?.content ?? {};
  const lines: string[] = [];
  const walk = (items: Record<string, any>[] = []) => {
    for (const e of items) {
      if (e.type === 'TextBlock') lines.push(e.text);
      else if (e.type === 'FactSet')
        lines.push((e.facts as { title: string; value: string }[]).map((f) => `${f.title}: ${f.value}`).join(' | '));
      else if (e.type === 'RichTextBlock') lines.push((e.inlines as { text: string }[]).map((i) => i.text).join(''));
      else if (e.type === 'Container') walk(e.items);
    }
  };
  walk(card.body);
  for (const a of (card.actions ?? []) as { title: string }[]) lines.push(`[${a.title}]`);
  return lines.join('\n');
}
