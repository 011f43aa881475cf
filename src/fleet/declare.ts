// Recording a fleet run (core/group.ts): the first declaration recorded is the group. Its chain row in a
// ledger partition of its own holds what it said (digests of its members, command, targets and context, and
// their display copies) and its window, with a row per target it names; then come a row per member and the
// mark that they are all there. A later declaration is compared with it: an equal one counts once, one that
// differs goes to the poison queue with the reason and changes nothing.
import { declarationDigest, declarationDiffers, type GroupRequest } from '../core/groupMessage';
import { firstPollLeaseMs } from '../core/schedule';
import type { Target } from '../notify/provider';
import { StoreUnavailableError } from '../store/entityStore';
import type { CommandEntries, CommandState } from '../store/ledgerRows';
import { resolveTargets } from '../pipeline/accept';
import type { Journey, MessageOutcome } from '../pipeline/context';
import { poison } from '../pipeline/requeue';

import { declaredScope } from './scope';

/** A fleet message on its way: a declaration, or a summary request (no `req`). */
export interface GroupContext extends Journey {
  groupId: string;
  /** The declaration this message carries (absent: a summary request). */
  req?: GroupRequest;
}

/**
 * The targets a declaration may name, resolved as for a command, against its members: a target must be
 * allowed to show the group (core/group.ts showsGroup); a default one that is not hears of the members one
 * by one instead, a named one makes the declaration invalid.
 */
function declaredTargets(ctx: GroupContext, req: GroupRequest): Target[] | Promise<MessageOutcome> {
  const targets = resolveTargets(req.targets, declaredScope(req.members), ctx.deps, ctx.log, ctx.label);
  if (Array.isArray(targets)) return targets;
  const reason = `${targets.reason} (a fleet run's target must be allowed every member, and be of a kind that shows a summary)`;
  return poison(ctx, targets.why, reason, ctx.label);
}

/** A declaration that differs from the recorded one is refused, and changes nothing. */
export function refuseDifferent(
  ctx: GroupContext,
  req: GroupRequest,
  chain: CommandState,
): Promise<MessageOutcome> | undefined {
  if (!chain.group) return undefined;
  const differs = declarationDiffers(chain.group.declaration, declarationDigest(req));
  if (differs.length === 0) return undefined;
  return poison(
    ctx,
    'contradicts-ledger',
    `group ${ctx.groupId} was recorded with other ${differs.join(', ')}: the first declaration recorded is the group, and this one changes nothing`,
    ctx.label,
  );
}

/**
 * Records the group, once: the first declaration's chain row (what it said) with its target rows, in one
 * transaction; then, by any copy equal to it, its member rows, and last the mark that they are all there
 * (members act on the group only then). A copy that differs is refused; an equal one, once declared, writes
 * nothing.
 */
export async function record(
  ctx: GroupContext,
  req: GroupRequest,
): Promise<{ entries: CommandEntries; created: boolean } | MessageOutcome> {
  const { deps, meta, key } = ctx;
  const init = {
    clusterResourceId: '',
    commandId: req.groupId,
    firstSeenAt: new Date(ctx.firstSeenMs).toISOString(),
    deadlineAt: new Date(ctx.deadlineMs).toISOString(),
    ...(meta.id ? { owner: meta.id } : {}),
    pollLeaseMs: firstPollLeaseMs(deps.schedule.initialDelaySeconds),
  };
  const said = {
    declaration: declarationDigest(req),
    ...(req.command !== undefined ? { command: req.command } : {}),
    ...(req.context ? { context: req.context } : {}),
  };
  let entries = await deps.ledger.load(key);
  /** This copy made the group's chain: it recorded the group, or completed its declaration. */
  let created = false;
  if (!entries.command) {
    const targets = declaredTargets(ctx, req);
    if (!Array.isArray(targets)) return targets;
    created = await deps.ledger.declareGroup(
      key,
      { ...init, group: { ...said, declared: false } },
      targets.map((t) => t.name),
    );
    entries = await deps.ledger.load(key);
  }
  for (let round = 0; ; round++) {
    const chain = entries.command;
    if (!chain) throw new StoreUnavailableError('the group row vanished while it was recorded');
    if (round > 3) throw new StoreUnavailableError('the group row kept changing while it was recorded');
    // Recorded by a version before declarations were kept (a rolling deploy): it runs as it did then.
    if (!chain.group) break;
    const refused = refuseDifferent(ctx, req, chain);
    if (refused) return refused;
    if (chain.group.declared) break;
    // Equal to the recorded declaration: its members are the group's. Write those missing (a crash or an
    // outage may have left the first copy half way), then mark the group declared. No chain runs before
    // that mark, so the copy that makes it is the chain (an equal one making it at once loses the first step).
    await deps.ledger.addMembers(
      key,
      req.members.map((cluster, index) => ({ cluster, index, state: 'planned' })),
      entries.members,
    );
    if (await deps.ledger.writeCommand(key, chain, { group: { ...chain.group, declared: true } })) created = true;
    entries = await deps.ledger.load(key);
  }
  window(ctx, entries.command!);
  return { entries, created };
}

/** The group's window is the one its ledger row recorded: a later message's bookkeeping changes nothing. */
export function window(ctx: GroupContext, chain: CommandState): void {
  ctx.firstSeenMs = Date.parse(chain.firstSeenAt) || ctx.firstSeenMs;
  ctx.deadlineMs = Date.parse(chain.deadlineAt) || ctx.deadlineMs;
}
