// Slack Block Kit for a fleet run's summary (core/group.ts), shared by the incoming-webhook and the app
// provider: header, the counts, the command, then the table — failures first, then the rest as space
// allows, and a last line saying how many are not shown. Within the same limits as a command's message
// (blocks.ts: ≤ 50 blocks, section text ≤ 3000, all blocks ≤ 12k characters) for groups of up to 200.
//
// The table is monospaced text in code blocks: cluster names are validated, outcomes are our words, and
// the first error line (untrusted) is cleaned, escaped for mrkdwn and fenced.
import {
  formatTable,
  groupEmoji,
  groupTitle,
  memberRow,
  progressLine,
  TABLE_HEADER,
  type GroupReport,
} from '../../core/group';
import { clip } from '../../core/text';
import type { Form, RenderOptions } from '../provider';
import { SLACK_LIMITS, type SlackBlock, type SlackPayload } from './blocks';
import { clipEscaped, guardCodeFence, slackEscape } from './mrkdwn';

const mrkdwn = (text: string) => ({ type: 'mrkdwn', text, verbatim: true });
/** The first error line in the table (the thread, or the CLI's table, has the whole of it). */
const TABLE_ERROR_CHARS = 80;
const COMMAND_CHARS = 600;

/** Rows as monospaced lines: cluster, outcome, exit code, duration, first error line. */
function tableLines(report: GroupReport): { header: string; rows: string[] } {
  const cells = report.members.map(memberRow).map((r) => {
    r[4] = clip(r[4], TABLE_ERROR_CHARS);
    return r;
  });
  const lines = formatTable([[...TABLE_HEADER], ...cells]);
  return { header: lines[0]!, rows: lines.slice(1) };
}

const codeSection = (lines: string[]): SlackBlock => ({
  type: 'section',
  text: mrkdwn(`\`\`\`${guardCodeFence(slackEscape(lines.join('\n')))}\`\`\``),
});

const size = (blocks: SlackBlock[]) => JSON.stringify(blocks).length;

/**
 * The summary. The minimal form (for a channel that refused the full one) keeps the header and the counts,
 * and the failed members' names.
 */
export function renderSlackGroup(report: GroupReport, options: RenderOptions, form: Form = 'full'): SlackPayload {
  const title = `${groupEmoji(report)} ${groupTitle(report)}`;
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(title, SLACK_LIMITS.header), emoji: true } },
  ];
  const failing = report.outcome !== undefined && report.outcome !== 'succeeded';
  if (options.mention && failing)
    blocks.push({ type: 'section', text: mrkdwn(`${options.mention} please take a look.`) });
  blocks.push({
    type: 'section',
    text: mrkdwn(`*${slackEscape(progressLine(report))}*\nFleet run \`${report.groupId}\``),
  });
  const fallback = slackEscape(`${title} (fleet run ${report.groupId}): ${progressLine(report)}`);
  const text = options.mention && failing ? `${options.mention} ${fallback}` : fallback;
  const payload = (b: SlackBlock[]): SlackPayload => ({ text, blocks: b, unfurl_links: false, unfurl_media: false });

  if (form === 'minimal') {
    const names = report.members.filter((m) => m.outcome !== 'succeeded').map((m) => m.cluster.resourceName);
    if (names.length) blocks.push({ type: 'section', text: mrkdwn(clip(`Not succeeded: ${names.join(', ')}`, 2900)) });
    return payload(blocks);
  }
  if (report.command !== undefined) {
    const command = clipEscaped(report.command, COMMAND_CHARS, (c) => guardCodeFence(slackEscape(c)));
    blocks.push({ type: 'section', text: mrkdwn(`*Command*\n\`\`\`${command}\`\`\``) });
  }
  const requested = report.context?.requestedBy;
  if (requested) blocks.push({ type: 'context', elements: [mrkdwn(`*requested by:* ${clipEscaped(requested, 150)}`)] });

  // The table, a code block per section, until the blocks' total is reached; the last line says what is left.
  const { header, rows } = tableLines(report);
  const room = SLACK_LIMITS.blocksTotal - size(blocks) - 300;
  const sections: string[][] = [];
  let current: string[] = [header];
  let used = 0;
  let shown = 0;
  for (const row of rows) {
    // Measured as the section holds it: escaped, and with the fence guard's zero-width spaces.
    const shownAs = (lines: string[]) => guardCodeFence(slackEscape(lines.join('\n'))).length;
    const cost = shownAs([row]) + 1;
    if (used + cost + 60 * (sections.length + 1) > room || blocks.length + sections.length + 2 >= SLACK_LIMITS.blocks)
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
  blocks.push(...sections.map(codeSection));
  const left = rows.length - shown;
  if (left > 0) {
    const leftOut = report.members.slice(shown);
    const ok = leftOut.filter((m) => m.outcome === 'succeeded').length;
    const note = `… and ${left} more not shown${ok ? ` (${ok} of them succeeded)` : ''}`;
    blocks.push({ type: 'context', elements: [mrkdwn(slackEscape(note))] });
  }
  return payload(blocks);
}
