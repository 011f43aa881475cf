// Facts shared by every renderer: which fields a message shows, in which order, with which labels.
import { formatDuration, type CommandReport } from '../core/report';

const PORTALS: Record<string, string> = {
  'management.usgovcloudapi.net': 'https://portal.azure.us',
  'management.chinacloudapi.cn': 'https://portal.azure.cn',
};

export function portalUrl(armEndpoint: string, resourceId: string): string {
  const host = new URL(armEndpoint).hostname;
  return `${PORTALS[host] ?? 'https://portal.azure.com'}/#resource${resourceId}/overview`;
}

export interface Fact {
  title: string;
  value: string;
}

/** Validated fields only (names, ids, numbers, times): safe to show as they are. */
export function trustedFacts(report: CommandReport): Fact[] {
  const facts: Fact[] = [
    { title: 'Cluster', value: report.clusterName },
    { title: 'Resource group', value: report.resourceGroupName },
    { title: 'Subscription', value: report.subscriptionId },
    { title: 'Command ID', value: report.commandId },
  ];
  if (report.exitCode !== undefined) facts.push({ title: 'Exit code', value: String(report.exitCode) });
  if (report.provisioningState) facts.push({ title: 'State', value: safeToken(report.provisioningState) });
  if (report.durationSeconds !== undefined) facts.push({ title: 'Duration', value: formatDuration(report.durationSeconds) });
  if (report.startedAt) facts.push({ title: 'Started', value: safeTime(report.startedAt) });
  if (report.finishedAt) facts.push({ title: 'Finished', value: safeTime(report.finishedAt) });
  if (report.waitedSeconds !== undefined && report.durationSeconds === undefined) {
    facts.push({ title: 'Waited', value: formatDuration(report.waitedSeconds) });
  }
  return facts;
}

// ARM's free-text fields that look like tokens still come from outside: keep them token-shaped.
function safeToken(text: string): string {
  return text.replace(/[^\w .:-]/g, '').slice(0, 64);
}
function safeTime(text: string): string {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? safeToken(text) : new Date(ms).toISOString().replace('.000Z', 'Z');
}

export function outcomeEmoji(report: CommandReport): string {
  switch (report.outcome) {
    case 'succeeded':
      return '✅';
    case 'timedOut':
      return '⏳';
    case 'notFound':
    case 'forbidden':
    case 'error':
      return '⚠️';
    default:
      return '❌';
  }
}

/** An https link from the message's context, shown as a button; anything else stays text. */
export function contextLink(report: CommandReport): string | undefined {
  const link = report.context?.link;
  if (!link) return undefined;
  try {
    const url = new URL(link);
    return url.protocol === 'https:' && !url.username && !url.password && link.length <= 2000 ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}
