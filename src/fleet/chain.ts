// A fleet run's chain (core/group.ts). `run` declares the group with one message naming every planned member,
// before any start; the first declaration recorded is the group (declare.ts), and from then on every
// decision is made from the ledger (its members, targets, window), never from the message at hand. A group
// recorded by a version before declarations were kept runs as it did then.
//
// The declaration's message then lives on as the group's chain: every tick it reads the member rows (one
// ledger read), updates the live message of the targets that keep one when the counts changed, and
// re-enqueues itself. The group is over when every member is, or at its deadline: it is marked final, its
// one summary settled (summary.ts), and delivered once per target through the one delivery path. A summary
// request (`redeliver --group`, or a member that ended an overdue group) delivers an ended group's summary
// to the targets that still need it, and does nothing else.
import { ownsChain, type Bookkeeping } from '../core/bookkeeping';
import { groupOver } from '../core/group';
import { progressKey } from '../core/groupWords';
import {
  serializeGroupRequest,
  serializeSummaryRequest,
  type GroupRequest,
  type NotStartedRequest,
  type SummaryRequest,
} from '../core/groupMessage';
import { groupDeadlineMs, groupTickSeconds, pollLeaseMs } from '../core/schedule';
import type { Log } from '../log';
import { compose } from '../notify/compose';
import { deliverTarget } from '../delivery';
import { wants } from '../notify/provider';
import { StoreRejectedError, StoreUnavailableError } from '../store/entityStore';
import { groupKey, type CommandEntries, type CommandState } from '../store/ledgerRows';
import { messageWindow, type MessageMeta, type MessageOutcome, type PipelineDeps } from '../pipeline/context';
import { deliverAll } from '../pipeline/deliverAll';
import { deliveryContext } from '../pipeline/deliveryContext';
import { groupFacts, markFinal, settleSummary, summaryOf } from './summary';
import { endOnStoreError, poison, requeue } from '../pipeline/requeue';
import { record, refuseDifferent, window, type GroupContext } from './declare';
import { recordNotStarted } from './notStarted';
import { recordedScope, showing } from './scope';

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
  const { firstSeenMs } = messageWindow(deps, meta, book);
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
    return endOnStoreError(ctx, err);
  }
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
  const live = showing(ctx.deps.targets, entries).filter(
    (t) => t.provider.liveMessage && wants(t, false) && shown[t.name] !== key,
  );
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
    allows: recordedScope(entries),
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
