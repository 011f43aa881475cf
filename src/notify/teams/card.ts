// The Teams message: the neutral message (notify/notification.ts) as an Adaptive Card 1.4 (1.5+ fail in
// Workflows) in the message envelope, shared by the webhook and the app provider. Untrusted text goes into
// RichTextBlock TextRuns, which Teams never parses as markdown, so links and formatting in logs or commands
// stay inert; TextBlocks and FactSets hold our own words and validated values only. The request is kept
// under ~24 KB (Teams refuses ~28 KB).
import { clip, fitTail, omittedMarker, type Tail } from '../../core/text';
import type { Notification, Tone } from '../notification';
import type { Form, RenderOptions } from '../provider';
import {
  bounded,
  contextEntries,
  firstFit,
  logsWanted,
  notShownNote,
  shownSections,
  tableCells,
  trimmedNote,
  type Caps,
  type CapStep,
} from '../render';

export const TEAMS_MAX_BYTES = 24 * 1024;
/** A card is often read on a phone: a command shows at most this much of itself. */
const CHANNEL_CAPS = { code: 1000 };
const LOG_FLOOR_BYTES = 3000;
/** What the table's rows leave for what follows them (the count of rows not shown, a note). */
const TABLE_RESERVE_BYTES = 400;
const MINIMAL_NOTE_CHARS = 4000;

export interface TeamsPayload {
  type: 'message';
  attachments: [
    { contentType: 'application/vnd.microsoft.card.adaptive'; contentUrl: null; content: Record<string, unknown> },
  ];
}

type Element = Record<string, unknown>;

const STYLES: Record<Tone, { style: string; color: string }> = {
  good: { style: 'good', color: 'Good' },
  attention: { style: 'attention', color: 'Attention' },
  warning: { style: 'warning', color: 'Warning' },
  accent: { style: 'accent', color: 'Accent' },
};

