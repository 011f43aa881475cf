// Slack Block Kit for the neutral message (notify/notification.ts), shared by the incoming-webhook and the
// app provider. Limits (facts.md): ≤ 50 blocks, section text ≤ 3000, header ≤ 150, ≤ 10 fields of ≤ 2000,
// ≤ 10 context elements, button URLs ≤ 3000, blocks in total well under ~13k characters, text ≤ 40k.
//
// Untrusted text (sections, context, table cells marked untrusted, logs) is cleaned (core/text), escaped for
// mrkdwn (&, <, > — so <!channel>, <@U…>, <#C…> and <url|label> arrive as text), set in text objects with
// verbatim: true (so bare URLs and #channel names are not linked either), and fenced where it is code. The
// header is plain_text; the notification text holds only our own words and validated names.
import { clip, fitTail, formatTable, omittedMarker } from '../../core/text';
import type { Notification } from '../notification';
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
import { clipEscaped, guardCodeFence, slackEscape } from './mrkdwn';

export const SLACK_LIMITS = {
  blocks: 50,
  sectionText: 3000,
  header: 150,
  fields: 10,
  fieldText: 2000,
  contextElements: 10,
  blocksTotal: 12000,
  text: 40000,
} as const;
const SLACK_LOG_CHARS = 2600;
const LOG_FLOOR = 1000;
/** Context is small print in Slack: at most its element limit, each value short. A command stays readable. */
const CHANNEL_CAPS = { contextEntries: SLACK_LIMITS.contextElements, contextValue: 150, code: 1500 };
/** A table row wraps past this in a code block: untrusted cells are cut shorter than a card's. */
const TABLE_UNTRUSTED_CHARS = 80;
/** What a fact's title or value may take of its field. */
const FACT_CHARS = 900;
/** A section's text, with room for our label and its markup. */
const SECTION_CHARS = SLACK_LIMITS.sectionText - 20;
/** What the lead or the minimal form's note may take of its section. */
const MINIMAL_NOTE_CHARS = 2900;

type Text = { type: 'mrkdwn'; text: string; verbatim: true } | { type: 'plain_text'; text: string; emoji?: boolean };
type SlackBlock = Record<string, unknown>;
export interface SlackPayload {
  text: string;
  blocks: SlackBlock[];
  unfurl_links: false;
  unfurl_media: false;
}

const mrkdwn = (text: string): Text => ({ type: 'mrkdwn', text, verbatim: true });

function button(text: string, url: string, actionId: string): SlackBlock {
  return { type: 'button', text: { type: 'plain_text', text, emoji: false }, url, action_id: actionId };
}

/** The parts every form has: header, mention, lead, facts, and the notification text. */
function frame(message: Notification, options: RenderOptions, withUntrusted: boolean) {
  const title = `${message.emoji} ${message.headline}`;
  const header =
    withUntrusted && message.headlineUntrusted
      ? `${title}: ${clip(message.headlineUntrusted, SLACK_LIMITS.header)}`
      : title;
  // Our words and validated values, still escaped and held within a field's limit.
  const fields = message.facts.map((f, i) => {
    const [title, value] = [clipEscaped(f.title, FACT_CHARS), clipEscaped(f.value, FACT_CHARS)];
    const link = i === 0 ? message.factLink : undefined;
    // A link too long for the field leaves the fact as text (the buttons still lead there).
    return mrkdwn(
      link && link.length + title.length + value.length + 8 <= SLACK_LIMITS.fieldText
        ? `*${title}*\n<${link}|${value}>`
        : `*${title}*\n${value}`,
    );
  });
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(header, SLACK_LIMITS.header), emoji: true } },
  ];
  const mention = options.mention && message.alert ? options.mention : undefined;
  if (mention) blocks.push({ type: 'section', text: mrkdwn(`${mention} please take a look.`) });
  if (message.lead)
    blocks.push({ type: 'section', text: mrkdwn(`*${clipEscaped(message.lead, MINIMAL_NOTE_CHARS)}*`) });
  for (let i = 0; i < fields.length; i += SLACK_LIMITS.fields)
    blocks.push({ type: 'section', fields: fields.slice(i, i + SLACK_LIMITS.fields) });
  // Our own words and validated names only: Slack parses this text, and shows it in notifications.
  const fallback = slackEscape(message.summary);
  return { blocks, text: mention ? `${mention} ${fallback}` : fallback };
}

