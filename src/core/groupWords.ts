// How a fleet run is said, the same in every channel and in the CLI's `run --wait`: the title and emoji of
// its summary, the progress line, each member's outcome in words and its row in the table.
import { formatDuration } from './report';
import { FAILED, groupExitCode, MEMBER_OUTCOMES, type GroupReport, type MemberLine, type MemberOutcome } from './group';

const WORDS: Record<MemberOutcome, string> = {
  succeeded: 'succeeded',
  failed: 'failed',
  exitCode: 'exit code',
  error: 'result unreadable',
  notFound: 'not found',
  forbidden: 'result forbidden',
  couldNotStart: 'could not start',
  startUnknown: 'start unknown',
  timedOut: 'still running at deadline',
  running: 'running',
};

export const MEMBER_EMOJI: Record<MemberOutcome, string> = {
  succeeded: '✅',
  failed: '❌',
  exitCode: '❌',
  error: '⚠️',
  notFound: '⚠️',
  forbidden: '⚠️',
  couldNotStart: '🚫',
  startUnknown: '❔',
  timedOut: '⏳',
  running: '⏳',
};

/** A member's outcome in words (with its exit code when it has one). */
function outcomeWords(line: Pick<MemberLine, 'outcome' | 'exitCode'>): string {
  return line.outcome === 'exitCode' ? `exit code ${line.exitCode}` : WORDS[line.outcome];
}

/** "12 of 30 done: 11 ✅ 1 ❌, 18 running" — our own words and numbers only. */
export function progressLine(report: GroupReport): string {
  const c = report.counts;
  const running = c.running ?? 0;
  const done = report.total - running;
  const failed = (c.failed ?? 0) + (c.exitCode ?? 0);
  const parts = [
    c.succeeded ? `${c.succeeded} ✅` : '',
    failed ? `${failed} ❌` : '',
    (c.error ?? 0) + (c.notFound ?? 0) + (c.forbidden ?? 0)
      ? `${(c.error ?? 0) + (c.notFound ?? 0) + (c.forbidden ?? 0)} ⚠️`
      : '',
    c.couldNotStart ? `${c.couldNotStart} could not start` : '',
    c.startUnknown ? `${c.startUnknown} start unknown` : '',
    c.timedOut ? `${c.timedOut} still running at deadline` : '',
  ].filter(Boolean);
  return `${done} of ${report.total} done${parts.length ? `: ${parts.join(' ')}` : ''}${running ? `, ${running} running` : ''}`;
}

/** The headline of a group's message. */
export function groupTitle(report: GroupReport): string {
  if (report.outcome === undefined) return `Running on ${report.total} clusters`;
  const code = groupExitCode(report.members);
  if (code === 0) return `Succeeded on all ${report.total} clusters`;
  if (code === 1) {
    const failed = report.members.filter((m) => FAILED.has(m.outcome)).length;
    return `Failed on ${failed} of ${report.total} clusters`;
  }
  if (code === 3)
    return `Not started on every cluster (${report.total - (report.counts.succeeded ?? 0)} of ${report.total})`;
  return `Still running on some clusters at the deadline`;
}

export function groupEmoji(report: GroupReport): string {
  if (report.outcome === undefined) return '⏳';
  const code = groupExitCode(report.members);
  return code === 0 ? '✅' : code === 1 ? '❌' : code === 3 ? '🚫' : '⏳';
}

/** A key of what the summary shows: a live message is updated only when it changes. */
export function progressKey(report: GroupReport): string {
  return MEMBER_OUTCOMES.map((o) => report.counts[o] ?? 0).join('.');
}

/** One table row as plain text (the CLI, and channels that show a monospaced table). */
export function memberRow(line: MemberLine): [string, string, string, string, string] {
  return [
    line.cluster.resourceName,
    outcomeWords(line),
    line.exitCode === undefined ? '' : String(line.exitCode),
    line.durationSeconds === undefined ? '' : formatDuration(line.durationSeconds),
    line.error ?? '',
  ];
}

export const TABLE_HEADER = ['CLUSTER', 'OUTCOME', 'EXIT', 'DURATION', 'FIRST ERROR LINE'] as const;
