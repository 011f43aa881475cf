// The end of a fleet run, wherever it is decided — by its chain (chain.ts) when every member is
// over or at the group's deadline, or by a member that finds the group overdue (member.ts) — and
// what the group's report says. Everything here comes from the ledger: the group's record (what its first
// declaration said), its member rows, its one settled summary; never from the message at hand.
//
// Which report tells of a member, one rule (docs/reliability.md): the group's settled summary. It is made
// once, from the member rows read after the group's final mark, and written on the condition that nothing
// settled it first (the blob's ETag); a second settler reads back the first one's. So a result written to
// its row while the group was not final is always in it; a member that finds its group final is reported
// on its own exactly when that settled summary does not show its command as over.
import { clusterResourceId } from '../core/cluster';
import { groupSummary, isMemberFailure, memberDone, type GroupReport, type MemberState } from '../core/group';
import { deliveryDeadlineMs } from '../core/schedule';
import { cleanText } from '../core/text';
import { StoreUnavailableError } from '../store/entityStore';
import { commandKey, type CommandEntries, type CommandState } from '../store/ledgerRows';
import { RESULT_VERSION, type StoredResult } from '../store/results';
import type { PipelineDeps } from '../pipeline/context';

/** Logs of failed members in the live channels' thread: this many members, each's end up to this much. */
const THREAD_LOG_MEMBERS = 10;
const THREAD_LOG_CHARS_EACH = 48 * 1024;

/** What a group's report says besides its members, as the ledger recorded it. */
export interface GroupFacts {
  groupId: string;
  command?: string;
  context?: Record<string, string>;
  firstSeenMs: number;
}

/**
 * Members act on a group only once its declaration is complete (every member row written): before that,
 * a member's row may be missing though the group lists it. A row from before declarations were kept counts.
 */
export function isDeclared(chain: CommandState | undefined): chain is CommandState {
  return !!chain && chain.group?.declared !== false;
}

/** A group's facts from its chain row (one recorded before declarations were: what its chain message says). */
export function groupFacts(
  chain: CommandState,
  legacy: { command?: string; context?: Record<string, string> } = {},
): GroupFacts {
  const said = chain.group ?? legacy;
  return {
    groupId: chain.commandId,
    ...(said.command !== undefined ? { command: said.command } : {}),
    ...(said.context ? { context: said.context } : {}),
    firstSeenMs: Date.parse(chain.firstSeenAt) || chain.timestampMs,
  };
}

export function summaryOf(
  facts: GroupFacts,
  members: MemberState[],
  final: boolean,
  finishedAt?: string,
  logs?: string,
): GroupReport {
  return groupSummary({
    groupId: facts.groupId,
    members,
    ...(facts.command !== undefined ? { command: facts.command } : {}),
    ...(facts.context ? { context: facts.context } : {}),
    startedAt: new Date(facts.firstSeenMs).toISOString(),
    final,
    ...(finishedAt ? { finishedAt } : {}),
    ...(logs ? { logs } : {}),
  });
}

export function isSettled(stored: StoredResult | undefined): stored is StoredResult & {
  answer: Extract<StoredResult['answer'], { kind: 'group' }>;
} {
  return stored?.answer.kind === 'group' && stored.answer.settled;
}

/**
 * Marks the group final (a conditional write of its chain row): from here on no member's result joins its
 * summary. Returns the final row; throws while the row keeps changing under it.
 */
export async function markFinal(deps: PipelineDeps, key: string, loaded: CommandEntries): Promise<CommandState> {
  const finalAt = new Date(deps.now()).toISOString();
  let entries = loaded;
  let command = entries.command;
  for (let i = 0; i < 3 && command && command.stage !== 'final'; i++) {
    const report = summaryOf(groupFacts(command), entries.members, true);
    const marked = await deps.ledger.writeCommand(key, command, {
      stage: 'final',
      finalAt,
      deliverBy: new Date(deliveryDeadlineMs(deps.now(), deps.delivery.timeoutHours)).toISOString(),
      outcome: report.outcome ?? 'failed',
      gen: command.gen + 1,
    });
    if (marked) command = marked;
    else {
      entries = await deps.ledger.load(key);
      command = entries.command;
    }
  }
  if (!command) throw new StoreUnavailableError('the group row vanished before it was marked final');
  if (command.stage !== 'final')
    throw new StoreUnavailableError('the group row kept changing while it was marked final');
  return command;
}

