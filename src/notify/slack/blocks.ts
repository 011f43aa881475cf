// Slack Block Kit for a report, shared by the incoming-webhook and the app provider. Limits (facts.md):
// ≤ 50 blocks, section text ≤ 3000, header ≤ 150, ≤ 10 fields of ≤ 2000, ≤ 10 context elements, button
// URLs ≤ 3000, blocks in total well under ~13k characters, text ≤ 40k.
//
// Untrusted text (command, context, ARM's reason and messages, logs, an unknown state) is cleaned (core/text),
// escaped for mrkdwn (&, <, > — so <!channel>, <@U…>, <#C…> and <url|label> arrive as text), set in text
// objects with verbatim: true (so bare URLs and #channel names are not linked either), and fenced where it is
// code. The header is plain_text; the notification text holds only our own words and validated names.
import { isFailure, outcomeTitle, type CommandReport } from '../../core/report';
import { clip, fitTail, omittedMarker } from '../../core/text';
import type { Form, RenderOptions } from '../provider';
import {
  capLadder,
  contextEntries,
  contextLink,
  outcomeEmoji,
  portalUrl,
  trimmedNote,
  trustedFacts,
  unknownState,
  type FieldCaps,
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
const DEFAULT_CAPS: FieldCaps = { contextEntries: 10, contextValue: 150, command: 1500, reason: 500, detail: 1000 };

type Text = { type: 'mrkdwn'; text: string; verbatim: true } | { type: 'plain_text'; text: string; emoji?: boolean };
export type SlackBlock = Record<string, unknown>;
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

/** The parts every form has: header, mention, facts, and the notification text. */
function frame(report: CommandReport, options: RenderOptions, withReason: boolean) {
  const title = `${outcomeEmoji(report)} ${outcomeTitle(report, false)}`;
  const header =
    withReason && report.outcome === 'failed' && report.reason
      ? `${title}: ${clip(report.reason, SLACK_LIMITS.header)}`
      : title;
  const link = portalUrl(options.armEndpoint, report.clusterResourceId);
  const fields = trustedFacts(report).map((f, i) =>
    mrkdwn(i === 0 ? `*${f.title}*\n<${link}|${slackEscape(f.value)}>` : `*${f.title}*\n${slackEscape(f.value)}`),
  );
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(header, SLACK_LIMITS.header), emoji: true } },
  ];
  const mention = options.mention && isFailure(report.outcome) ? options.mention : undefined;
  if (mention) blocks.push({ type: 'section', text: mrkdwn(`${mention} please take a look.`) });
  blocks.push({ type: 'section', fields: fields.slice(0, SLACK_LIMITS.fields) });
  if (fields.length > SLACK_LIMITS.fields) blocks.push({ type: 'section', fields: fields.slice(SLACK_LIMITS.fields) });
  // Our own words and validated names only: Slack parses this text, and shows it in notifications.
  const fallback = slackEscape(
    `${title}${report.outcome === undefined ? '' : ` on ${report.clusterName}`} (command ${report.commandId})`,
  );
  return { blocks, link, text: mention ? `${mention} ${fallback}` : fallback };
}

function untrustedBlocks(
  report: CommandReport,
  caps: FieldCaps,
  note: (left: number) => string | undefined,
): SlackBlock[] {
  const blocks: SlackBlock[] = [];
  const state = unknownState(report);
  if (state) blocks.push({ type: 'section', text: mrkdwn(`*State:* ${clipEscaped(state, 64)}`) });
  if (report.command !== undefined && caps.command > 0) {
    blocks.push({
      type: 'section',
      text: mrkdwn(
        `*Command*\n\`\`\`${clipEscaped(report.command, caps.command, (c) => guardCodeFence(slackEscape(c)))}\`\`\``,
      ),
    });
  }
  const explains = report.outcome !== 'succeeded' && report.outcome !== 'exitCode';
  const explanation = [
    explains && report.reason && caps.reason > 0 ? `*Reason:* ${clipEscaped(report.reason, caps.reason)}` : '',
    explains && report.detail && caps.detail > 0 ? clipEscaped(report.detail, caps.detail) : '',
  ]
    .filter(Boolean)
    .join('\n');
  if (explanation) blocks.push({ type: 'section', text: mrkdwn(explanation) });
  const { shown, left } = contextEntries(report, caps);
  const trimmed = note(left);
  const elements = shown
    .slice(0, SLACK_LIMITS.contextElements - (trimmed ? 1 : 0))
    .map(([k, v]) => mrkdwn(`*${slackEscape(k)}:* ${slackEscape(v)}`));
  if (trimmed) elements.push(mrkdwn(slackEscape(trimmed)));
  if (elements.length > 0) blocks.push({ type: 'context', elements });
  return blocks;
}

