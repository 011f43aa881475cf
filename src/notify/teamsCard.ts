// Teams Workflows message: an Adaptive Card 1.4 (1.5+ fail in Workflows) in the message envelope.
// Untrusted text goes into RichTextBlock TextRuns, which Teams never parses as markdown, so links and
// formatting in logs or commands stay inert. The request is kept under ~24 KB (Teams refuses ~28 KB).
import { isFailure, outcomeTitle, type CommandReport } from '../core/report';
import { clip, fitTail, omittedMarker } from '../core/text';
import { contextLink, outcomeEmoji, portalUrl, trustedFacts } from './render';

export const TEAMS_MAX_BYTES = 24 * 1024;

export interface TeamsRenderOptions {
  armEndpoint: string;
  includeLogs: boolean;
  /** "user@domain|Display Name", mentioned on failures. */
  mention?: string;
}

export interface TeamsPayload {
  type: 'message';
  attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive'; contentUrl: null; content: Record<string, unknown> }];
}

type Element = Record<string, unknown>;

function colour(report: CommandReport): { style: string; color: string } {
  if (report.outcome === 'succeeded') return { style: 'good', color: 'Good' };
  if (report.outcome === 'timedOut' || report.outcome === 'notFound' || report.outcome === 'forbidden' || report.outcome === 'error') {
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
  return { type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card }] };
}

export function renderTeams(report: CommandReport, options: TeamsRenderOptions): TeamsPayload {
  const { style, color } = colour(report);
  const link = portalUrl(options.armEndpoint, report.clusterResourceId);
  const body: Element[] = [
    {
      type: 'Container',
      style,
      bleed: true,
      items: [{ type: 'TextBlock', text: `${outcomeEmoji(report)} ${outcomeTitle(report, false)}`, weight: 'Bolder', size: 'Medium', color, wrap: true }],
    },
  ];
  const msteams: Record<string, unknown> = { width: 'Full' };
  if (options.mention && isFailure(report.outcome)) {
    const [id, name] = options.mention.split('|') as [string, string];
    body.push({ type: 'TextBlock', text: `<at>${name}</at> please take a look.`, wrap: true });
    msteams.entities = [{ type: 'mention', text: `<at>${name}</at>`, mentioned: { id, name } }];
  }
  body.push({ type: 'FactSet', facts: trustedFacts(report) });
  if (report.command !== undefined) body.push(textRuns('Command', clip(report.command, 1000), true));
  if (report.reason) body.push(textRuns('Reason', clip(report.reason, 500)));
  if (report.detail && report.outcome !== 'succeeded') body.push({ type: 'RichTextBlock', inlines: [{ type: 'TextRun', text: clip(report.detail, 1000) }] });
  for (const [k, v] of Object.entries(report.context ?? {}).slice(0, 20)) body.push({ ...textRuns(k, clip(v, 300)), spacing: 'None' });

  const actions: Element[] = [{ type: 'Action.OpenUrl', title: 'Open cluster in the Azure portal', url: link }];
  const cl = contextLink(report);
  if (cl) actions.push({ type: 'Action.OpenUrl', title: 'Open link', url: cl });
  const card = (extra: Element[]): Record<string, unknown> => ({
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.4',
    msteams,
    body: [...body, ...extra],
    actions,
  });

  if (!options.includeLogs || report.logs === undefined || report.logs.trim() === '') return envelope(card([]));
  const fixedBytes = Buffer.byteLength(JSON.stringify(envelope(card([]))), 'utf8');
  const logElements = (t: { text: string; omittedLines: number; omittedBytes: number }): Element[] => [
    { type: 'TextBlock', text: t.omittedLines > 0 ? 'Logs (end)' : 'Logs', weight: 'Bolder', spacing: 'Medium' },
    {
      type: 'Container',
      style: 'emphasis',
      items: [
        {
          type: 'RichTextBlock',
          inlines: [
            ...(t.omittedLines > 0 ? [{ type: 'TextRun', text: `${omittedMarker(t.omittedLines, t.omittedBytes)}\n`, isSubtle: true }] : []),
            { type: 'TextRun', text: t.text, fontType: 'Monospace', size: 'Small' },
          ],
        },
      ],
    },
  ];
  const budget = TEAMS_MAX_BYTES - fixedBytes - 64;
  const logsJson = fitTail(
    report.logs,
    Math.max(0, budget),
    (t) => JSON.stringify(logElements(t)),
    (s) => Buffer.byteLength(s, 'utf8'),
  );
  return envelope(card(JSON.parse(logsJson) as Element[]));
}
