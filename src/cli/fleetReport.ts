// A fleet run's members as the notifier's group summary shows them (the same functions, core/group.ts and core/groupWords.ts):
// the table and the progress line `run --wait` prints, and the JSON document of -o json.
import { clusterResourceId } from '../core/cluster';
import {
  groupExitCode,
  groupSummary,
  memberId,
  memberResult,
  notStartedLine,
  type GroupReport,
  type MemberState,
} from '../core/group';
import { memberRow, progressLine, TABLE_HEADER } from '../core/groupWords';
import { buildReport } from '../core/report';
import { formatTable } from '../core/text';
import type { FleetMember } from './fleetMember';
import type { Io } from './io';

/** The members as the group's summary shows them (the same functions the notifier uses). */
export function fleetReport(groupId: string, members: FleetMember[], command?: string, final = true): GroupReport {
  const states: MemberState[] = members.map((m) => {
    if (m.start !== 'started') {
      return {
        cluster: m.cluster,
        index: m.index,
        state: 'notStarted',
        outcome: m.start,
        ...(m.error ? { error: notStartedLine(m.error) } : {}),
      };
    }
    if (!m.answer) return { cluster: m.cluster, index: m.index, state: 'tracked', commandId: m.commandId! };
    const report = buildReport(
      { cluster: m.cluster, commandId: m.commandId!, waitedSeconds: m.waitedSeconds ?? 0 },
      m.answer,
    );
    return { cluster: m.cluster, index: m.index, state: 'final', commandId: m.commandId!, ...memberResult(report) };
  });
  return groupSummary({
    groupId,
    members: states,
    ...(command !== undefined ? { command } : {}),
    startedAt: new Date(Math.min(...members.map((m) => m.startedAtMs ?? Date.now()))).toISOString(),
    final,
  });
}

export function printFleet(report: GroupReport, io: Io): void {
  for (const line of formatTable([[...TABLE_HEADER], ...report.members.map(memberRow)])) io.out(line);
  io.out(progressLine(report));
}

export function fleetJson(groupId: string, members: FleetMember[], report: GroupReport | undefined) {
  const byId = new Map(report?.members.map((l) => [memberId(l.cluster), l]));
  return {
    groupId,
    ...(report ? { exitCode: groupExitCode(report.members), counts: report.counts } : {}),
    members: members.map((m) => {
      const line = byId.get(memberId(m.cluster));
      return {
        clusterResourceId: clusterResourceId(m.cluster),
        start: m.start,
        ...(m.commandId ? { commandId: m.commandId } : {}),
        ...(line ? { outcome: line.outcome } : {}),
        ...(line?.exitCode !== undefined ? { exitCode: line.exitCode } : {}),
        ...(line?.durationSeconds !== undefined ? { durationSeconds: line.durationSeconds } : {}),
        ...((line?.error ?? m.error) ? { error: line?.error ?? m.error } : {}),
      };
    }),
  };
}
