// Facts shared by every renderer: which fields a message shows, in which order, with which labels, which
// of them are trusted (validated or derived by us) and which are untrusted text, and how a payload is
// brought within a channel's size limit without failing.
import { cloudOf } from '../core/clouds';
import { formatDuration, type CommandReport } from '../core/report';
import { clip } from '../core/text';

/** Chat services refuse longer link URLs (Slack: 3,000 characters), counted after percent-encoding. */
export const MAX_URL_CHARS = 3000;

export function portalUrl(armEndpoint: string, resourceId: string): string {
  const portal = cloudOf(armEndpoint)?.portal ?? 'https://portal.azure.com';
  // A report about no resource (doctor's test notification) links to the portal itself.
  if (!resourceId) return new URL(portal).toString();
  return new URL(`${portal}/#resource${resourceId}/overview`).toString();
}

export interface Fact {
  title: string;
  value: string;
}

const KNOWN_STATES = [
  'Succeeded',
  'Failed',
  'Canceled',
  'Cancelled',
  'Running',
  'Accepted',
  'Creating',
  'Updating',
  'Deleting',
  'Pending',
  'Starting',
];

/** ARM's provisioningState when it is one of the states we know, in their usual case; else undefined. */
function knownState(state: string | undefined): string | undefined {
  return state === undefined ? undefined : KNOWN_STATES.find((s) => s.toLowerCase() === state.trim().toLowerCase());
}

/** ARM's times, re-written by us when they parse; anything else is not shown. */
function derivedTime(text: string | undefined): string | undefined {
  const ms = text ? Date.parse(text) : Number.NaN;
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** Validated fields only (names, ids, numbers, known states, times we re-wrote): safe to show as they are. */
export function trustedFacts(report: CommandReport): Fact[] {
  if (report.test) {
    // `doctor --notify`: no cluster, no command; where it came from and when.
    const sent = derivedTime(report.finishedAt);
    return [
      { title: 'Sent by', value: 'aks-command-notifier doctor' },
      { title: 'Doctor run', value: report.commandId },
      ...(sent ? [{ title: 'Sent', value: sent }] : []),
    ];
  }
  const facts: Fact[] = [
    { title: 'Cluster', value: report.clusterName },
    { title: 'Resource group', value: report.resourceGroupName },
    { title: 'Subscription', value: report.subscriptionId },
    { title: 'Command ID', value: report.commandId },
  ];
  if (report.exitCode !== undefined) facts.push({ title: 'Exit code', value: String(report.exitCode) });
  const state = knownState(report.provisioningState);
  if (state) facts.push({ title: 'State', value: state });
  if (report.durationSeconds !== undefined)
    facts.push({ title: 'Duration', value: formatDuration(report.durationSeconds) });
  const started = derivedTime(report.startedAt);
  const finished = derivedTime(report.finishedAt);
  if (started) facts.push({ title: report.outcome === undefined ? 'Running since' : 'Started', value: started });
  if (finished) facts.push({ title: 'Finished', value: finished });
  if (report.waitedSeconds !== undefined && report.durationSeconds === undefined) {
    facts.push({ title: 'Waited', value: formatDuration(report.waitedSeconds) });
  }
  return facts;
}

/** A provisioningState we do not know is ARM's free text: shown, but only where untrusted text may go. */
export function unknownState(report: CommandReport): string | undefined {
  return report.provisioningState !== undefined && !knownState(report.provisioningState)
    ? report.provisioningState
    : undefined;
}

export function outcomeEmoji(report: CommandReport): string {
  switch (report.outcome) {
    case 'succeeded':
      return '✅';
    case 'timedOut':
    case undefined:
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
    const encoded = url.toString();
    return url.protocol === 'https:' && !url.username && !url.password && encoded.length <= MAX_URL_CHARS
      ? encoded
      : undefined;
  } catch {
    return undefined;
  }
}

/** How much of each untrusted field a renderer shows. */
export interface FieldCaps {
  contextEntries: number;
  contextValue: number;
  command: number;
  reason: number;
  detail: number;
}

export interface CapStep {
  caps: FieldCaps;
  /** Fields shortened to fit the payload's limit (empty: the defaults fit). */
  trimmed: string[];
}

function halve(n: number, floor: number): number {
  return n <= floor ? 0 : Math.max(floor, Math.floor(n / 2));
}

/**
 * The caps to try, in order, when a payload is over its channel's limit: first the context (fewer entries,
 * shorter values), then the command, then the reason and ARM's explanation. Logs come last: they get what
 * is left at every step (the renderer decides). The last step shows none of these fields.
 */
export function* capLadder(initial: FieldCaps): Generator<CapStep> {
  let caps = { ...initial };
  const trimmed = new Set<string>();
  yield { caps: { ...caps }, trimmed: [] };
  const groups: [string, (c: FieldCaps) => FieldCaps, (c: FieldCaps) => boolean][] = [
    [
      'context',
      (c) => ({ ...c, contextEntries: halve(c.contextEntries, 1), contextValue: halve(c.contextValue, 20) }),
      (c) => c.contextEntries === 0,
    ],
    ['command', (c) => ({ ...c, command: halve(c.command, 40) }), (c) => c.command === 0],
    [
      'reason',
      (c) => ({ ...c, reason: halve(c.reason, 40), detail: halve(c.detail, 40) }),
      (c) => c.reason === 0 && c.detail === 0,
    ],
  ];
  for (const [name, shrink, done] of groups) {
    while (!done(caps)) {
      caps = shrink(caps);
      trimmed.add(name);
      yield { caps: { ...caps }, trimmed: [...trimmed] };
    }
  }
}

/** The context entries a renderer shows, cleaned and capped, and how many it left out. */
export function contextEntries(report: CommandReport, caps: FieldCaps): { shown: [string, string][]; left: number } {
  const all = Object.entries(report.context ?? {});
  // requestedBy (set by `run` from the caller's login) reads as words; still the producer's word, not a proof.
  const label = (k: string) => (k === 'requestedBy' ? 'requested by' : clip(k, 64));
  const shown = all
    .slice(0, caps.contextEntries)
    .map(([k, v]): [string, string] => [label(k), clip(v, caps.contextValue)]);
  return { shown, left: all.length - shown.length };
}

/** Our own words for what a budget step left out, shown in the message. */
export function trimmedNote(step: CapStep, left: number): string | undefined {
  if (step.trimmed.length === 0) return undefined;
  return `… trimmed to fit the channel's size limit: ${step.trimmed.join(', ')}${left > 0 ? ` (${left} context entr${left === 1 ? 'y' : 'ies'} left out)` : ''}`;
}
