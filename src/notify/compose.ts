// The one place where a report becomes what goes out: the channel-neutral message every chat channel
// renders (notify/notification.ts), and the structured report a data channel takes instead. Each kind of
// report — a command's result, a command still running, a fleet run's summary, doctor's test — is turned
// into the message here and nowhere else: which fields it shows, in which order, under which labels,
// which of them are trusted (validated or derived by us) and which are untrusted text, and what the
// minimal form keeps. A new kind of report is a new builder here; no channel changes.
import { cloudOf } from '../core/clouds';
import { isGroupReport, groupExitCode } from '../core/group';
import { memberRow, MEMBER_EMOJI, groupTitle, groupEmoji, progressLine } from '../core/groupWords';
import type { GroupReport, Report } from '../core/group';
import { formatDuration, isFailure, outcomeTitle, type CommandReport } from '../core/report';
import { clip } from '../core/text';
import type { Fact, Notification, Outgoing, Section, Tone } from './notification';
import { MAX_URL_CHARS } from './render';

export function compose(report: Report, armEndpoint: string): Outgoing {
  if (isGroupReport(report)) {
    const final = report.outcome !== undefined;
    return {
      message: groupMessage(report),
      report: {
        type: final ? 'fleet.summary' : 'fleet.running',
        subject: report.groupId,
        ...(report.finishedAt ? { time: report.finishedAt } : {}),
        final,
        failure: isFailure(report.outcome),
        data: report,
      },
    };
  }
  const final = report.outcome !== undefined;
  return {
    message: commandMessage(report, armEndpoint),
    report: {
      type: report.test ? 'doctor.test' : final ? 'command.result' : 'command.running',
      subject: report.clusterResourceId,
      ...(report.finishedAt ? { time: report.finishedAt } : {}),
      final,
      failure: isFailure(report.outcome),
      ...(report.test ? { everyTarget: true } : {}),
      data: report,
    },
  };
}

