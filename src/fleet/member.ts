// A fleet member's side of its group (core/group.ts): its command is polled like any other, and it tells the
// group's partition in the ledger two things — that its tracking message came (the first polls), and how
// its command ended (the deliver stage). The group's summary then tells the group's targets, so the member
// itself does not, except to targets that ask for each member too (_EACH=true).
//
// What the member believes of its group is what the ledger recorded, never its own message: the group's
// members are the member rows its first declaration wrote, its targets the target rows it recorded, and
// which of those show the group is decided by one function against those members (core/group.ts showsGroup).
// A tracking message wins over a word that its member did not start, whenever it comes.
//
// Nothing can make a result go unreported or reported twice through this (fleet/summary.ts has the
// rule): a member whose group was never declared (after a grace), that its group does not list, whose place
// is taken by another command, or whose result the group's settled summary does not show, is reported on
// its own, with a log line saying why; one the summary shows skips the targets the summary tells. A member
// that finds its group overdue ends it in its chain's stead, and is then in its summary.
import { buildReport } from '../core/report';
import { memberDone, memberResult } from '../core/group';
import { serializeSummaryRequest } from '../core/groupMessage';
import { groupJoinGiveUpMs, groupOverdueMs } from '../core/schedule';
import { StoreUnavailableError } from '../store/entityStore';
import { groupKey, type CommandEntries } from '../store/ledgerRows';
import { memberRowKey } from '../store/memberRows';
import type { StoredResult } from '../store/results';
import type { Target } from '../notify/provider';
import type { CommandContext } from '../pipeline/context';
import { toldBy } from './scope';
import { groupFacts, isDeclared, isSettled, markFinal, settleSummary } from './summary';

/** At a member's first polls: its row says its command is tracked. Never fails the poll. */
export async function joinGroup(ctx: CommandContext): Promise<void> {
  const { deps, req, book, log, label } = ctx;
  if (!req.groupId || book.groupJoined) return;
  const key = groupKey(req.groupId);
  try {
    const group = await deps.ledger.load(key);
    // Not declared yet (its message is behind this one): the next poll tries again.
    if (!isDeclared(group.command)) return;
    const row = group.members.find((m) => m.rowKey === memberRowKey(req.cluster));
    if (!row) log.warn(`${label}: group ${req.groupId} does not list this cluster; its result is reported on its own`);
    else if (row.commandId === undefined) {
      // Planned, or a word that it did not start: this command is what the group shows of the member.
      if (row.state === 'notStarted')
        log.warn(`${label}: group ${req.groupId} had this cluster as not started; its command is tracked instead`);
      const written = await deps.ledger.writeMember(key, row, {
        state: 'tracked',
        commandId: req.commandId,
        outcome: undefined,
        error: undefined,
      });
      if (!written) return;
    }
    book.groupJoined = true;
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    log.warn(
      `${label}: could not tell group ${req.groupId} that this command is tracked: ${err.message}; trying again at the next poll`,
    );
  }
}

/**
 * Whether the group's summary tells this target of the member, so that the member posts no live message of
 * its own there. Before the group is declared, every target but those with _EACH is taken as told: a running
 * message is a courtesy, and the result itself is never skipped on a guess (reportToGroup decides that).
 */
export async function toldByGroup(ctx: CommandContext): Promise<(target: Target) => boolean> {
  const { req, deps } = ctx;
  if (!req.groupId) return () => false;
  const group = await deps.ledger.load(groupKey(req.groupId));
  return isDeclared(group.command) ? toldBy(group) : (target) => !target.each;
}

export type GroupVerdict =
  /** Delivered as usual to `entries`' targets; those the group tells (without _EACH) are marked skipped. */
  | { kind: 'deliver'; entries: CommandEntries }
  /** The group is not declared yet, or is settling: come back shortly. */
  | { kind: 'wait'; why: string };

