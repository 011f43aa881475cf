// A fleet run's journey (core/group.ts). `run` declares the group with one message naming every planned
// member, before any start; the first declaration recorded is the group: its chain row in a ledger partition
// of its own holds what it said (GroupRecord: digests of its members, command, targets and context, and
// their display copies) and its window, with a row per target it names; then come a row per member. A later
// declaration is compared with it: an equal one counts once, one that differs goes to the poison queue with
// the reason and changes nothing. From then on every decision is made from the ledger (its members, targets,
// window), never from the message at hand. A group recorded by a version before declarations were kept runs
// as it did then.
//
// The declaration's message then lives on as the group's chain: every tick it reads the member rows (one
// ledger read), updates the live message of the targets that keep one when the counts changed, and
// re-enqueues itself. The group is over when every member is, or at its deadline: it is marked final, its
// one summary settled (pipeline/groupSummary.ts), and delivered once per target through the one delivery
// path. A summary request (`redeliver --group`, or a member that ended an overdue group) delivers an ended
// group's summary to the targets that still need it, and does nothing else.
//
// The word that a member could not be started is recorded in its row while no tracking message has come; a
// tracking message always wins over it (pipeline/member.ts), and a word that comes after one is refused.
import { ownsChain, type Bookkeeping } from '../core/bookkeeping';
import { notStartedLine, progressKey, groupOver, showsGroup } from '../core/group';
import {
  declarationDigest,
  declarationDiffers,
  serializeGroupRequest,
  serializeNotStarted,
  serializeSummaryRequest,
  type GroupRequest,
  type NotStartedRequest,
  type SummaryRequest,
} from '../core/groupMessage';
import {
  firstPollLeaseMs,
  groupDeadlineMs,
  groupJoinGiveUpMs,
  groupTickSeconds,
  pollLeaseMs,
  pollWindow,
  retryDelaySeconds,
} from '../core/schedule';
import type { Log } from '../log';
import { compose } from '../notify/compose';
import { deliverTarget } from '../delivery';
import { wants, type Target } from '../notify/provider';
import { StoreRejectedError, StoreUnavailableError } from '../store/entityStore';
import { groupKey, memberRowKey, type CommandEntries, type CommandState } from '../store/ledgerRows';
import { resolveTargets } from './accept';
import type { Journey, MessageMeta, MessageOutcome, PipelineDeps } from './context';
import { deliverAll } from './deliver';
import { deliveryContext } from './deliveryContext';
import { groupFacts, isDeclared, markFinal, settleSummary, summaryOf } from './groupSummary';
import { deferForStore, poison, requeue } from './requeue';

interface GroupContext extends Journey {
  groupId: string;
  /** The declaration this message carries (absent: a summary request). */
  req?: GroupRequest;
}

type GroupMessage =
  | { kind: 'group'; req: GroupRequest }
  | { kind: 'notStarted'; req: NotStartedRequest }
  | { kind: 'summary'; req: SummaryRequest };