function portalUrl(armEndpoint: string, resourceId: string): string {
  const portal = cloudOf(armEndpoint)?.portal ?? 'https://portal.azure.com';
  // A report about no resource (doctor's test notification) links to the portal itself.
  if (!resourceId) return new URL(portal).toString();
  return new URL(`${portal}/#resource${resourceId}/overview`).toString();
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
function trustedFacts(report: CommandReport): Fact[] {
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

function outcomeEmoji(report: CommandReport): string {
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

function commandTone(report: CommandReport): Tone {
  switch (report.outcome) {
    case undefined:
      return 'accent';
    case 'succeeded':
      return 'good';
    case 'timedOut':
    case 'notFound':
    case 'forbidden':
    case 'error':
      return 'warning';
    default:
      return 'attention';
  }
}

/** An https link from the message's context, shown as a button; anything else stays text. */
function contextLink(report: Pick<CommandReport, 'context'>): string | undefined {
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

/** The context's keys as labels (cleaned, clipped); requestedBy (set by `run` from the caller's login) reads as words. */
function contextOf(context: Record<string, string> | undefined): [string, string][] {
  // Still the producer's word, not a proof.
  const label = (k: string) => (k === 'requestedBy' ? 'requested by' : clip(k, 64));
  return Object.entries(context ?? {}).map(([k, v]): [string, string] => [label(k), v]);
}

/**
 * A command's message, running or final: its facts, then the command, ARM's explanation and the context
 * (untrusted, trimmed in that order when a channel is short of room), then the end of the logs.
 */
function commandMessage(report: CommandReport, armEndpoint: string): Notification {
  const title = outcomeTitle(report, false);
  const emoji = outcomeEmoji(report);
  const link = portalUrl(armEndpoint, report.clusterResourceId);
  const sections: Section[] = [];
  const state = report.provisioningState;
  // A provisioningState we do not know is ARM's free text: shown, but only where untrusted text may go.
  if (state !== undefined && !knownState(state)) sections.push({ label: 'State', untrusted: state, max: 64 });
  if (report.command !== undefined)
    sections.push({ label: 'Command', untrusted: report.command, code: true, max: 1500, trim: 'command' });
  const explains = report.outcome !== 'succeeded' && report.outcome !== 'exitCode';
  if (explains && report.reason) sections.push({ label: 'Reason', untrusted: report.reason, max: 500, trim: 'reason' });
  if (explains && report.detail) sections.push({ untrusted: report.detail, max: 1000, trim: 'reason' });
  const context = contextOf(report.context);
  const contextUrl = contextLink(report);
  return {
    ref: {
      id: report.commandId,
      about: report.clusterResourceId.toLowerCase(),
      name: `${report.clusterName}/${report.commandId}`,
    },
    final: report.outcome !== undefined,
    alert: isFailure(report.outcome),
    tone: commandTone(report),
    emoji,
    headline: title,
    ...(report.outcome === 'failed' && report.reason ? { headlineUntrusted: report.reason } : {}),
    summary: `${emoji} ${title}${report.outcome === undefined ? '' : ` on ${report.clusterName}`} (command ${report.commandId})`,
    facts: trustedFacts(report),
    factLink: link,
    sections,
    ...(context.length ? { context: { untrusted: context, maxEntries: 20, maxValue: 300 } } : {}),
    ...(report.logs !== undefined && report.logs.trim() !== ''
      ? {
          logs: {
            untrusted: report.logs,
            title: 'Logs',
            inline: true,
            fileName: `${report.clusterName}-${report.commandId}.log`,
          },
        }
      : {}),
    links: [
      { title: 'Open cluster', hint: 'in the Azure portal', url: link },
      ...(contextUrl ? [{ title: 'Open link', url: contextUrl }] : []),
    ],
    trimOrder: ['context', 'command', 'reason'],
  };
}

function groupTone(report: GroupReport): Tone {
  if (report.outcome === undefined) return 'accent';
  const code = groupExitCode(report.members);
  return code === 0 ? 'good' : code === 1 ? 'attention' : 'warning';
}

/** A time we wrote (ISO), without its milliseconds. */
const seconds = (iso: string) => iso.replace(/\.\d+Z$/, 'Z');

/**
 * A fleet run's summary: counts, then a table of its members — failures first, so that a channel short of
 * room shows them and counts the rest — and the failed members' logs, for a channel that has a thread.
 */
function groupMessage(report: GroupReport): Notification {
  const title = groupTitle(report);
  const emoji = groupEmoji(report);
  const failing = report.outcome !== undefined && report.outcome !== 'succeeded';
  const progress = progressLine(report);
  const notSucceeded = report.members.filter((m) => m.outcome !== 'succeeded').map((m) => m.cluster.resourceName);
  const requestedBy = report.context?.requestedBy;
  return {
    ref: { id: report.groupId, about: 'fleet', name: `fleet/${report.groupId}` },
    final: report.outcome !== undefined,
    alert: failing,
    tone: groupTone(report),
    emoji,
    headline: title,
    summary: `${emoji} ${title} (fleet run ${report.groupId}): ${progress}`,
    lead: progress,
    facts: [
      { title: 'Fleet run', value: report.groupId },
      { title: 'Clusters', value: String(report.total) },
      { title: 'Started', value: seconds(report.startedAt) },
      ...(report.finishedAt ? [{ title: 'Finished', value: seconds(report.finishedAt) }] : []),
    ],
    sections:
      report.command !== undefined
        ? [{ label: 'Command', untrusted: report.command, code: true, max: 600, trim: 'command' }]
        : [],
    ...(requestedBy ? { context: { untrusted: [['requested by', requestedBy]], maxEntries: 1, maxValue: 150 } } : {}),
    table: {
      // The exit code is in the outcome's words ("exit code 2"); a column of it would say it twice.
      columns: [
        { title: 'CLUSTER' },
        { title: 'OUTCOME' },
        { title: 'DURATION' },
        { title: 'FIRST ERROR LINE', untrusted: true, max: 120 },
      ],
      rows: report.members.map((m) => {
        const [name, outcome, , duration, error] = memberRow(m);
        return {
          mark: MEMBER_EMOJI[m.outcome],
          cells: [name, outcome, duration, error],
          quiet: m.outcome === 'succeeded',
        };
      }),
      quietWord: 'succeeded',
    },
    ...(report.logs !== undefined && report.logs.trim() !== ''
      ? {
          logs: {
            untrusted: report.logs,
            title: 'Logs of failed members',
            inline: false,
            fileName: `fleet-${report.groupId}-failed.log`,
          },
        }
      : {}),
    links: [],
    ...(notSucceeded.length ? { minimalNote: `Not succeeded: ${notSucceeded.join(', ')}` } : {}),
    trimOrder: ['context', 'command'],
  };
}