/**
 * The group's one settled summary: the one stored, or one made now from its member rows (read here, after
 * the final mark the caller saw) and written only if nothing settled it meanwhile; then that one is read back.
 * `fresh`: this call wrote it.
 */
export async function settleSummary(
  deps: PipelineDeps,
  key: string,
  facts: GroupFacts,
): Promise<{ stored: StoredResult; fresh: boolean }> {
  for (let round = 0; round < 3; round++) {
    const current = await deps.results.getVersioned(key);
    if (isSettled(current?.result)) return { stored: current.result, fresh: false };
    const entries = await deps.ledger.load(key);
    const chain = entries.command;
    if (chain?.stage !== 'final') throw new StoreUnavailableError('the group was not marked final before its summary');
    const stored = await snapshot(deps, facts, entries.members, chain.finalAt ?? new Date(deps.now()).toISOString());
    if (await deps.results.putIf(key, stored, current?.etag)) return { stored, fresh: true };
  }
  throw new StoreUnavailableError('the group summary kept changing while it was settled');
}

/** The summary as stored: the members' rows as they are, and the logs of the first failed members. */
async function snapshot(
  deps: PipelineDeps,
  facts: GroupFacts,
  rows: MemberState[],
  finalAt: string,
): Promise<StoredResult> {
  const members = rows.map(({ cluster, index, state, commandId, outcome, exitCode, durationSeconds, error }) => ({
    cluster,
    index,
    state,
    ...(commandId ? { commandId } : {}),
    ...(outcome ? { outcome } : {}),
    ...(exitCode !== undefined ? { exitCode } : {}),
    ...(durationSeconds !== undefined ? { durationSeconds } : {}),
    ...(error ? { error } : {}),
  }));
  const logs = await failedLogs(deps, members);
  return {
    v: RESULT_VERSION,
    clusterResourceId: '',
    commandId: facts.groupId,
    firstSeenAt: new Date(facts.firstSeenMs).toISOString(),
    finalAt,
    waitedSeconds: Math.max(0, (Date.parse(finalAt) - facts.firstSeenMs) / 1000),
    answer: { kind: 'group', members, settled: true, ...(logs ? { logs } : {}) },
  };
}

/** The end of each failed member's logs (the first few, in the summary's order), each under its cluster's name. */
async function failedLogs(deps: PipelineDeps, members: MemberState[]): Promise<string | undefined> {
  const failed = [...members]
    .filter((m) => memberDone(m) && m.commandId && m.outcome && isMemberFailure(m.outcome))
    .sort((a, b) => a.index - b.index)
    .slice(0, THREAD_LOG_MEMBERS);
  const parts: string[] = [];
  for (const m of failed) {
    const stored = await deps.results.get(commandKey(clusterResourceId(m.cluster), m.commandId!));
    const logs = stored?.answer.kind === 'finished' ? stored.answer.result.logs : undefined;
    if (!logs?.trim()) continue;
    const clean = cleanText(logs);
    const end = clean.length > THREAD_LOG_CHARS_EACH ? `…\n${clean.slice(-THREAD_LOG_CHARS_EACH)}` : clean;
    const head = `=== ${m.cluster.resourceName}${m.exitCode !== undefined ? ` (exit code ${m.exitCode})` : ''} ===`;
    parts.push(`${head}\n${end.replace(/\n$/, '')}\n`);
  }
  return parts.length ? parts.join('\n') : undefined;
}