/** Records a member's result in its group, and says which of its targets still need it. */
export async function reportToGroup(
  ctx: CommandContext,
  entries: CommandEntries,
  stored: StoredResult,
): Promise<GroupVerdict> {
  const { deps, req, log, label } = ctx;
  if (!req.groupId) return { kind: 'deliver', entries };
  const groupId = req.groupId;
  const key = groupKey(groupId);
  const reportAlone = (why: string): GroupVerdict => {
    log.warn(`${label}: ${why}; its result is reported on its own`);
    return { kind: 'deliver', entries };
  };
  const leaveToGroup = async (group: CommandEntries): Promise<GroupVerdict> => ({
    kind: 'deliver',
    entries: await skipGroupTargets(ctx, entries, toldBy(group)),
  });
  // Set apart from its group for good by an earlier round: a declaration that came since changes nothing.
  if (entries.command?.alone) return reportAlone(`group ${groupId} was not recorded in time`);
  for (let round = 0; round < 5; round++) {
    const group = await deps.ledger.load(key);
    const chain = group.command;
    if (!isDeclared(chain)) {
      if (deps.now() < groupJoinGiveUpMs(ctx.firstSeenMs, deps.timeoutMinutes))
        return { kind: 'wait', why: `waiting for group ${groupId} to be recorded` };
      // Recorded before it is delivered anywhere: should the declaration come after all, a later round of
      // this delivery must not find the group and have the summary tell of it too.
      const apart = entries.command && (await deps.ledger.writeCommand(ctx.key, entries.command, { alone: true }));
      if (!apart) throw new StoreUnavailableError('the command row changed while it was set apart from its group');
      return reportAlone(`group ${groupId} was never recorded (its declaration did not come)`);
    }
    const row = group.members.find((m) => m.rowKey === memberRowKey(req.cluster));
    if (!row) return reportAlone(`group ${groupId} does not list this cluster`);
    if (row.commandId !== undefined && row.commandId !== req.commandId)
      return reportAlone(`group ${groupId} tracks command ${row.commandId} on this cluster`);
    if (row.commandId === undefined || !memberDone(row)) {
      // Planned, tracked, or a word that it did not start: this result is what the group shows of it.
      const subject = { cluster: req.cluster, commandId: req.commandId, waitedSeconds: stored.waitedSeconds };
      await deps.ledger.writeMember(key, row, {
        state: 'final',
        commandId: req.commandId,
        error: undefined,
        ...memberResult(buildReport(subject, stored.answer)),
      });
      // Read the group again: a final mark that came between that read and this write must be seen.
      continue;
    }
    const overdue = deps.now() >= groupOverdueMs(Date.parse(chain.deadlineAt));
    // The summary is settled from rows read after a final mark still to come: it will show this result.
    if (chain.stage !== 'final' && !overdue) return leaveToGroup(group);
    const settled = await deps.results.get(key);
    if (!isSettled(settled)) {
      if (!overdue) return { kind: 'wait', why: `group ${groupId} is settling its summary` };
      // Its chain is late or lost. End the group in the chain's stead: the final mark (if not made), a request
      // that its summary be delivered (before the summary, so that a crash in between leaves it to the next
      // try), the summary settled; then this member is in it or not, as any member.
      log.warn(`${label}: group ${groupId} is overdue (not ended 10 minutes after its deadline); ending it`);
      if (chain.stage !== 'final') await markFinal(deps, key, group);
      await deps.queue.send(serializeSummaryRequest({ groupId }), 0);
      await settleSummary(deps, key, groupFacts(chain));
      continue;
    }
    const shown = settled.answer.members.find((m) => memberRowKey(m.cluster) === row.rowKey);
    if (!shown || !memberDone(shown) || shown.commandId !== req.commandId)
      return reportAlone(`group ${groupId} ended before this result came (its summary does not show it)`);
    return leaveToGroup(group);
  }
  throw new StoreUnavailableError(`group ${groupId}: its member row kept changing while this result was recorded`);
}

/** The targets the group's summary tells are done for this member (unless they ask for each member too). */
async function skipGroupTargets(
  ctx: CommandContext,
  entries: CommandEntries,
  told: (target: Target) => boolean,
): Promise<CommandEntries> {
  const { deps } = ctx;
  let changed = false;
  for (const row of entries.targets) {
    const target = deps.targets.get(row.name);
    if (!target || !told(target) || row.state !== 'pending' || row.providerState) continue;
    await deps.ledger.writeTarget(ctx.key, row, {
      state: 'skipped',
      lastError: `in the summary of group ${ctx.req.groupId}`,
    });
    changed = true;
  }
  return changed ? await deps.ledger.load(ctx.key) : entries;
}
