// Slack Block Kit for a report. Limits (facts.md): ≤ 50 blocks, section text ≤ 3000, header ≤ 150,
// ≤ 10 fields of ≤ 2000, blocks in total well under ~13k characters, text ≤ 40k.
import { isFailure, outcomeTitle, type CommandReport } from '../core/report';
import { clip, clipEscaped, fitTail, guardCodeFence, omittedMarker, slackEscape } from '../core/text';
import { contextLink, outcomeEmoji, portalUrl, trustedFacts } from './render';

export const SLACK_LIMITS = { blocks: 50, sectionText: 3000, header: 150, fields: 10, fieldText: 2000, blocksTotal: 12000 } as const;
export const SLACK_LOG_CHARS = 2600;

export interface SlackRenderOptions {
  armEndpoint: string;
  includeLogs: boolean;
  mention?: string;
}

type Text = { type: 'mrkdwn' | 'plain_text'; text: string };
export type SlackBlock = Record<string, unknown>;
export interface SlackPayload {
  text: string;
  blocks: SlackBlock[];
  unfurl_links: false;
  unfurl_media: false;
}

const mrkdwn = (text: string): Text => ({ type: 'mrkdwn', text });

export function renderSlack(report: CommandReport, options: SlackRenderOptions): SlackPayload {
  const title = `${outcomeEmoji(report)} ${outcomeTitle(report)}`;
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
  if (report.command !== undefined) {
    blocks.push({ type: 'section', text: mrkdwn(`*Command*\n\`\`\`${clipEscaped(report.command, 1500, (c) => guardCodeFence(slackEscape(c)))}\`\`\``) });
  }
  const explanation = report.outcome === 'failed' || report.outcome === 'error' || report.outcome === 'notFound' || report.outcome === 'forbidden' || report.outcome === 'timedOut'
    ? [report.reason ? `*Reason:* ${clipEscaped(report.reason, 500, slackEscape)}` : '', report.detail ? clipEscaped(report.detail, 1000, slackEscape) : '']
        .filter(Boolean)
        .join('\n')
    : '';
  if (explanation) blocks.push({ type: 'section', text: mrkdwn(explanation) });
  const contextEntries = Object.entries(report.context ?? {});
  if (contextEntries.length > 0) {
    blocks.push({
      type: 'context',
      elements: contextEntries.slice(0, 10).map(([k, v]) => mrkdwn(`*${slackEscape(k)}:* ${clipEscaped(v, 150, slackEscape)}`)),
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
