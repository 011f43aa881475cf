// Slack Block Kit for a report. Limits (facts.md): ≤ 50 blocks, section text ≤ 3000, header ≤ 150,
// ≤ 10 fields of ≤ 2000, blocks in total well under ~13k characters, text ≤ 40k.
import { isFailure, outcomeTitle, type CommandReport } from '../../core/report';
import { clip, fitTail, omittedMarker } from '../../core/text';
import type { Form, RenderOptions } from '../provider';
import { contextLink, outcomeEmoji, portalUrl, trustedFacts } from '../render';
import { clipEscaped, guardCodeFence, slackEscape } from './mrkdwn';

export const SLACK_LIMITS = { blocks: 50, sectionText: 3000, header: 150, fields: 10, fieldText: 2000, blocksTotal: 12000 } as const;
export const SLACK_LOG_CHARS = 2600;

type Text = { type: 'mrkdwn' | 'plain_text'; text: string };
export type SlackBlock = Record<string, unknown>;
export interface SlackPayload {
  text: string;
  blocks: SlackBlock[];
  unfurl_links: false;
  unfurl_media: false;
}

const mrkdwn = (text: string): Text => ({ type: 'mrkdwn', text });

/**
 * The message: header, facts, command, reason, context, the end of the logs, buttons. The minimal form
 * (for a channel that refused the full one) keeps the header without ARM's reason, the facts and the
 * portal button.
 */
export function renderSlack(report: CommandReport, options: RenderOptions, form: Form = 'full'): SlackPayload {
  const minimal = form === 'minimal';
  const title = `${outcomeEmoji(report)} ${outcomeTitle(report, !minimal)}`;
  const link = portalUrl(options.armEndpoint, report.clusterResourceId);
  const fields = trustedFacts(report).map((f, i) =>
    mrkdwn(i === 0 ? `*${f.title}*\n<${link}|${slackEscape(f.value)}>` : `*${f.title}*\n${slackEscape(f.value)}`),
  );
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(title, SLACK_LIMITS.header), emoji: true } },
  ];
  const mention = options.mention && isFailure(report.outcome) ? options.mention : undefined;
  if (mention) blocks.push({ type: 'section', text: mrkdwn(`${mention} please take a look.`) });
  blocks.push({ type: 'section', fields: fields.slice(0, SLACK_LIMITS.fields) });
  if (fields.length > SLACK_LIMITS.fields) blocks.push({ type: 'section', fields: fields.slice(SLACK_LIMITS.fields) });
  if (minimal) {
    blocks.push({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open cluster' }, url: link, action_id: 'open-cluster' }] });
    const text = `${title} on ${report.clusterName} (command ${report.commandId})`;
    return { text: mention ? `${mention} ${text}` : text, blocks, unfurl_links: false, unfurl_media: false };
  }
  if (report.command !== undefined) {
    blocks.push({ type: 'section', text: mrkdwn(`*Command*\n\`\`\`${clipEscaped(report.command, 1500, (c) => guardCodeFence(slackEscape(c)))}\`\`\``) });
  }
  const explanation = report.outcome === 'failed' || report.outcome === 'error' || report.outcome === 'notFound' || report.outcome === 'forbidden' || report.outcome === 'timedOut'
    ? [report.reason ? `*Reason:* ${clipEscaped(report.reason, 500)}` : '', report.detail ? clipEscaped(report.detail, 1000) : '']
        .filter(Boolean)
        .join('\n')
    : '';
  if (explanation) blocks.push({ type: 'section', text: mrkdwn(explanation) });
  const contextEntries = Object.entries(report.context ?? {});
  if (contextEntries.length > 0) {
    blocks.push({
      type: 'context',
      elements: contextEntries.slice(0, 10).map(([k, v]) => mrkdwn(`*${slackEscape(k)}:* ${clipEscaped(v, 150)}`)),
    });
  }
  if (options.includeLogs && report.logs !== undefined && report.logs.trim() !== '') {
    const section = fitTail(report.logs, SLACK_LOG_CHARS, (t) => {
      const marker = t.omittedLines > 0 ? `${omittedMarker(t.omittedLines, t.omittedBytes)}\n` : '';
      return `*Logs*${t.omittedLines > 0 ? ' (end)' : ''}\n\`\`\`${marker}${guardCodeFence(slackEscape(t.text))}\`\`\``;
    });
    blocks.push({ type: 'section', text: mrkdwn(section) });
  }
  const cl = contextLink(report);
  const actions: SlackBlock[] = [
    { type: 'button', text: { type: 'plain_text', text: 'Open cluster' }, url: link, action_id: 'open-cluster' },
  ];
  if (cl) actions.push({ type: 'button', text: { type: 'plain_text', text: 'Open link' }, url: cl, action_id: 'open-link' });
  blocks.push({ type: 'actions', elements: actions });

  const fallback = `${title} on ${report.clusterName} (command ${report.commandId})`;
  return { text: mention ? `${mention} ${fallback}` : fallback, blocks, unfurl_links: false, unfurl_media: false };
}

/** What a Slack channel would show, as plain text (preview, demo). */
export function slackAsText(body: unknown): string {
  const p = body as { text?: string; blocks?: Record<string, any>[] };
  const lines: string[] = [];
  for (const b of p.blocks ?? []) {
    if (b.type === 'header') lines.push(`# ${b.text.text}`);
    else if (b.type === 'section' && b.fields) lines.push((b.fields as { text: string }[]).map((f) => f.text.replace(/\n/, ': ')).join(' | '));
    else if (b.type === 'section') lines.push(b.text.text);
    else if (b.type === 'context') lines.push((b.elements as { text: string }[]).map((e) => e.text).join('  '));
    else if (b.type === 'actions') lines.push((b.elements as { text: { text: string } }[]).map((e) => `[${e.text.text}]`).join(' '));
  }
  return lines.length ? lines.join('\n') : (p.text ?? '');
}
