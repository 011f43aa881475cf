// A fleet run's journey (core/group.ts). `run` declares the group with one message naming every planned
// member, before any start; this records it — a partition of the ledger with a row per member, the group's
// chain row and its targets — and the message then lives on as the group's chain: every tick it reads the
// member rows (one ledger read), updates the live message of the targets that keep one when the counts
// changed, and re-enqueues itself. The group is over when every member is, or at its deadline; its summary
// is then stored, marked final, settled (read again, so that a member's result that landed meanwhile is in
// it), and delivered once per target through the one delivery path.
//
// The word that a member could not be started is recorded in its row; a tracking message that never comes
// leaves its member "start unknown" at the end.
import { clusterResourceId } from '../core/cluster';
import {
  groupOver,
  groupSummary,
  notStartedLine,
  isMemberFailure,
  memberDone,
  progressKey,
  type GroupReport,
  type MemberState,
} from '../core/group';
import {
  serializeGroupRequest,
  serializeNotStarted,
  type GroupRequest,
  type NotStartedRequest,
} from '../core/groupMessage';
import type { Bookkeeping } from '../core/bookkeeping';
import {
  deliveryDeadlineMs,
  firstPollLeaseMs,
  groupDeadlineMs,
  groupJoinGiveUpMs,
  groupTickSeconds,
  pollLeaseMs,
  pollWindow,
  retryDelaySeconds,
} from '../core/schedule';
import { cleanText } from '../core/text';
import type { Log } from '../log';
import { deliverTarget } from '../notify/delivery';
import { wants, type Target } from '../notify/provider';
import { StoreRejectedError, StoreUnavailableError } from '../store/entityStore';
import { commandKey, groupKey, memberRowKey, type CommandEntries, type CommandState } from '../store/ledgerRows';
import { RESULT_VERSION, type StoredResult } from '../store/results';
import { resolveTargets } from './accept';
import type { Journey, MessageMeta, MessageOutcome, PipelineDeps } from './context';
import { deliverAll, deliveryContext } from './deliver';
import { deferForStore, poison, requeue } from './requeue';

interface GroupContext extends Journey {
  req: GroupRequest;
}

type GroupMessage = { kind: 'group'; req: GroupRequest } | { kind: 'notStarted'; req: NotStartedRequest };

/** Logs of failed members in the live channels' thread: this many members, each's end up to this much. */
const THREAD_LOG_MEMBERS = 10;
const THREAD_LOG_CHARS_EACH = 48 * 1024;

