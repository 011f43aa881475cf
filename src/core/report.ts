// What a notification says, independent of where it goes.
import type { ArmAnswer, CloudErrorInfo, RunCommandResult } from './armAnswer';
import { clusterResourceId, type ClusterRef } from './cluster';

export type Outcome = 'succeeded' | 'failed' | 'exitCode' | 'notFound' | 'forbidden' | 'timedOut' | 'error';

export const OUTCOMES: readonly Outcome[] = [
  'succeeded',
  'failed',
  'exitCode',
  'notFound',
  'forbidden',
  'timedOut',
  'error',
];

export const REQUIRED_PERMISSION = 'Microsoft.ContainerService/managedClusters/commandResults/read';

export interface CommandReport {
  /** How the command ended; absent while it still runs (the live message some channels post, then update). */
  outcome?: Outcome;
  subscriptionId: string;
  resourceGroupName: string;
  clusterName: string;
  clusterResourceId: string;
  commandId: string;
  command?: string;
  context?: Record<string, string>;
  provisioningState?: string;
  exitCode?: number;
  reason?: string;
  startedAt?: string;
  finishedAt?: string;
  durationSeconds?: number;
  logs?: string;
  /** Why the outcome is what it is when ARM did not say (not found, forbidden, gave up). */
  detail?: string;
  /** Seconds this app waited for the result (first seen to now). */
  waitedSeconds?: number;
  /** `doctor --notify`'s test notification (core/doctor.ts): no command ran; its own headline and facts. */
  test?: boolean;
}

/** A command still running has not failed (yet). */
export function isFailure(outcome: Outcome | undefined): boolean {
  return outcome !== undefined && outcome !== 'succeeded';
}

function describeCloudError(error: CloudErrorInfo | undefined): string {
  if (!error) return '';
  return [error.code, error.message].filter(Boolean).join(': ');
}

function durationSeconds(result: Pick<RunCommandResult, 'startedAt' | 'finishedAt'>): number | undefined {
  if (!result.startedAt || !result.finishedAt) return undefined;
  const ms = Date.parse(result.finishedAt) - Date.parse(result.startedAt);
  return Number.isFinite(ms) && ms >= 0 ? ms / 1000 : undefined;
}

/** A final answer as stored: everything a notification needs, whichever target it is for. */
export type FinalAnswer =
  | { kind: 'finished'; result: RunCommandResult }
  | { kind: 'notFound'; error?: CloudErrorInfo }
  | { kind: 'forbidden'; status: number; error?: CloudErrorInfo }
  | { kind: 'rejected'; status: number; detail: string; error?: CloudErrorInfo }
  /** Still running (or still failing to read) at the deadline. */
  | { kind: 'timedOut'; provisioningState?: string; last: string };

/** The final answer an ARM answer amounts to, or undefined while the command runs or the read failed. */
export function finalAnswer(answer: ArmAnswer): FinalAnswer | undefined {
  switch (answer.kind) {
    case 'finished':
      return { kind: 'finished', result: answer.result };
    case 'notFound':
      return { kind: 'notFound', ...(answer.error ? { error: answer.error } : {}) };
    case 'forbidden':
      return { kind: 'forbidden', status: answer.status, ...(answer.error ? { error: answer.error } : {}) };
    case 'rejected':
      return {
        kind: 'rejected',
        status: answer.status,
        detail: answer.detail,
        ...(answer.error ? { error: answer.error } : {}),
      };
    default:
      return undefined;
  }
}

/** What we tell when we stop waiting: the last state, or the last error. */
export function timedOutAnswer(lastAnswer: ArmAnswer): FinalAnswer {
  const last =
    lastAnswer.kind === 'running'
      ? `it was still ${lastAnswer.provisioningState}`
      : lastAnswer.kind === 'transient'
        ? `the last poll failed: ${lastAnswer.detail}`
        : `the last answer was ${lastAnswer.kind}`;
  return {
    kind: 'timedOut',
    last,
    ...(lastAnswer.kind === 'running' ? { provisioningState: lastAnswer.provisioningState } : {}),
  };
}

/** The request side of a report: which command, and what the producer said about it. */
export interface ReportSubject {
  cluster: ClusterRef;
  commandId: string;
  command?: string;
  context?: Record<string, string>;
  /** Seconds this app waited for the result. */
  waitedSeconds: number;
}