/** Sections and context at one step's caps: labelled text, fenced code; prose of one trim group in one block. */
function untrustedBlocks(message: Notification, caps: Caps, note: (left: number) => string | undefined): SlackBlock[] {
  const blocks: SlackBlock[] = [];
  let prose: { trim: string | undefined; lines: string[] } | undefined;
  const flush = () => {
    if (prose?.lines.length) blocks.push({ type: 'section', text: mrkdwn(prose.lines.join('\n')) });
    prose = undefined;
  };
  for (const { section, max } of shownSections(message, caps)) {
    const label = section.label === undefined ? undefined : slackEscape(section.label);
    const room = SECTION_CHARS - (label?.length ?? 0);
    if (section.code) {
      flush();
      const code = clipEscaped(section.untrusted, Math.min(max, room), (c) => guardCodeFence(slackEscape(c)));
      blocks.push({ type: 'section', text: mrkdwn(`*${label ?? 'Code'}*\n\`\`\`${code}\`\`\``) });
      continue;
    }
    const text = clipEscaped(section.untrusted, Math.min(max, room));
    const line = label ? `*${label}:* ${text}` : text;
    // Prose of one trim group shares a block, as long as the block stays within a section's text.
    const joined = prose ? prose.lines.join('\n').length + 1 + line.length : 0;
    if (!prose || prose.trim !== section.trim || section.trim === undefined || joined > SECTION_CHARS) flush();
    prose ??= { trim: section.trim, lines: [] };
    prose.lines.push(line);
  }
  flush();
  const { shown, left } = contextEntries(message.context, caps);
  const trimmed = note(left);
  const elements = shown
    .slice(0, SLACK_LIMITS.contextElements - (trimmed ? 1 : 0))
    .map(([k, v]) => mrkdwn(`*${slackEscape(k)}:* ${slackEscape(v)}`));
  if (trimmed) elements.push(mrkdwn(slackEscape(trimmed)));
  if (elements.length > 0) blocks.push({ type: 'context', elements });
  return blocks;
}

const size = (blocks: SlackBlock[]) => JSON.stringify(blocks).length;

/**
 * The table as monospaced text in code blocks, one per section of up to 3,000 characters, rows in the
 * message's order until `room` characters or the block limit are reached; a last line counts the rest.
 */
function tableBlocks(message: Notification, room: number, blocksBefore: number): SlackBlock[] {
  const table = message.table;
  if (!table) return [];
  const cells = tableCells(table, TABLE_UNTRUSTED_CHARS);
  // Each line within a section's text even escaped (a row that long is cut, with "…").
  const fenced = (text: string) => guardCodeFence(slackEscape(text));
  const lines = formatTable([table.columns.map((c) => c.title), ...cells]).map((l) =>
    fenced(l).length <= SECTION_CHARS ? l : clip(l, Math.floor(SECTION_CHARS / 6)),
  );
  const [header, ...rows] = lines;
  // Measured as the section holds it: escaped, and with the fence guard's zero-width spaces.
  const shownAs = (l: string[]) => fenced(l.join('\n')).length;
  const sections: string[][] = [];
  let current: string[] = [header!];
  let used = shownAs(current);
  let shown = 0;
  for (const row of rows) {
    // What the row adds to the blocks' JSON: its escaped text and the line break before it.
    const cost = JSON.stringify(fenced(row)).length;
    if (
      used + cost + 60 * (sections.length + 1) + 300 > room ||
      blocksBefore + sections.length + 2 >= SLACK_LIMITS.blocks
    )
      break;
    if (shownAs([...current, row]) + 8 > SLACK_LIMITS.sectionText) {
      sections.push(current);
      current = [];
    }
    current.push(row);
    used += cost;
    shown++;
  }
  sections.push(current);
  const blocks: SlackBlock[] = sections.map((l) => ({
    type: 'section',
    text: mrkdwn(`\`\`\`${guardCodeFence(slackEscape(l.join('\n')))}\`\`\``),
  }));
  const note = notShownNote(table, shown);
  if (note) blocks.push({ type: 'context', elements: [mrkdwn(slackEscape(note))] });
  return blocks;
}

/**
 * The end of the logs that fits in `chars` characters of text and in `room` characters of the blocks' JSON
 * (escaping lengthens it); `cut` when some of them were left out.
 */
function logsBlock(
  message: Notification,
  chars: number,
  room: number,
  elsewhere?: string,
): { block: SlackBlock; cut: boolean } | undefined {
  const logs = message.logs;
  let budget = Math.min(chars, SLACK_LIMITS.sectionText);
  for (let i = 0; i < 8 && logs && logs.untrusted.trim() !== '' && budget >= 100; i++) {
    let cut = false;
    const text = fitTail(logs.untrusted, budget, (t) => {
      cut = t.omittedLines > 0;
      const marker = cut ? `${omittedMarker(t.omittedLines, t.omittedBytes)}\n` : '';
      return `*${slackEscape(logs.title)}*${cut ? ` (end${elsewhere ? `; ${elsewhere}` : ''})` : ''}\n\`\`\`${marker}${guardCodeFence(slackEscape(t.text))}\`\`\``;
    });
    const block = { type: 'section', text: mrkdwn(text) };
    const over = size([block]) - 1 - room;
    if (over <= 0) return { block, cut };
    budget = Math.floor(budget - over - budget / 20);
  }
  return undefined;
}

