// A fleet run: one command on many clusters, reported as one group. What a member's outcome is, what the
// group's summary says (counts, then the table with failures first), what it exits with, and when it is
// over. Pure, shared by the function (its summary message) and the CLI (`run --wait` on a fleet), so that
// both say the same of the same members.
import { clusterResourceId, type ClusterRef } from './cluster';
import { type CommandReport, type Outcome } from './report';
import { cleanText, clip } from './text';

/** Groups hold at most this many clusters: the declaration fits a queue message, the summary every channel. */
export const MAX_GROUP_MEMBERS = 200;

/** How a member ended, or where it is: a command's outcome, or what kept it from being one. */
export type MemberOutcome = Outcome | 'couldNotStart' | 'startUnknown' | 'running';

export const MEMBER_OUTCOMES: readonly MemberOutcome[] = [
  'failed',
  'exitCode',
  'error',
  'notFound',
  'forbidden',
  'couldNotStart',
  'startUnknown',
  'timedOut',
  'running',
  'succeeded',
];

/** One member as the ledger knows it (its row in the group's partition). */
export interface MemberState {
  cluster: ClusterRef;
  /** Its place in the declaration (the order the caller gave). */
  index: number;
  /** planned: declared; tracked: its command's tracking message came; final/notStarted: it is over. */
  state: 'planned' | 'tracked' | 'final' | 'notStarted';
  commandId?: string;
  outcome?: MemberOutcome;
  exitCode?: number;
  durationSeconds?: number;
  /** The first line of what went wrong: untrusted text (ARM's reason, the logs, the start's refusal). */
  error?: string;
}

/**
 * A fleet run's members as its summary shows them, as stored (fleet/summary.ts). `settled`: written again
 * after the group was marked final, so that no member's result landed in between unseen.
 */
export interface GroupAnswer {
  kind: 'group';
  members: MemberState[];
  settled: boolean;
  logs?: string;
}

export interface MemberLine {
  cluster: ClusterRef;
  outcome: MemberOutcome;
  commandId?: string;
  exitCode?: number;
  durationSeconds?: number;
  error?: string;
}

export interface GroupReport {
  kind: 'group';
  groupId: string;
  command?: string;
  context?: Record<string, string>;
  /** How the group ended (succeeded: every member did; failed otherwise); absent while members run. */
  outcome?: Outcome;
  total: number;
  counts: Partial<Record<MemberOutcome, number>>;
  /** Failures first (then what could not start, then what ran out of time, then what runs, then successes). */
  members: MemberLine[];
  startedAt: string;
  finishedAt?: string;
  /** Logs of failed members, each under a line naming its cluster (the live channels' thread). */
  logs?: string;
}

export type Report = CommandReport | GroupReport;

export function isGroupReport(report: Report): report is GroupReport {
  return (report as GroupReport).kind === 'group';
}

const ERROR_LINE_CHARS = 160;

/** The first line worth showing of what went wrong: ARM's reason or our explanation, else an error line of the logs. */
export function firstErrorLine(report: CommandReport): string | undefined {
  if (report.outcome === 'succeeded' || report.outcome === undefined) return undefined;
  const pick = (text: string | undefined) =>
    text
      ?.split('\n')
      .map((l) => cleanText(l).trim())
      .find((l) => l !== '');
  const fromLogs = () => {
    const lines = (report.logs ?? '').split('\n').map((l) => cleanText(l).trim());
    return lines.find((l) => /\b(error|fatal|failed|denied|forbidden)\b/i.test(l)) ?? lines.reverse().find((l) => l);
  };
  const line = report.outcome === 'exitCode' ? fromLogs() : (pick(report.reason) ?? pick(report.detail) ?? fromLogs());
  return line ? clip(line, ERROR_LINE_CHARS) : undefined;
}

/** The line a member that did not start shows: the first line of the reason, cleaned and clipped (untrusted). */
export function notStartedLine(reason: string): string {
  return clip(cleanText(reason).split('\n')[0]!.trim(), 300);
}

/** What a member row records of its command's final report. */
export function memberResult(
  report: CommandReport,
): Pick<MemberState, 'outcome' | 'exitCode' | 'durationSeconds' | 'error'> {
  const error = firstErrorLine(report);
  return {
    outcome: report.outcome ?? 'error',
    ...(report.exitCode !== undefined ? { exitCode: report.exitCode } : {}),
    ...(report.durationSeconds !== undefined ? { durationSeconds: report.durationSeconds } : {}),
    ...(error ? { error } : {}),
  };
}

/** Whether a member is over (its row will not change). */
export function memberDone(m: MemberState): boolean {
  return m.state === 'final' || m.state === 'notStarted';
}