export async function handleGroupMessage(
  message: GroupMessage,
  raw: unknown,
  meta: MessageMeta,
  deps: PipelineDeps,
  log: Log,
): Promise<MessageOutcome> {
  if (message.kind === 'notStarted') return recordNotStarted(message.req, raw, meta, deps, log);
  const req = message.req;
  const label = `group ${req.groupId} (${req.members.length} clusters)`;
  const ids = req.members.map(clusterResourceId);
  // A target tells the group only if it may hear of every member, and its kind can show a summary.
  const targets = resolveTargets(
    req.targets,
    (t) => !!t.provider.renderGroup && ids.every((id) => t.scope.allows(id)),
    deps,
    log,
    label,
  );
  if (!Array.isArray(targets)) {
    const reason = `${targets.reason} (a fleet run's target must be allowed every member, and be of a kind that shows a summary)`;
    return poison({ raw, deps, log, meta }, targets.why, reason, label);
  }
  const book = req.bookkeeping ?? { attempt: 0 };
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
    req,
    raw,
    meta,
    deps,
    log,
    label,
    key: groupKey(req.groupId),
    targets,
    book,
    firstSeenMs,
    deadlineMs,
    serialize: (bookkeeping: Bookkeeping) => serializeGroupRequest({ ...req, bookkeeping }),
  };
  meta.span?.set({ 'aks.group_id': req.groupId, 'aks.group_size': req.members.length });
  try {
    if (book.stage !== 'deliver' && book.etag && book.gen !== undefined) {
      const stepped = await step(ctx, { etag: book.etag, gen: book.gen });
      if (stepped) {
        const entries = await deps.ledger.load(ctx.key);
        if (entries.command) return await tick(ctx, entries, entries.command, stepped);
      }
    }
    const entries = await record(ctx);
    const command = entries.command!;
    if (command.stage === 'final') return await finish(ctx, entries, command);
    const mine =
      entries.created ||
      (meta.id !== undefined && command.owner === meta.id) ||
      (book.etag !== undefined && command.etag === book.etag);
    const leaseLeft = command.timestampMs + command.pollLeaseMs - entries.serverNow;
    if (!mine && leaseLeft > 0) {
      log.info(`${label}: another copy follows this group; this copy's targets are recorded and it stops`);
      return {
        kind: 'another-copy-polls',
        reason: `chain ${command.gen} is live for ${Math.ceil(leaseLeft / 1000)}s more`,
      };
    }
    const stepped = await step(ctx, command);
    if (!stepped) return { kind: 'another-copy-polls', reason: 'another copy moved the group on' };
    return await tick(ctx, entries, command, stepped);
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
 * Records the group: its members first (so that a member that finds the chain row finds its own row), then
 * the chain row and this copy's targets. A copy enqueued twice records nothing twice.
 */
async function record(ctx: GroupContext): Promise<CommandEntries & { created: boolean }> {
  const { deps, req, meta, key } = ctx;
  let entries = await deps.ledger.load(key);
  if (!entries.command) {
    const members: MemberState[] = req.members.map((cluster, index) => ({ cluster, index, state: 'planned' }));
    await deps.ledger.addMembers(key, members, entries.members);
  }
  const registered = await deps.ledger.register(
    key,
    {
      clusterResourceId: '',
      commandId: req.groupId,
      firstSeenAt: new Date(ctx.firstSeenMs).toISOString(),
      deadlineAt: new Date(ctx.deadlineMs).toISOString(),
      ...(meta.id ? { owner: meta.id } : {}),
      pollLeaseMs: firstPollLeaseMs(deps.schedule.initialDelaySeconds),
    },
    ctx.targets.map((t) => ({
      name: t.name,
      ...(req.command !== undefined ? { command: req.command } : {}),
      ...(req.context ? { context: req.context } : {}),
    })),
    entries,
  );
  entries = registered;
  if (!entries.command) throw new StoreUnavailableError('the group row vanished while it was recorded');
  // The ledger's row is the authority on the window (a message may only shorten it).
  ctx.firstSeenMs = Math.min(ctx.firstSeenMs, Date.parse(entries.command.firstSeenAt) || ctx.firstSeenMs);
  ctx.deadlineMs = Math.min(ctx.deadlineMs, Date.parse(entries.command.deadlineAt) || ctx.deadlineMs);
  return registered;
}

async function step(
  ctx: GroupContext,
  command: Pick<CommandState, 'etag' | 'gen'>,
): Promise<{ gen: number; etag: string } | undefined> {
  const delay = groupTickSeconds(ctx.deps.schedule, (ctx.deps.now() - ctx.firstSeenMs) / 1000);
  const gen = command.gen + 1;
  const written = await ctx.deps.ledger.step(ctx.key, command.etag, {
    gen,
    ...(ctx.meta.id ? { owner: ctx.meta.id } : {}),
    pollLeaseMs: pollLeaseMs(delay),
  });
  return written ? { gen, etag: written.etag } : undefined;
}

/** One look at the members: the group is over (its summary goes out), or the live messages catch up. */
async function tick(
  ctx: GroupContext,
  entries: CommandEntries,
  command: CommandState,
  stepped: { gen: number; etag: string },
): Promise<MessageOutcome> {
  const { deps, book, log, label } = ctx;
  const now = deps.now();
  if (groupOver(entries.members, now, ctx.deadlineMs)) return finalize(ctx, entries, command);
  const report = summaryOf(ctx, entries.members, false);
  const shown = { ...(book.shown ?? {}) };
  const key = progressKey(report);
  const live = ctx.targets.filter((t) => t.provider.liveMessage && wants(t, undefined) && shown[t.name] !== key);
  if (live.length > 0) {
    const dctx = deliveryContext(ctx, false);
    await Promise.all(
      live.map(async (target) => {
        const row = entries.targets.find((t) => t.name === target.name);
        if (!row) return;
        const result = await deliverTarget(target, row, entries.serverNow, report, dctx).catch((err: unknown) => {
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

/** The group is over: its summary is stored, the group marked final, the summary settled, then delivered. */
async function finalize(ctx: GroupContext, entries: CommandEntries, initial: CommandState): Promise<MessageOutcome> {
  const { deps } = ctx;
  const finalAt = new Date(deps.now()).toISOString();
  await deps.results.put(ctx.key, await snapshot(ctx, entries.members, finalAt, false));
  let command: CommandState | undefined = initial;
  let loaded = entries;
  for (let i = 0; i < 3 && command && command.stage !== 'final'; i++) {
    const report = summaryOf(ctx, loaded.members, true);
    const marked = await deps.ledger.writeCommand(ctx.key, command, {
      stage: 'final',
      finalAt,
      deliverBy: new Date(deliveryDeadlineMs(deps.now(), deps.delivery.timeoutHours)).toISOString(),
      outcome: report.outcome ?? 'failed',
      gen: command.gen + 1,
    });
    if (marked) command = marked;
    else {
      loaded = await deps.ledger.load(ctx.key);
      command = loaded.command;
    }
  }
  if (!command) throw new StoreUnavailableError('the group row vanished before it was marked final');
  // Members decide by the final mark whether the summary can still show them: never settle without it.
  if (command.stage !== 'final')
    throw new StoreUnavailableError('the group row kept changing while it was marked final');
  return finish(ctx, await deps.ledger.load(ctx.key), command);
}

/** A final group: its summary settled (once), then delivered to every target that still needs it. */
async function finish(ctx: GroupContext, entries: CommandEntries, command: CommandState): Promise<MessageOutcome> {
  const { deps, log, label } = ctx;
  let stored = await deps.results.get(ctx.key);
  if (!stored || stored.answer.kind !== 'group' || !stored.answer.settled) {
    // Read after the final mark: every member's result that landed before it is in; any later one finds
    // the group final and settled without it, and is reported on its own (member.ts).
    stored = await snapshot(ctx, entries.members, command.finalAt ?? new Date(deps.now()).toISOString(), true);
    await deps.results.put(ctx.key, stored);
    const report = summaryOf(ctx, entries.members, true);
    log.info(
      `${label}: over: ${Object.entries(report.counts)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
  }
  const answer = stored.answer as Extract<StoredResult['answer'], { kind: 'group' }>;
  const report = summaryOf(ctx, answer.members, true, stored.finalAt, answer.logs);
  const ids = ctx.req.members.map(clusterResourceId);
  return deliverAll(ctx, entries, command, {
    finalAt: stored.finalAt,
    allows: (target: Target) => !!target.provider.renderGroup && ids.every((id) => target.scope.allows(id)),
    report: (row) => ({
      ...report,
      ...(row.command !== undefined ? { command: row.command } : {}),
      ...(row.context ? { context: row.context } : {}),
    }),
  });
}

function summaryOf(
  ctx: GroupContext,
  members: MemberState[],
  final: boolean,
  finishedAt?: string,
  logs?: string,
): GroupReport {
  return groupSummary({
    groupId: ctx.req.groupId,
    members,
    ...(ctx.req.command !== undefined ? { command: ctx.req.command } : {}),
    ...(ctx.req.context ? { context: ctx.req.context } : {}),
    startedAt: new Date(ctx.firstSeenMs).toISOString(),
    final,
    ...(finishedAt ? { finishedAt } : {}),
    ...(logs ? { logs } : {}),
  });
}

/** The summary as stored: the members' rows as they are, and the logs of the first failed members. */
async function snapshot(
  ctx: GroupContext,
  rows: MemberState[],
  finalAt: string,
  settled: boolean,
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
  const logs = settled ? await failedLogs(ctx, members) : undefined;
  return {
    v: RESULT_VERSION,
    clusterResourceId: '',
    commandId: ctx.req.groupId,
    firstSeenAt: new Date(ctx.firstSeenMs).toISOString(),
    finalAt,
    waitedSeconds: Math.max(0, (Date.parse(finalAt) - ctx.firstSeenMs) / 1000),
    answer: { kind: 'group', members, settled, ...(logs ? { logs } : {}) },
  };
}

/** The end of each failed member's logs (the first few, in the summary's order), each under its cluster's name. */
async function failedLogs(ctx: GroupContext, members: MemberState[]): Promise<string | undefined> {
  const failed = [...members]
    .filter((m) => memberDone(m) && m.commandId && m.outcome && isMemberFailure(m.outcome))
    .sort((a, b) => a.index - b.index)
    .slice(0, THREAD_LOG_MEMBERS);
  const parts: string[] = [];
  for (const m of failed) {
    const stored = await ctx.deps.results.get(commandKey(clusterResourceId(m.cluster), m.commandId!));
    const logs = stored?.answer.kind === 'finished' ? stored.answer.result.logs : undefined;
    if (!logs?.trim()) continue;
    const clean = cleanText(logs);
    const end = clean.length > THREAD_LOG_CHARS_EACH ? `…\n${clean.slice(-THREAD_LOG_CHARS_EACH)}` : clean;
    const head = `=== ${m.cluster.resourceName}${m.exitCode !== undefined ? ` (exit code ${m.exitCode})` : ''} ===`;
    parts.push(`${head}\n${end.replace(/\n$/, '')}\n`);
  }
  return parts.length ? parts.join('\n') : undefined;
}

/** A member the CLI could not start (or whose start is unknown): recorded in its row, once. */
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
    const group = await deps.ledger.load(key);
    if (!group.command) {
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
      return { kind: 'deferred', delaySeconds, results: [], reason: `waiting for group ${req.groupId} to be recorded` };
    }
    const row = group.members.find((m) => m.rowKey === memberRowKey(req.cluster));
    if (!row) return poison(ctx, 'invalid-message', `group ${req.groupId} does not list this cluster`, label);
    if (row.state !== 'planned') {
      log.info(`${label}: already ${row.state}; the word that it was not started changes nothing`);
      return { kind: 'recorded', reason: `member already ${row.state}` };
    }
    const error = notStartedLine(req.reason);
    await deps.ledger.writeMember(key, row, { state: 'notStarted', outcome: req.outcome, ...(error ? { error } : {}) });
    log.info(`${label}: recorded as ${req.outcome === 'couldNotStart' ? 'could not start' : 'start unknown'}`);
    return { kind: 'recorded', reason: req.outcome };
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    return deferForStore(ctx, err);
  }
}