/**
 * A report of a final answer, for one target (each target shows its own copy's command and context). A
 * fleet run's stored summary (`group`, core/group.ts GroupAnswer) is never a command's report.
 */
export function buildReport(subject: ReportSubject, answer: FinalAnswer | { readonly kind: 'group' }): CommandReport {
  const report: CommandReport = { ...subjectFacts(subject), outcome: 'error', waitedSeconds: subject.waitedSeconds };
  switch (answer.kind) {
    case 'finished': {
      const r = answer.result;
      const state = r.provisioningState.toLowerCase();
      const outcome: Outcome =
        state === 'succeeded' ? (r.exitCode !== undefined && r.exitCode !== 0 ? 'exitCode' : 'succeeded') : 'failed';
      const duration = durationSeconds(r);
      return {
        ...report,
        outcome,
        provisioningState: r.provisioningState,
        ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
        ...(r.reason !== undefined ? { reason: r.reason } : {}),
        ...(r.startedAt !== undefined ? { startedAt: r.startedAt } : {}),
        ...(r.finishedAt !== undefined ? { finishedAt: r.finishedAt } : {}),
        ...(duration !== undefined ? { durationSeconds: duration } : {}),
        ...(r.logs !== undefined ? { logs: r.logs } : {}),
      };
    }
    case 'notFound':
      return {
        ...report,
        outcome: 'notFound',
        detail:
          `ARM answered 404: the command or the cluster was not found (the id may be wrong, or the result expired). ${describeCloudError(answer.error)}`.trim(),
      };
    case 'forbidden':
      return {
        ...report,
        outcome: 'forbidden',
        detail:
          `ARM answered ${answer.status}: the app's identity lacks ${REQUIRED_PERMISSION} on this cluster. ${describeCloudError(answer.error)}`.trim(),
      };
    case 'rejected':
      return { ...report, outcome: 'error', detail: `${answer.detail}. ${describeCloudError(answer.error)}`.trim() };
    case 'group':
      return { ...report, outcome: 'error', detail: "a fleet run's result is its group summary" };
    case 'timedOut':
      return {
        ...report,
        outcome: 'timedOut',
        ...(answer.provisioningState !== undefined ? { provisioningState: answer.provisioningState } : {}),
        detail: `Still running: gave up waiting after ${formatDuration(subject.waitedSeconds)}; ${answer.last}. Check with: az aks command result --command-id ${subject.commandId}`,
      };
  }
}

/** The report of a command still running: the same facts as the final one will have, as far as they are known. */
export function runningReport(subject: ReportSubject, provisioningState: string, sinceIso: string): CommandReport {
  return { ...subjectFacts(subject), provisioningState, startedAt: sinceIso };
}

function subjectFacts(subject: ReportSubject): CommandReport {
  return {
    subscriptionId: subject.cluster.subscriptionId,
    resourceGroupName: subject.cluster.resourceGroupName,
    clusterName: subject.cluster.resourceName,
    clusterResourceId: clusterResourceId(subject.cluster),
    commandId: subject.commandId,
    ...(subject.command !== undefined ? { command: subject.command } : {}),
    ...(subject.context ? { context: subject.context } : {}),
  };
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** The headline. `withReason` puts ARM's free-text reason in it: only where the text is rendered plainly. */
export function outcomeTitle(report: CommandReport, withReason = true): string {
  if (report.test) return 'Test notification: this channel works';
  switch (report.outcome) {
    case 'succeeded':
      return 'Command succeeded';
    case 'exitCode':
      return `Command failed: exit code ${report.exitCode}`;
    case 'failed':
      return `Command failed${withReason && report.reason ? `: ${report.reason}` : ''}`;
    case 'notFound':
      return 'Command or cluster not found';
    case 'forbidden':
      return 'Not allowed to read the command result';
    case 'timedOut':
      return 'Still running: gave up waiting';
    case 'error':
      return 'Could not read the command result';
    case undefined: {
      const since = report.startedAt ? Date.parse(report.startedAt) : Number.NaN;
      return `Running on ${report.clusterName}${Number.isNaN(since) ? '' : ` since ${new Date(since).toISOString().slice(11, 19)} UTC`}`;
    }
  }
}
