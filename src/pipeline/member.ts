// A fleet member's side of its group (core/group.ts): its command is polled like any other, and it tells the
// group's partition in the ledger two things — that its tracking message came (the first polls), and how
// its command ended (the deliver stage). The group's summary then tells the group's targets, so the member
// itself does not, except to targets that ask for each member too (_EACH=true).
//
// Nothing can make a result go unreported through this: a member whose group was never declared (after a
// grace), that its group does not list, whose place is taken by another command, or whose result landed
// after its group's summary was settled, is reported on its own, with a log line saying why.
import { buildReport } from '../core/report';
import { memberDone, memberResult } from '../core/group';
import { groupJoinGiveUpMs, groupOverdueMs } from '../core/schedule';
import { StoreUnavailableError } from '../store/entityStore';
import { groupKey, memberRowKey, type CommandEntries } from '../store/ledgerRows';
import type { StoredResult } from '../store/results';
import type { Target } from '../notify/provider';
import type { CommandContext } from './context';

/** At a member's first polls: its row says its command is tracked. Never fails the poll. */
export async function joinGroup(ctx: CommandContext): Promise<void> {
  const { deps, req, book, log, label } = ctx;
  if (!req.groupId || book.groupJoined) return;
  const key = groupKey(req.groupId);
  try {
    const group = await deps.ledger.load(key);
    // Not declared yet (its message is behind this one): the next poll tries again.
    if (!group.command) return;
    const row = group.members.find((m) => m.rowKey === memberRowKey(req.cluster));
    if (!row) log.warn(`${label}: group ${req.groupId} does not list this cluster; its result is reported on its own`);
    else if (row.state === 'planned')
      await deps.ledger.writeMember(key, row, { state: 'tracked', commandId: req.commandId });
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
 * its own there. Before the group is recorded, every target but those with _EACH is taken as told: a running
 * message is a courtesy, and the result itself is never skipped on a guess (reportToGroup decides that).
 */
export async function toldByGroup(ctx: CommandContext): Promise<(target: Target) => boolean> {
  const { req, deps } = ctx;
  if (!req.groupId) return () => false;
  const group = await deps.ledger.load(groupKey(req.groupId));
  const names = group.command ? new Set(group.targets.map((t) => t.name)) : undefined;
  return (target) => !target.each && (names === undefined || names.has(target.name));
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
  const key = groupKey(req.groupId);
  const alone = (why: string): GroupVerdict => {
    log.warn(`${label}: ${why}; its result is reported on its own`);
    return { kind: 'deliver', entries };
  };
  for (let round = 0; round < 4; round++) {
    const group = await deps.ledger.load(key);
    if (!group.command) {
      if (deps.now() < groupJoinGiveUpMs(ctx.firstSeenMs, deps.timeoutMinutes))
        return { kind: 'wait', why: `waiting for group ${req.groupId} to be recorded` };
      return alone(`group ${req.groupId} was never recorded (its declaration did not come)`);
    }
    const row = group.members.find((m) => m.rowKey === memberRowKey(req.cluster));
    if (!row) return alone(`group ${req.groupId} does not list this cluster`);
    if (row.commandId !== undefined && row.commandId !== req.commandId)
      return alone(`group ${req.groupId} tracks command ${row.commandId} on this cluster`);
    if (!memberDone(row)) {
      const subject = { cluster: req.cluster, commandId: req.commandId, waitedSeconds: stored.waitedSeconds };
      const report = buildReport(subject, stored.answer);
      await deps.ledger.writeMember(key, row, {
        state: 'final',
        commandId: req.commandId,
        ...memberResult(report),
      });
      // Read the group again: a final mark that came between that read and this write must be seen, or
      // the summary (settled after the mark) would show this member as running while it skips its targets.
      continue;
    }
    if (group.command.stage !== 'final' && deps.now() >= groupOverdueMs(ctx.firstSeenMs, deps.timeoutMinutes))
      return alone(`group ${req.groupId} is overdue: it should have ended by now, and has not`);
    if (group.command.stage === 'final') {
      const settled = await deps.results.get(key);
      if (!settled || settled.answer.kind !== 'group' || !settled.answer.settled) {
        if (deps.now() >= groupOverdueMs(ctx.firstSeenMs, deps.timeoutMinutes))
          return alone(`group ${req.groupId} is overdue: its summary was never settled`);
        return { kind: 'wait', why: `group ${req.groupId} is settling its summary` };
      }
      const shown = settled.answer.members.find((m) => memberRowKey(m.cluster) === row.rowKey);
      if (!shown || !memberDone(shown) || shown.commandId !== req.commandId)
        return alone(`group ${req.groupId} ended before this result came (its summary shows it as still running)`);
    }
    return {
      kind: 'deliver',
      entries: await skipGroupTargets(ctx, entries, new Set(group.targets.map((t) => t.name))),
    };
  }
  throw new StoreUnavailableError(`group ${req.groupId}: its member row kept changing while this result was recorded`);
}

/** The targets the group's summary tells are done for this member (unless they ask for each member too). */
async function skipGroupTargets(
  ctx: CommandContext,
  entries: CommandEntries,
  told: ReadonlySet<string>,
): Promise<CommandEntries> {
  const { deps } = ctx;
  let changed = false;
  for (const row of entries.targets) {
    const target = deps.targets.get(row.name);
    if (!told.has(row.name) || target?.each || row.state !== 'pending' || row.providerState) continue;
    await deps.ledger.writeTarget(ctx.key, row, {
      state: 'skipped',
      lastError: `in the summary of group ${ctx.req.groupId}`,
    });
    changed = true;
  }
  return changed ? await deps.ledger.load(ctx.key) : entries;
}