function textRuns(label: string, value: string, monospace = false): Element {
  return {
    type: 'RichTextBlock',
    inlines: [
      { type: 'TextRun', text: `${label}: `, weight: 'Bolder' },
      { type: 'TextRun', text: value, ...(monospace ? { fontType: 'Monospace' } : {}) },
    ],
  };
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

function logElements(title: string, t: Tail): Element[] {
  return [
    { type: 'TextBlock', text: t.omittedLines > 0 ? `${title} (end)` : title, weight: 'Bolder', spacing: 'Medium' },
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

/** Untrusted text, each section and context entry in TextRuns (never markdown), within the caps of this step. */
function untrustedElements(message: Notification, caps: Caps, note: (left: number) => string | undefined): Element[] {
  const out: Element[] = [];
  for (const { section, max } of shownSections(message, caps)) {
    const text = clip(section.untrusted, max);
    out.push(
      section.label
        ? textRuns(section.label, text, section.code)
        : {
            type: 'RichTextBlock',
            inlines: [{ type: 'TextRun', text, ...(section.code ? { fontType: 'Monospace' } : {}) }],
          },
    );
  }
  const { shown, left } = contextEntries(message.context, caps);
  for (const [k, v] of shown) out.push({ ...textRuns(k, v), spacing: 'None' });
  const trimmed = note(left);
  if (trimmed) out.push({ type: 'TextBlock', text: trimmed, isSubtle: true, wrap: true, size: 'Small' });
  return out;
}

/**
 * The table: Adaptive Card 1.4 has none, so each row is a RichTextBlock — its mark and first cell in bold,
 * our other cells after it, untrusted cells subtle and monospaced in TextRuns — in the message's order until
 * `room` bytes are used, then a line counting the rest.
 */
function tableElements(message: Notification, room: number): Element[] {
  const table = message.table;
  if (!table) return [];
  const out: Element[] = [];
  const cells = tableCells(table);
  let shown = 0;
  for (const [i, row] of table.rows.entries()) {
    const [name = '', ...rest] = cells[i]!;
    const ours = rest.filter((c, j) => c !== '' && !table.columns[j + 1]?.untrusted);
    const theirs = rest.filter((c, j) => c !== '' && table.columns[j + 1]?.untrusted);
    const e: Element = {
      type: 'RichTextBlock',
      spacing: 'None',
      inlines: [
        { type: 'TextRun', text: `${row.mark} ${name}`, weight: 'Bolder' },
        ...(ours.length ? [{ type: 'TextRun', text: ` ${ours.join(', ')}` }] : []),
        ...theirs.map((text) => ({ type: 'TextRun', text: ` ${text}`, isSubtle: true, fontType: 'Monospace' })),
      ],
    };
    const cost = bytes(e) + 1;
    if (cost > room) break;
    out.push(e);
    room -= cost;
    shown++;
  }
  const note = notShownNote(table, shown);
  if (note) out.push({ type: 'TextBlock', text: note, isSubtle: true, wrap: true, size: 'Small' });
  return out;
}

/**
 * The card: title, lead, facts, the untrusted sections and context, the table, the end of the logs, the
 * buttons. The whole request stays within TEAMS_MAX_BYTES whatever the input: over it, the trim groups are
 * trimmed in the message's order while the table and the logs get what is left (the logs last), with a note
 * saying what was trimmed. The minimal form (for a channel that refused the full one) keeps the title, the
 * lead, the facts, the minimal note and the first button.
 */
export function renderTeams(
  message: Notification,
  options: RenderOptions,
  form: Form = 'full',
  /** Bytes a caller will add to the card (the Teams app's note on the thread). */
  reserveBytes = 0,
): TeamsPayload {
  message = bounded(message);
  const minimal = form === 'minimal';
  const { style, color } = STYLES[message.tone];
  const head: Element[] = [
    {
      type: 'Container',
      style,
      bleed: true,
      items: [
        {
          type: 'TextBlock',
          text: `${message.emoji} ${message.headline}`,
          weight: 'Bolder',
          size: 'Medium',
          color,
          wrap: true,
        },
      ],
    },
  ];
  const msteams: Record<string, unknown> = { width: 'Full' };
  if (options.mention && message.alert) {
    const [id, name] = options.mention.split('|') as [string, string];
    head.push({ type: 'TextBlock', text: `<at>${name}</at> please take a look.`, wrap: true });
    msteams.entities = [{ type: 'mention', text: `<at>${name}</at>`, mentioned: { id, name } }];
  }
  if (message.lead) head.push({ type: 'TextBlock', text: message.lead, weight: 'Bolder', wrap: true });
  if (message.facts.length) head.push({ type: 'FactSet', facts: message.facts });
  const links = minimal ? message.links.slice(0, 1) : message.links;
  const actions: Element[] = links.map((l) => ({
    type: 'Action.OpenUrl',
    title: l.hint ? `${l.title} ${l.hint}` : l.title,
    url: l.url,
  }));
  const card = (body: Element[]): TeamsPayload => ({
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
          body,
          ...(actions.length ? { actions } : {}),
        },
      },
    ],
  });
  if (minimal) {
    const note = message.minimalNote
      ? [{ type: 'TextBlock', text: clip(message.minimalNote, MINIMAL_NOTE_CHARS), wrap: true }]
      : [];
    return card([...head, ...note]);
  }

  const wantsLogs = logsWanted(message, options) && message.logs!.inline;
  const build = (step: CapStep, last: boolean): TeamsPayload | undefined => {
    const body = [...head, ...untrustedElements(message, step.caps, (left) => trimmedNote(step, left))];
    let room = TEAMS_MAX_BYTES - reserveBytes - bytes(card(body)) - 16;
    if (room < 0 && !last) return undefined;
    const table = tableElements(message, room - TABLE_RESERVE_BYTES - (wantsLogs ? LOG_FLOOR_BYTES : 0));
    room -= table.reduce((n, e) => n + bytes(e) + 1, 0);
    const full = [...body, ...table];
    if (!wantsLogs) return room >= 0 || last ? card(full) : undefined;
    if (room < LOG_FLOOR_BYTES && !last) return undefined;
    // A JSON array of the log elements, spliced into the body: its size is what it adds, plus a comma.
    const title = message.logs!.title;
    const logsJson = fitTail(
      message.logs!.untrusted,
      Math.max(0, room - 1),
      (t) => JSON.stringify(logElements(title, t)),
      (s) => Buffer.byteLength(s, 'utf8'),
    );
    return card([...full, ...(JSON.parse(logsJson) as Element[])]);
  };
  return firstFit(message, CHANNEL_CAPS, build);
}

/** Whether the card shows its inline logs whole (their heading has no "(end)"). */
export function showsAllLogs(message: Notification, card: TeamsPayload): boolean {
  const body = (card.attachments[0].content.body ?? []) as { type?: string; text?: string }[];
  return body.some((e) => e.type === 'TextBlock' && e.text === message.logs?.title);
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