/** A member as the summary shows it; `over`: the group's deadline passed, so what is not over never will be. */
export function memberLine(m: MemberState, over: boolean): MemberLine {
  const outcome: MemberOutcome =
    m.state === 'final' || m.state === 'notStarted'
      ? (m.outcome ?? 'error')
      : m.state === 'tracked'
        ? over
          ? 'timedOut'
          : 'running'
        : over
          ? 'startUnknown'
          : 'running';
  return {
    cluster: m.cluster,
    outcome,
    ...(m.commandId ? { commandId: m.commandId } : {}),
    ...(m.exitCode !== undefined ? { exitCode: m.exitCode } : {}),
    ...(m.durationSeconds !== undefined ? { durationSeconds: m.durationSeconds } : {}),
    ...(m.error ? { error: m.error } : {}),
    ...(over && !memberDone(m)
      ? {
          error:
            m.state === 'tracked'
              ? 'still running at the group deadline (POLL_TIMEOUT_MINUTES)'
              : 'no tracking message came: the start may or may not have run',
        }
      : {}),
  };
}

const RANK = new Map(MEMBER_OUTCOMES.map((o, i) => [o, i]));

export function groupSummary(input: {
  groupId: string;
  members: MemberState[];
  command?: string;
  context?: Record<string, string>;
  startedAt: string;
  /** The summary is final: every member is over, or the deadline passed. */
  final: boolean;
  finishedAt?: string;
  logs?: string;
}): GroupReport {
  const over = input.final;
  const lines = [...input.members]
    .sort((a, b) => a.index - b.index)
    .map((m) => memberLine(m, over))
    .sort((a, b) => (RANK.get(a.outcome) ?? 0) - (RANK.get(b.outcome) ?? 0));
  const counts: Partial<Record<MemberOutcome, number>> = {};
  for (const l of lines) counts[l.outcome] = (counts[l.outcome] ?? 0) + 1;
  return {
    kind: 'group',
    groupId: input.groupId,
    ...(input.command !== undefined ? { command: input.command } : {}),
    ...(input.context ? { context: input.context } : {}),
    ...(over ? { outcome: counts.succeeded === lines.length ? 'succeeded' : 'failed' } : {}),
    total: lines.length,
    counts,
    members: lines,
    startedAt: input.startedAt,
    ...(input.finishedAt ? { finishedAt: input.finishedAt } : {}),
    ...(input.logs ? { logs: input.logs } : {}),
  };
}

/** What a target is, as far as a group's scope goes (notify/provider.ts Target has it). */
export interface GroupAudience {
  scope: { allows(clusterResourceId: string): boolean };
}

/**
 * Whether a target may show a group's summary: its _CLUSTERS allows every member the ledger recorded (every
 * kind of channel shows any report). The one scope decision of a group: which targets its declaration may
 * name, which its live message and summary go to, and so which hear of its members one by one instead
 * (fleet/member.ts).
 */
export function showsGroup(target: GroupAudience, members: readonly Pick<MemberState, 'cluster'>[]): boolean {
  return members.every((m) => target.scope.allows(clusterResourceId(m.cluster)));
}

/** The group is over: every member is, or the group's deadline passed. */
export function groupOver(members: MemberState[], nowMs: number, deadlineMs: number): boolean {
  return nowMs >= deadlineMs || members.every(memberDone);
}

export const FAILED: ReadonlySet<MemberOutcome> = new Set(['failed', 'exitCode', 'error', 'notFound', 'forbidden']);
const NOT_STARTED: ReadonlySet<MemberOutcome> = new Set(['couldNotStart', 'startUnknown']);

export function isMemberFailure(outcome: MemberOutcome): boolean {
  return FAILED.has(outcome);
}

/**
 * The exit code of a fleet run (docs/fleet.md), first match wins: 1 when a member failed or exited non-zero
 * (or its result could not be read), 3 when some could not start or their start is unknown, 124 when some
 * were still running at their deadline, 0 when every member succeeded.
 */
export function groupExitCode(lines: readonly Pick<MemberLine, 'outcome'>[]): 0 | 1 | 3 | 124 {
  if (lines.some((l) => FAILED.has(l.outcome))) return 1;
  if (lines.some((l) => NOT_STARTED.has(l.outcome))) return 3;
  if (lines.some((l) => l.outcome === 'timedOut' || l.outcome === 'running')) return 124;
  return 0;
}

/** Member clusters' ids as the ledger keys them. */
export function memberId(cluster: ClusterRef): string {
  return clusterResourceId(cluster).toLowerCase();
}