/**
 * The message: header, lead, facts, the untrusted sections and context, the table, the end of the logs,
 * buttons — within every Block Kit limit whatever the input: over the total, the trim groups are trimmed
 * in the message's order (context, then a command, then ARM's explanation, for a command's result) while
 * the table and the logs get what is left (the logs last), with a note saying what was trimmed. The minimal
 * form (for a channel that refused the full one) keeps the header without untrusted words, the lead, the
 * facts, the minimal note and the first button.
 */
export function renderSlack(message: Notification, options: RenderOptions, form: Form = 'full'): SlackPayload {
  return renderSlackMessage(message, options, form).payload;
}

/**
 * The message, and whether it leaves out some of its inline logs (`logsCut`: some or all were). `elsewhere`
 * is our note on where the rest is ("full logs in thread"), shown beside a cut.
 */
export function renderSlackMessage(
  message: Notification,
  options: RenderOptions,
  form: Form,
  elsewhere?: string,
  /** Characters of JSON a caller will add to the blocks (the Slack app's note on the thread). */
  reserve = 0,
): { payload: SlackPayload; logsCut: boolean } {
  message = bounded(message);
  const minimal = form === 'minimal';
  const { blocks: head, text } = frame(message, options, !minimal);
  const links = minimal ? message.links.slice(0, 1) : message.links;
  const actions = links.map((l, i) => button(l.title, l.url, `link-${i}`));
  const tailBlocks: SlackBlock[] = actions.length ? [{ type: 'actions', elements: actions }] : [];
  const payload = (blocks: SlackBlock[]): SlackPayload => ({ text, blocks, unfurl_links: false, unfurl_media: false });
  const wantsLogs = logsWanted(message, options) && message.logs!.inline;
  if (minimal) {
    const note = message.minimalNote
      ? [{ type: 'section', text: mrkdwn(clipEscaped(message.minimalNote, MINIMAL_NOTE_CHARS)) }]
      : [];
    return { payload: payload([...head, ...note, ...tailBlocks]), logsCut: wantsLogs };
  }

  const build = (step: CapStep, last: boolean) => {
    const middle = untrustedBlocks(message, step.caps, (left) => trimmedNote(step, left));
    const fixed = [...head, ...middle, ...tailBlocks];
    // Room for the logs section: its JSON adds ~60 characters of structure around the text (and our note).
    let room = SLACK_LIMITS.blocksTotal - reserve - size(fixed) - 80 - (elsewhere?.length ?? 0);
    if (room < 0 && !last) return undefined;
    const table = tableBlocks(message, room - (wantsLogs ? LOG_FLOOR : 0), fixed.length);
    room -= table.length ? size(table) + 1 : 0;
    if (!wantsLogs) return room >= 0 || last ? { middle: [...middle, ...table], logs: undefined } : undefined;
    if (room < LOG_FLOOR && !last) return undefined;
    // In JSON the block takes what the blocks before it leave, less its comma.
    const json = SLACK_LIMITS.blocksTotal - reserve - size([...fixed, ...table]) - 1;
    return {
      middle: [...middle, ...table],
      logs: logsBlock(message, Math.min(SLACK_LOG_CHARS, room), json, elsewhere),
    };
  };
  const chosen = firstFit(message, CHANNEL_CAPS, build);
  return {
    payload: payload([...head, ...chosen.middle, ...(chosen.logs ? [chosen.logs.block] : []), ...tailBlocks]),
    logsCut: wantsLogs && (chosen.logs?.cut ?? true),
  };
}

/** What a Slack channel would show, as plain text (preview, demo). */
export function slackAsText(body: unknown): string {
  const p = body as { text?: string; blocks?: Record<string, any>[] };
  const lines: string[] = [];
  for (const b of p.blocks ?? []) {
    if (b.type === 'header') lines.push(`# ${b.text.text}`);
    else if (b.type === 'section' && b.fields)
      lines.push((b.fields as { text: string }[]).map((f) => f.text.replace(/\n/, ': ')).join(' | '));
    else if (b.type === 'section') lines.push(b.text.text);
    else if (b.type === 'context') lines.push((b.elements as { text: string }[]).map((e) => e.text).join('  '));
    else if (b.type === 'actions')
      lines.push((b.elements as { text: { text: string } }[]).map((e) => `[${e.text.text}]`).join(' '));
  }
  return lines.length ? lines.join('\n') : (p.text ?? '');
}