export async function handleGroupMessage(
  message: GroupMessage,
  raw: unknown,
  meta: MessageMeta,
  deps: PipelineDeps,
  log: Log,
): Promise<MessageOutcome> {
  if (message.kind === 'notStarted') return recordNotStarted(message.req, raw, meta, deps, log);
  const req = message.kind === 'group' ? message.req : undefined;
  const groupId = message.req.groupId;
  const label = req ? `group ${groupId} (${req.members.length} clusters)` : `group ${groupId}`;
  const book = message.req.bookkeeping ?? { attempt: 0 };
  const { firstSeenMs } = pollWindow({
    nowMs: deps.now(),
    ...(meta.insertionTime ? { insertedMs: meta.insertionTime.getTime() } : {}),
    ...(book.firstSeenAt ? { firstSeenAt: book.firstSeenAt } : {}),
    timeoutMinutes: deps.timeoutMinutes,
  });
  const asked = book.deadlineAt ? Date.parse(book.deadlineAt) : Number.NaN;
  const deadlineMs = Math.min(
    groupDeadlineMs(firstSeenMs, deps.timeoutMinutes),
    Number.isNaN(asked) ? Infinity : Math.max(firstSeenMs, asked),
  );
  const ctx: GroupContext = {
    groupId,
    ...(req ? { req } : {}),
    raw,
    meta,
    deps,
    log,
    label,
    key: groupKey(groupId),
    targets: [],
    book,
    firstSeenMs,
    deadlineMs,
    serialize: (bookkeeping: Bookkeeping) =>
      req ? serializeGroupRequest({ ...req, bookkeeping }) : serializeSummaryRequest({ groupId, bookkeeping }),
  };
  meta.span?.set({ 'aks.group_id': groupId, ...(req ? { 'aks.group_size': req.members.length } : {}) });
  try {
    if (!req) return await summaryRequested(ctx);
    // The fast path of a live chain: the message carries the chain row's ETag, and one conditional write
    // proves it is the chain's newest step.
    if (book.stage !== 'deliver' && book.etag && book.gen !== undefined) {
      const entries = await deps.ledger.load(ctx.key);
      const chain = entries.command;
      const refused = chain && refuseDifferent(ctx, req, chain);
      if (refused) return await refused;
      if (chain) {
        window(ctx, chain);
        const stepped = await step(ctx, { ...chain, etag: book.etag, gen: book.gen });
        if (stepped) return await tick(ctx, { ...entries, command: stepped });
      }
    }
    const recorded = await record(ctx, req);
    if (!('entries' in recorded)) return recorded;
    const { entries, created } = recorded;
    const command = entries.command!;
    if (command.stage === 'final') return await finish(ctx, entries);
    const mine = ownsChain(command, { ...(meta.id ? { id: meta.id } : {}), book, created });
    const leaseLeft = command.timestampMs + command.pollLeaseMs - entries.serverNow;
    if (!mine && leaseLeft > 0) {
      log.info(`${label}: another copy follows this group; this copy is the same declaration and stops`);
      return {
        kind: 'another-copy-polls',
        reason: `chain ${command.gen} is live for ${Math.ceil(leaseLeft / 1000)}s more`,
      };
    }
    const stepped = await step(ctx, command);
    if (!stepped) return { kind: 'another-copy-polls', reason: 'another copy moved the group on' };
    return await tick(ctx, { ...entries, command: stepped });
  } catch (err) {
    if (err instanceof StoreRejectedError) {
      const reason = `${err.message}: a request the store will never take (a bug; please report it with this line)`;
      return poison(ctx, 'store-rejected', reason, label);
    }
    if (!(err instanceof StoreUnavailableError)) throw err;
    return deferForStore(ctx, err);
  }
}

/**
 * The targets a declaration may name, resolved as for a command, against its members: a target must be
 * allowed to show the group (core/group.ts showsGroup); a default one that is not hears of the members one
 * by one instead, a named one makes the declaration invalid.
 */
function declaredTargets(ctx: GroupContext, req: GroupRequest): Target[] | Promise<MessageOutcome> {
  const members = req.members.map((cluster) => ({ cluster }));
  const targets = resolveTargets(req.targets, (t) => showsGroup(t, members), ctx.deps, ctx.log, ctx.label);
  if (Array.isArray(targets)) return targets;
  const reason = `${targets.reason} (a fleet run's target must be allowed every member, and be of a kind that shows a summary)`;
  return poison(ctx, targets.why, reason, ctx.label);
}