/** The end of the logs that fits; `cut` when some of them were left out. */
function logsBlock(
  report: CommandReport,
  chars: number,
  elsewhere?: string,
): { block: SlackBlock; cut: boolean } | undefined {
  if (report.logs === undefined || report.logs.trim() === '' || chars < 100) return undefined;
  let cut = false;
  const text = fitTail(report.logs, Math.min(chars, SLACK_LIMITS.sectionText), (t) => {
    cut = t.omittedLines > 0;
    const marker = cut ? `${omittedMarker(t.omittedLines, t.omittedBytes)}\n` : '';
    return `*Logs*${cut ? ` (end${elsewhere ? `; ${elsewhere}` : ''})` : ''}\n\`\`\`${marker}${guardCodeFence(slackEscape(t.text))}\`\`\``;
  });
  return { block: { type: 'section', text: mrkdwn(text) }, cut };
}

const size = (blocks: SlackBlock[]) => JSON.stringify(blocks).length;

/**
 * The message: header, facts, command, reason, context, the end of the logs, buttons — within every Block
 * Kit limit whatever the input: over the total, context is trimmed first, then the command, then the reason,
 * while the logs get what is left (and are cut last), with a note saying what was trimmed. The minimal form
 * (for a channel that refused the full one) keeps the header without ARM's reason, the facts and the portal
 * button.
 */
export function renderSlack(report: CommandReport, options: RenderOptions, form: Form = 'full'): SlackPayload {
  return renderSlackMessage(report, options, form).payload;
}

/**
 * The message, and whether it shows the logs whole (`logsCut`: some or all were left out). `elsewhere` is
 * our note on where the rest is ("full logs in thread"), shown beside a cut.
 */
export function renderSlackMessage(
  report: CommandReport,
  options: RenderOptions,
  form: Form,
  elsewhere?: string,
): { payload: SlackPayload; logsCut: boolean } {
  const minimal = form === 'minimal';
  const { blocks: head, link, text } = frame(report, options, !minimal);
  const actions: SlackBlock[] = [button('Open cluster', link, 'open-cluster')];
  const cl = minimal ? undefined : contextLink(report);
  if (cl) actions.push(button('Open link', cl, 'open-link'));
  const tailBlocks: SlackBlock[] = [{ type: 'actions', elements: actions }];
  const payload = (blocks: SlackBlock[]): SlackPayload => ({ text, blocks, unfurl_links: false, unfurl_media: false });
  const wantsLogs = options.includeLogs && report.logs !== undefined && report.logs.trim() !== '';
  if (minimal) return { payload: payload([...head, ...tailBlocks]), logsCut: wantsLogs };

  let last: SlackBlock[] = [...head, ...tailBlocks];
  for (const step of capLadder(DEFAULT_CAPS)) {
    const middle = untrustedBlocks(report, step.caps, (left) => trimmedNote(step, left));
    const fixed = [...head, ...middle, ...tailBlocks];
    // Room for the logs section: its JSON adds ~60 characters of structure around the text (and our note).
    const room = SLACK_LIMITS.blocksTotal - size(fixed) - 80 - (elsewhere?.length ?? 0);
    last = fixed;
    if (!wantsLogs) {
      if (room >= 0) return { payload: payload(fixed), logsCut: false };
      continue;
    }
    if (room >= LOG_FLOOR) {
      const logs = logsBlock(report, Math.min(SLACK_LOG_CHARS, room), elsewhere);
      return {
        payload: payload([...head, ...middle, ...(logs ? [logs.block] : []), ...tailBlocks]),
        logsCut: logs?.cut ?? true,
      };
    }
  }
  // Everything optional is gone: give the logs whatever room is left.
  const room = SLACK_LIMITS.blocksTotal - size(last) - 80 - (elsewhere?.length ?? 0);
  const logs = wantsLogs ? logsBlock(report, Math.min(SLACK_LOG_CHARS, room), elsewhere) : undefined;
  return {
    payload: payload(logs ? [...last.slice(0, -1), logs.block, ...tailBlocks] : last),
    logsCut: wantsLogs && (logs?.cut ?? true),
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