/** A declaration that differs from the recorded one is refused, and changes nothing. */
function refuseDifferent(
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
async function record(
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
function window(ctx: GroupContext, chain: CommandState): void {
  ctx.firstSeenMs = Date.parse(chain.firstSeenAt) || ctx.firstSeenMs;
  ctx.deadlineMs = Date.parse(chain.deadlineAt) || ctx.deadlineMs;
}

/** The chain's next step: one conditional write of its row; the row as stepped, or undefined if it moved on. */
async function step(ctx: GroupContext, chain: CommandState): Promise<CommandState | undefined> {
  const delay = groupTickSeconds(ctx.deps.schedule, (ctx.deps.now() - ctx.firstSeenMs) / 1000);
  const next = {
    gen: chain.gen + 1,
    ...(ctx.meta.id ? { owner: ctx.meta.id } : {}),
    pollLeaseMs: pollLeaseMs(delay),
  };
  const written = await ctx.deps.ledger.step(ctx.key, chain.etag, next);
  return written ? { ...chain, ...next, etag: written.etag, timestampMs: written.serverNow } : undefined;
}

/** The recorded targets that may show the group now (configured, and allowed every recorded member). */
function showing(ctx: GroupContext, entries: CommandEntries): Target[] {
  return entries.targets.flatMap((row) => {
    const target = ctx.deps.targets.get(row.name);
    return target && showsGroup(target, entries.members) ? [target] : [];
  });
}

/** One look at the members: the group is over (its summary goes out), or the live messages catch up. */
async function tick(ctx: GroupContext, entries: CommandEntries & { command: CommandState }): Promise<MessageOutcome> {
  const { deps, book, log, label } = ctx;
  const stepped = entries.command;
  const now = deps.now();
  if (groupOver(entries.members, now, ctx.deadlineMs)) {
    await markFinal(deps, ctx.key, entries);
    return finish(ctx, await deps.ledger.load(ctx.key));
  }
  const facts = groupFacts(stepped, ctx.req);
  const report = summaryOf(facts, entries.members, false);
  const shown = { ...(book.shown ?? {}) };
  const key = progressKey(report);
  const live = showing(ctx, entries).filter((t) => t.provider.liveMessage && wants(t, false) && shown[t.name] !== key);
  if (live.length > 0) {
    const dctx = deliveryContext(ctx, false);
    const outgoing = compose(report, dctx.armEndpoint);
    await Promise.all(
      live.map(async (target) => {
        const row = entries.targets.find((t) => t.name === target.name);
        if (!row) return;
        const result = await deliverTarget(target, row, entries.serverNow, outgoing, dctx).catch((err: unknown) => {
          if (err instanceof StoreUnavailableError || err instanceof StoreRejectedError) {
            log.warn(`${label}: target ${target.name}: live summary not updated: ${err.message}`);
            return undefined;
          }
          throw err;
        });
        if (result?.status === 'posted') shown[target.name] = key;
        // A target that cannot have a live message (failed for good, or not wanted) is not tried again.
        else if (result && result.status !== 'retry-later') shown[target.name] = key;
      }),
    );
  }
  const delaySeconds = groupTickSeconds(deps.schedule, (now - ctx.firstSeenMs) / 1000);
  const next: Bookkeeping = {
    attempt: book.attempt + 1,
    stage: 'poll',
    gen: stepped.gen,
    etag: stepped.etag,
    round: 0,
    ...(Object.keys(shown).length ? { shown } : {}),
  };
  await requeue(ctx, next, delaySeconds);
  const progress = `${report.total - (report.counts.running ?? 0)} of ${report.total} done`;
  log.info(`${label}: ${progress}; next look in ${delaySeconds}s`);
  return { kind: 'requeued', delaySeconds, attempt: next.attempt, state: progress };
}

/** A final group: its one summary settled, then delivered to every recorded target that still needs it. */
async function finish(ctx: GroupContext, entries: CommandEntries): Promise<MessageOutcome> {
  const { deps, log, label } = ctx;
  const final = entries.command;
  if (!final) throw new StoreUnavailableError('the group row vanished after it was marked final');
  // What it says besides its members is the ledger's record (of a group from before it: this message's).
  const facts = groupFacts(final, ctx.req);
  const { stored, fresh } = await settleSummary(deps, ctx.key, facts);
  const answer = stored.answer as Extract<typeof stored.answer, { kind: 'group' }>;
  const report = summaryOf(facts, answer.members, true, stored.finalAt, answer.logs);
  if (fresh)
    log.info(
      `${label}: over: ${Object.entries(report.counts)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
  return deliverAll(ctx, entries, final, {
    finalAt: stored.finalAt,
    // Against the members the ledger recorded, as every scope decision of a group.
    allows: (target: Target) => showsGroup(target, entries.members),
    report: () => report,
  });
}

/** A summary request: an ended group's summary goes to its recorded targets that still need it; nothing else. */
async function summaryRequested(ctx: GroupContext): Promise<MessageOutcome> {
  const entries = await ctx.deps.ledger.load(ctx.key);
  const chain = entries.command;
  if (!chain)
    return poison(ctx, 'invalid-message', `group ${ctx.groupId} is not recorded here (or past LEDGER_RETENTION_DAYS)`);
  if (chain.stage !== 'final') {
    ctx.log.info(`${ctx.label}: summary asked for while the group runs; its chain delivers it when it ends`);
    return { kind: 'recorded', reason: 'the group is still running' };
  }
  window(ctx, chain);
  return finish(ctx, entries);
}

/** A member the CLI could not start (or whose start is unknown): recorded in its row, once, unless it has a command. */
async function recordNotStarted(
  req: NotStartedRequest,
  raw: unknown,
  meta: MessageMeta,
  deps: PipelineDeps,
  log: Log,
): Promise<MessageOutcome> {
  const label = `group ${req.groupId}: ${req.cluster.resourceName}`;
  const key = groupKey(req.groupId);
  const book = req.bookkeeping ?? { attempt: 0 };
  const { firstSeenMs, deadlineMs } = pollWindow({
    nowMs: deps.now(),
    ...(meta.insertionTime ? { insertedMs: meta.insertionTime.getTime() } : {}),
    ...(book.firstSeenAt ? { firstSeenAt: book.firstSeenAt } : {}),
    timeoutMinutes: deps.timeoutMinutes,
  });
  const ctx: Journey = {
    raw,
    meta,
    deps,
    log,
    label,
    key,
    targets: [],
    book,
    firstSeenMs,
    deadlineMs,
    serialize: (bookkeeping) => serializeNotStarted({ ...req, bookkeeping }),
  };
  try {
    for (let look = 0; look < 3; look++) {
      const group = await deps.ledger.load(key);
      if (!isDeclared(group.command)) {
        if (deps.now() >= groupJoinGiveUpMs(firstSeenMs, deps.timeoutMinutes))
          return poison(
            ctx,
            'invalid-message',
            `group ${req.groupId} was never recorded (its declaration did not come)`,
            label,
          );
        const round = (book.round ?? 0) + 1;
        const delaySeconds = retryDelaySeconds(
          { maxDelaySeconds: deps.delivery.maxDelaySeconds },
          { round, random: deps.random() },
        );
        await requeue(ctx, { ...book, round }, delaySeconds);
        return {
          kind: 'deferred',
          delaySeconds,
          results: [],
          reason: `waiting for group ${req.groupId} to be recorded`,
        };
      }
      const row = group.members.find((m) => m.rowKey === memberRowKey(req.cluster));
      if (!row) return poison(ctx, 'invalid-message', `group ${req.groupId} does not list this cluster`, label);
      // A tracking message came for this member: its command is what the group shows, whatever this says.
      if (row.commandId !== undefined)
        return poison(
          ctx,
          'contradicts-ledger',
          `group ${req.groupId} tracks command ${row.commandId} on this cluster: the word that it did not start is refused`,
          label,
        );
      if (row.state !== 'planned') {
        log.info(`${label}: already ${row.state}; a second word that it was not started changes nothing`);
        return { kind: 'recorded', reason: `member already ${row.state}` };
      }
      const error = notStartedLine(req.reason);
      // Conditional: a tracking message that lands meanwhile wins (the next round finds its command id).
      const written = await deps.ledger.writeMember(key, row, {
        state: 'notStarted',
        outcome: req.outcome,
        ...(error ? { error } : {}),
      });
      if (!written) continue;
      log.info(`${label}: recorded as ${req.outcome === 'couldNotStart' ? 'could not start' : 'start unknown'}`);
      return { kind: 'recorded', reason: req.outcome };
    }
    throw new StoreUnavailableError('the member row kept changing while its start was recorded');
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    return deferForStore(ctx, err);
  }
}
