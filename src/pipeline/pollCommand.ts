// One queue message, one decision. Plain logic over injected adapters, so that the Functions handler,
// the worker and the bench's simulations run exactly this.
//
// A command moves through two stages, each a chain of queue messages that re-enqueue themselves:
//   poll:    ask ARM; while the command runs, re-enqueue with a delay. One chain per command: every step
//            is a conditional write of the command's ledger row, so a second copy (enqueued twice, or a
//            fork left by a crash) finds the row moved on and stops, after recording its own targets.
//   deliver: once ARM gives a final answer, it is stored (results/) and the message only delivers: to
//            every target any copy recorded, each at most once, retrying transient failures by
//            re-enqueueing itself (never by throwing) until the delivery deadline.
// The host's retries are left for what this code cannot decide: a queue that refuses the re-enqueue.
import type { CommandResultReader } from '../arm/commandResults';
import type { ArmRead } from '../core/armAnswer';
import {
  clusterResourceId,
  escapeForLog,
  MessageError,
  messageText,
  parsePollRequest,
  serializePollRequest,
  type Bookkeeping,
  type PollRequest,
  type SentNote,
} from '../core/message';
import {
  buildReport,
  finalAnswer,
  formatDuration,
  runningReport,
  timedOutAnswer,
  type CommandReport,
  type FinalAnswer,
} from '../core/report';
import type { ReadBudget } from '../core/readBudget';
import {
  deliveryRoundDelaySeconds,
  nextDelaySeconds,
  retryDelaySeconds,
  storeRetryDelaySeconds,
  type PollSchedule,
  type RetryPolicy,
} from '../core/schedule';
import type { Log } from '../log';
import {
  Cooldowns,
  deliverRunning,
  deliverTarget,
  Pacer,
  recordSentNote,
  type DeliveryContext,
  type TargetResult,
} from '../notify/delivery';
import { wants, type Target } from '../notify/provider';
import { StoreRejectedError, StoreUnavailableError } from '../store/entityStore';
import { commandKey, type CommandEntries, type CommandState, type Ledger, type TargetCopy } from '../store/ledger';
import { RESULT_VERSION, type ResultStore, type StoredResult } from '../store/results';
import {
  armAnswerClass,
  noTelemetry,
  type MessageSpan,
  type PoisonReason,
  type Telemetry,
} from '../telemetry/telemetry';

export interface PollDeps {
  schedule: PollSchedule;
  timeoutMinutes: number;
  delivery: { timeoutHours: number; maxDelaySeconds: number };
  arm: CommandResultReader;
  queue: {
    send(text: string, delaySeconds: number): Promise<void>;
    sendPoison(original: string, reason: string): Promise<void>;
  };
  targets: ReadonlyMap<string, Target>;
  defaultTargets: readonly string[];
  ledger: Ledger;
  ledgerTimeoutMs: number;
  results: ResultStore;
  armEndpoint: string;
  sendTimeoutMs: number;
  cooldowns: Cooldowns;
  pacer: Pacer;
  /** Spreads ARM reads per subscription; absent: no client-side limit. */
  readBudget?: ReadBudget;
  telemetry?: Telemetry;
  now: () => number;
  /** A clock that never jumps (budgets, leases measured by the holder). */
  monotonic: () => number;
  random: () => number;
}

export interface MessageMeta {
  dequeueCount: number;
  insertionTime?: Date;
  id?: string;
  /** The message's span: what this message was and became, as attributes and delivery events. */
  span?: MessageSpan;
}

export type PollOutcome =
  | { kind: 'poisoned'; reason: string }
  | { kind: 'requeued'; delaySeconds: number; attempt: number; state: string }
  /** Another copy polls this command; this one's targets are recorded and it stops. */
  | { kind: 'merged'; reason: string }
  | { kind: 'notified'; outcome: CommandReport['outcome']; results: TargetResult[] }
  /** Delivery (or a store it needs) must wait: the message was re-enqueued for then. */
  | {
      kind: 'deferred';
      outcome?: CommandReport['outcome'];
      delaySeconds: number;
      results: TargetResult[];
      reason: string;
    };

/** Thrown for work that must be retried by the host (the queue refused a re-enqueue). */
export class RetryableError extends Error {
  override name = 'RetryableError';
}

/** Grace on top of the next delay before a silent chain counts as dead and another copy may take over. */
const CHAIN_GRACE_SECONDS = 60;

interface Ctx {
  req: PollRequest;
  raw: unknown;
  meta: MessageMeta;
  deps: PollDeps;
  log: Log;
  label: string;
  clusterId: string;
  key: string;
  /** The targets this message names (resolved and in scope). */
  targets: Target[];
  book: Bookkeeping;
  /** Clamped: never after now, the deadline never beyond firstSeen + POLL_TIMEOUT_MINUTES. */
  firstSeenMs: number;
  deadlineMs: number;
}

function resolveTargets(req: PollRequest, id: string, deps: PollDeps, log: Log, label: string): Target[] | string {
  const explicit = new Set<string>();
  const fromDefault = new Set<string>();
  for (const name of req.targets ?? ['default']) {
    if (name === 'default') deps.defaultTargets.forEach((d) => fromDefault.add(d));
    else explicit.add(name);
  }
  const unknown = [...explicit].filter((n) => !deps.targets.has(n));
  if (unknown.length > 0) {
    return `unknown notification target(s): ${unknown.join(', ')}; configured: ${[...deps.targets.keys()].join(', ') || 'none'}`;
  }
  const outside = [...explicit].filter((n) => !deps.targets.get(n)!.scope.allows(id));
  if (outside.length > 0)
    return `target(s) ${outside.join(', ')} may not be told about this cluster (their _CLUSTERS setting leaves it out)`;
  const chosen = [...explicit].map((n) => deps.targets.get(n)!);
  for (const name of fromDefault) {
    if (explicit.has(name)) continue;
    const target = deps.targets.get(name)!;
    if (target.scope.allows(id)) chosen.push(target);
    else log.warn(`${label}: default target ${name} skipped: its _CLUSTERS setting leaves this cluster out`);
  }
  if (chosen.length === 0) {
    return fromDefault.size > 0
      ? 'no notification target: every default target leaves this cluster out of its scope'
      : 'no notification target: the message names none and no default is configured';
  }
  return chosen;
}

async function poison(
  ctx: Pick<Ctx, 'raw' | 'deps' | 'log' | 'meta'>,
  why: PoisonReason,
  reason: string,
  label?: string,
): Promise<PollOutcome> {
  const bounded = escapeForLog(reason, 1024);
  await ctx.deps.queue.sendPoison(messageText(ctx.raw), bounded);
  telemetryOf(ctx.deps).poisoned(why);
  ctx.meta.span?.set({ 'aks.poison_reason': why });
  ctx.log.error(`${label ?? `message ${escapeForLog(ctx.meta.id ?? '?', 80)}`}: moved to the poison queue: ${bounded}`);
  return { kind: 'poisoned', reason: bounded };
}

export async function processPollMessage(
  raw: unknown,
  meta: MessageMeta,
  deps: PollDeps,
  log: Log,
): Promise<PollOutcome> {
  let req: PollRequest;
  try {
    req = parsePollRequest(raw);
  } catch (err) {
    if (!(err instanceof MessageError)) throw err;
    return poison({ raw, deps, log, meta }, 'invalid-message', `invalid message: ${err.message}`);
  }
  const label = `command ${req.commandId} on ${req.cluster.resourceName}`;
  const clusterId = clusterResourceId(req.cluster);
  const targets = resolveTargets(req, clusterId, deps, log, label);
  meta.span?.set({
    'aks.command_id': req.commandId,
    'aks.cluster': req.cluster.resourceName,
    'aks.resource_group': req.cluster.resourceGroupName,
    'aks.subscription_id': req.cluster.subscriptionId,
  });
  if (typeof targets === 'string') {
    const why: PoisonReason = targets.startsWith('unknown')
      ? 'unknown-target'
      : targets.startsWith('no notification target')
        ? 'no-target'
        : 'out-of-scope';
    return poison({ raw, deps, log, meta }, why, targets, label);
  }

  const now = deps.now();
  const book = req.bookkeeping ?? { attempt: 0 };
  const inserted = meta.insertionTime?.getTime();
  const firstSeenMs = Math.min(
    now,
    book.firstSeenAt ? Date.parse(book.firstSeenAt) : (inserted ?? now),
    inserted ?? now,
  );
  const timeoutMs = deps.timeoutMinutes * 60_000;
  const deadlineMs = Math.max(
    firstSeenMs,
    Math.min(book.deadlineAt ? Date.parse(book.deadlineAt) : Infinity, firstSeenMs + timeoutMs),
  );
  if (book.ignored?.length)
    log.warn(`${label}: ignored bookkeeping field(s) from another version: ${book.ignored.join(', ')}`);
  const ctx: Ctx = {
    req,
    raw,
    meta,
    deps,
    log,
    label,
    clusterId,
    key: commandKey(clusterId, req.commandId),
    targets,
    book,
    firstSeenMs,
    deadlineMs,
  };
  const copies: TargetCopy[] = targets.map((t) => ({
    name: t.name,
    ...(req.command !== undefined ? { command: req.command } : {}),
    ...(req.context ? { context: req.context } : {}),
  }));

  try {
    // The fast path of a live poll chain: one conditional write proves this message is the chain's newest.
    if (book.stage !== 'deliver' && book.etag && book.gen !== undefined) {
      const stepped = await pollStep(ctx, { etag: book.etag, gen: book.gen });
      if (stepped) return stepped;
    }
    const entries = await deps.ledger.register(
      ctx.key,
      {
        clusterResourceId: clusterId,
        commandId: req.commandId,
        firstSeenAt: new Date(firstSeenMs).toISOString(),
        deadlineAt: new Date(deadlineMs).toISOString(),
        ...(meta.id ? { owner: meta.id } : {}),
        pollLeaseMs: (deps.schedule.initialDelaySeconds + CHAIN_GRACE_SECONDS) * 1000,
      },
      copies,
    );
    if (entries.rejected) {
      log.error(
        `${label}: ${entries.rejected.message} (a bug: every stored field is bounded); its targets were recorded without this copy's command and context`,
      );
    }
    const command = entries.command;
    if (!command) throw new StoreUnavailableError('the command row vanished while it was registered');
    if (entries.created) telemetryOf(deps).commandTracked();
    // The ledger's row is the authority on the deadline (a message may only shorten it, never extend it).
    ctx.firstSeenMs = Math.min(ctx.firstSeenMs, Date.parse(command.firstSeenAt) || ctx.firstSeenMs);
    ctx.deadlineMs = Math.min(ctx.deadlineMs, Date.parse(command.deadlineAt) || ctx.deadlineMs);
    if (command.stage === 'final') return await deliverStage(ctx, entries, command);
    const mine =
      entries.created ||
      (meta.id !== undefined && command.owner === meta.id) ||
      (book.etag !== undefined && command.etag === book.etag);
    const leaseLeft = command.timestampMs + command.pollLeaseMs - entries.serverNow;
    if (!mine && leaseLeft > 0) {
      log.info(
        `${label}: another copy polls this command (generation ${command.gen}); this copy's targets are recorded and it stops`,
      );
      return { kind: 'merged', reason: `chain ${command.gen} is live for ${Math.ceil(leaseLeft / 1000)}s more` };
    }
    if (!mine)
      log.warn(`${label}: the poll chain went quiet ${Math.round(-leaseLeft / 1000)}s ago; this copy takes over`);
    return (await pollFrom(ctx, command)) ?? { kind: 'merged', reason: 'another copy moved the poll chain on' };
  } catch (err) {
    if (err instanceof StoreRejectedError) {
      // Not an outage: waiting changes nothing. The code goes with the reason (and the metrics say so).
      return poison(
        ctx,
        'store-rejected',
        `${err.message}: a request the store will never take (a bug; please report it with this line)`,
        label,
      );
    }
    if (!(err instanceof StoreUnavailableError)) throw err;
    return deferForStore(ctx, err);
  }
}

/** Steps the chain with the message's ETag; undefined when that fails and the slow path must decide. */
async function pollStep(ctx: Ctx, from: { etag: string; gen: number }): Promise<PollOutcome | undefined> {
  return pollFrom(ctx, from, true);
}

/**
 * A poll of ARM by the live chain. The chain's step is taken first, by a conditional write of the
 * command row, so a stale copy stops before it reads ARM. With `fast` (the ETag came from the message),
 * a failed write returns undefined and the caller looks at the ledger; otherwise the copy stops.
 */
async function pollFrom(
  ctx: Ctx,
  command: Pick<CommandState, 'etag' | 'gen'>,
  fast = false,
): Promise<PollOutcome | undefined> {
  const { deps, req, log, label, book } = ctx;
  const attempt = book.attempt + 1;

  // Over our share of ARM's read budget: take a later slot instead of a 429.
  const budgetWaitMs = deps.readBudget?.take(req.cluster.subscriptionId, deps.monotonic()) ?? 0;
  const budgetDelaySeconds = budgetWaitMs > 0 ? Math.max(1, Math.ceil(budgetWaitMs / 1000)) : 0;
  const stepped = await advance(ctx, command, Math.max(budgetDelaySeconds, deps.schedule.maxDelaySeconds));
  if (!stepped) return fast ? undefined : { kind: 'merged', reason: 'another copy moved the poll chain on' };
  if (budgetDelaySeconds > 0) {
    await requeue(ctx, { ...book, gen: stepped.gen, etag: stepped.etag, stage: 'poll' }, budgetDelaySeconds);
    telemetryOf(deps).readBudgetDeferral();
    telemetryOf(deps).deferral('read-budget');
    log.info(`${label}: ARM read budget spent; poll ${attempt} in ${budgetDelaySeconds}s`);
    return {
      kind: 'requeued',
      delaySeconds: budgetDelaySeconds,
      attempt: book.attempt,
      state: 'deferred (read budget)',
    };
  }

  const answer = await deps.arm.read(req.cluster, req.commandId);
  deps.readBudget?.observe(req.cluster.subscriptionId, answer.remainingReads, deps.monotonic());
  const answerClass = armAnswerClass(answer);
  telemetryOf(deps).poll(answerClass);
  ctx.meta.span?.set({ 'aks.attempt': attempt, 'aks.arm.answer': answerClass });
  const now = deps.now();
  const waitedSeconds = Math.max(0, (now - ctx.firstSeenMs) / 1000);
  const final = finalAnswer(answer);
  if (final) return finish(ctx, final, waitedSeconds);
  if (answer.kind === 'transient') log.warn(`${label}: poll ${attempt} failed: ${answer.detail}`);
  if (now >= ctx.deadlineMs) return finish(ctx, timedOutAnswer(answer), waitedSeconds);

  // The first poll that sees the command running posts the live messages (targets that have one).
  const announced =
    book.announced || (answer.kind === 'running' && (await announceRunning(ctx, answer.provisioningState)));
  const delaySeconds = nextDelaySeconds(deps.schedule, {
    elapsedSeconds: waitedSeconds,
    remainingSeconds: Math.max(1, (ctx.deadlineMs - now) / 1000),
    throttled: answer.kind === 'transient' && answer.throttled,
    random: deps.random(),
    ...((answer.kind === 'running' || answer.kind === 'transient') && answer.retryAfterSeconds !== undefined
      ? { retryAfterSeconds: answer.retryAfterSeconds }
      : {}),
    ...(book.lastDelaySeconds !== undefined ? { lastDelaySeconds: book.lastDelaySeconds } : {}),
  });
  await requeue(
    ctx,
    {
      ...book,
      attempt,
      gen: stepped.gen,
      etag: stepped.etag,
      stage: 'poll',
      lastDelaySeconds: delaySeconds,
      round: 0,
      ...(announced ? { announced } : {}),
    },
    delaySeconds,
  );
  log.info(`${label}: ${stateOf(answer)}; poll ${attempt}, next in ${delaySeconds}s`);
  return { kind: 'requeued', delaySeconds, attempt, state: stateOf(answer) };
}

/**
 * Posts the running message to this message's targets that keep a live message (the pipeline's only
 * "command is running" hook; other providers ignore it). True when nothing is left to do: each such target
 * has its message, or cannot have one; false to try again at the next poll. Never fails the poll.
 */
async function announceRunning(ctx: Ctx, provisioningState: string): Promise<boolean> {
  const { deps, req, log, label } = ctx;
  const live = ctx.targets.filter((t) => t.provider.liveMessage && wants(t, 'running'));
  if (live.length === 0) return false;
  try {
    const entries = await deps.ledger.load(ctx.key);
    const since = new Date(ctx.firstSeenMs).toISOString();
    const dctx = deliveryContext(ctx, { maxDelaySeconds: deps.delivery.maxDelaySeconds }, false);
    const results = await Promise.all(
      live.map(async (target) => {
        const row = entries.targets.find((t) => t.name === target.name);
        if (!row) return { settled: false, posted: false };
        const subject = {
          cluster: req.cluster,
          commandId: req.commandId,
          waitedSeconds: 0,
          ...(row.command !== undefined
            ? { command: row.command }
            : req.command !== undefined
              ? { command: req.command }
              : {}),
          ...(row.context ? { context: row.context } : req.context ? { context: req.context } : {}),
        };
        const done = await deliverRunning(
          target,
          row,
          entries.serverNow,
          runningReport(subject, provisioningState, since),
          dctx,
        );
        if (done.posted) log.info(`${label}: target ${target.name}: running message posted`);
        return done;
      }),
    );
    return results.every((r) => r.settled);
  } catch (err) {
    if (err instanceof StoreRejectedError) {
      log.error(`${label}: running message not posted: ${err.message}; the result will still be delivered`);
      return true;
    }
    if (!(err instanceof StoreUnavailableError)) throw err;
    log.warn(`${label}: running message not posted: ${err.message}; trying again at the next poll`);
    return false;
  }
}

function deliveryContext(ctx: Ctx, policy: RetryPolicy, retryExpired: boolean): DeliveryContext {
  const { deps, log, label } = ctx;
  // Every line a delivery writes names its command.
  const targetLog: Log = {
    info: (m) => log.info(`${label}: ${m}`),
    warn: (m) => log.warn(`${label}: ${m}`),
    error: (m) => log.error(`${label}: ${m}`),
  };
  return {
    ledger: deps.ledger,
    key: ctx.key,
    armEndpoint: deps.armEndpoint,
    sendTimeoutMs: deps.sendTimeoutMs,
    ledgerTimeoutMs: deps.ledgerTimeoutMs,
    policy,
    cooldowns: deps.cooldowns,
    pacer: deps.pacer,
    log: targetLog,
    now: deps.now,
    monotonic: deps.monotonic,
    random: deps.random,
    retryExpired,
  };
}

function stateOf(answer: ArmRead): string {
  return answer.kind === 'running'
    ? answer.provisioningState
    : answer.kind === 'transient'
      ? answer.detail
      : answer.kind;
}

/** The chain's next step in the ledger: generation + 1, alive until the longest next poll plus a grace. */
async function advance(
  ctx: Ctx,
  command: Pick<CommandState, 'etag' | 'gen'>,
  delaySeconds: number,
): Promise<{ gen: number; etag: string } | undefined> {
  const gen = command.gen + 1;
  const written = await ctx.deps.ledger.step(ctx.key, command.etag, {
    gen,
    ...(ctx.meta.id ? { owner: ctx.meta.id } : {}),
    pollLeaseMs: (delaySeconds + Math.max(CHAIN_GRACE_SECONDS, delaySeconds)) * 1000,
  });
  return written ? { gen, etag: written.etag } : undefined;
}

/** ARM gave a final answer (or the deadline came): store it, mark the command final, deliver. */
async function finish(ctx: Ctx, answer: FinalAnswer, waitedSeconds: number): Promise<PollOutcome> {
  const { deps, req } = ctx;
  const finalAt = new Date(deps.now()).toISOString();
  const stored: StoredResult = {
    v: RESULT_VERSION,
    clusterResourceId: ctx.clusterId,
    commandId: req.commandId,
    firstSeenAt: new Date(ctx.firstSeenMs).toISOString(),
    finalAt,
    waitedSeconds,
    answer,
  };
  await deps.results.put(ctx.key, stored);
  // Final is absorbing: whoever marks it, every copy from now on delivers from the stored result.
  let entries = await deps.ledger.load(ctx.key);
  for (let i = 0; i < 3 && entries.command && entries.command.stage !== 'final'; i++) {
    const marked = await deps.ledger.writeCommand(ctx.key, entries.command, {
      stage: 'final',
      finalAt,
      deliverBy: new Date(deps.now() + deps.delivery.timeoutHours * 3600_000).toISOString(),
      outcome: answer.kind === 'finished' ? answer.result.provisioningState : answer.kind,
      gen: entries.command.gen + 1,
    });
    if (marked)
      telemetryOf(deps).commandFinished(
        answer.kind === 'finished' ? answer.result.provisioningState.toLowerCase() : answer.kind,
      );
    entries = marked ? { ...entries, command: marked } : await deps.ledger.load(ctx.key);
  }
  if (!entries.command) throw new StoreUnavailableError('the command row vanished before the result was marked final');
  return deliverStage(ctx, entries, entries.command, stored);
}

/** Delivers the stored result to every recorded target that still needs it. */
async function deliverStage(
  ctx: Ctx,
  entries: CommandEntries,
  command: CommandState,
  known?: StoredResult,
): Promise<PollOutcome> {
  const { deps, req, log, label, book } = ctx;
  const stored = known ?? (await deps.results.get(ctx.key));
  if (!stored) {
    // A final mark without a stored result (a retention sweep, a lost write): poll ARM again.
    log.warn(`${label}: marked final but no stored result was found; polling ARM again`);
    const reopened = await deps.ledger.writeCommand(ctx.key, command, { stage: 'poll', gen: command.gen + 1 });
    if (!reopened) return { kind: 'merged', reason: 'the command row changed while it was reopened' };
    return (await pollFrom(ctx, reopened)) ?? { kind: 'merged', reason: 'another copy moved the poll chain on' };
  }

  // Posts the last round made but could not record: record them now, never post them again.
  for (const note of book.sent ?? []) {
    const row = entries.targets.find((t) => t.name === note.target);
    if (row && (await recordSentNote(deps.ledger, ctx.key, row, note)))
      log.info(`${label}: target ${note.target}: recorded the delivery made at ${note.at}`);
  }
  if (book.sent?.length) entries = await deps.ledger.load(ctx.key);

  const retryExpired = book.stage !== 'deliver';
  if (retryExpired && entries.targets.some((t) => t.state === 'failed' && t.failure === 'expired')) {
    // A message came back (redrive, a new copy) for targets that ran out of time: a fresh delivery window.
    const renewed = await deps.ledger.writeCommand(ctx.key, command, {
      deliverBy: new Date(deps.now() + deps.delivery.timeoutHours * 3600_000).toISOString(),
    });
    if (renewed) command = renewed;
  }
  const policy: RetryPolicy = { maxDelaySeconds: deps.delivery.maxDelaySeconds };
  const dctx = deliveryContext(ctx, policy, retryExpired);
  // Targets are delivered side by side: a slow channel never holds back another.
  let outcome: CommandReport['outcome'] | undefined;
  const settled = await Promise.all(
    entries.targets.map(async (row): Promise<TargetResult | undefined> => {
      const target = deps.targets.get(row.name);
      if (!target || !target.scope.allows(ctx.clusterId)) {
        if (row.state === 'delivered' || row.state === 'skipped' || row.state === 'failed') return undefined;
        const why = !target
          ? 'the target is no longer configured'
          : "the target's _CLUSTERS setting leaves this cluster out";
        await deps.ledger.writeTarget(ctx.key, row, { state: 'failed', failure: 'permanent', lastError: why });
        log.error(`${label}: target ${row.name}: not delivered: ${why}`);
        return { target: row.name, status: 'failed', error: why };
      }
      const report = buildReport(
        {
          cluster: req.cluster,
          commandId: req.commandId,
          waitedSeconds: stored.waitedSeconds,
          // Each target shows the command and context of the copy that named it (0.1 rows have none: this copy's).
          ...(row.command !== undefined
            ? { command: row.command }
            : req.command !== undefined
              ? { command: req.command }
              : {}),
          ...(row.context ? { context: row.context } : req.context ? { context: req.context } : {}),
        },
        stored.answer,
      );
      outcome = report.outcome;
      return deliverTarget(target, row, entries.serverNow, report, dctx).catch((err: unknown): TargetResult => {
        if (err instanceof StoreRejectedError) {
          // A bug, not an outage: this target stops here, the others go on.
          log.error(
            `${label}: target ${row.name}: not delivered: ${err.message} (a bug: every stored field is bounded; please report it with this line)`,
          );
          return { target: row.name, status: 'failed', error: err.message };
        }
        // The ledger failed before a post or after a failed one (posts that succeed are covered by notes).
        if (!(err instanceof StoreUnavailableError)) throw err;
        return {
          target: row.name,
          status: 'retry-later',
          error: err.message,
          waitMs: 1000 * retryDelaySeconds(policy, { round: (book.round ?? 0) + 1, random: deps.random() }),
        };
      });
    }),
  );
  const results = settled.filter((r): r is TargetResult => r !== undefined);
  for (const r of results) {
    if (r.status === 'skipped') continue;
    const form = r.status === 'delivered' ? r.form : undefined;
    const lagMs = r.status === 'delivered' ? r.lagMs : undefined;
    telemetryOf(deps).delivery(r.target, r.status, form, lagMs);
    ctx.meta.span?.delivery({
      target: r.target,
      status: r.status,
      ...(form ? { form } : {}),
      ...(lagMs !== undefined ? { lagMs } : {}),
    });
  }
  const summary = results
    .map(
      (r) =>
        `${r.target}=${r.status === 'skipped' ? `skipped(${r.why})` : r.status === 'delivered' && r.form === 'minimal' ? 'delivered(minimal)' : r.status}`,
    )
    .join(' ');
  const pending = results.filter(
    (r): r is Extract<TargetResult, { status: 'retry-later' }> => r.status === 'retry-later',
  );
  if (pending.length === 0) {
    log.info(`${label}: ${outcome ?? command.outcome ?? 'final'}; ${summary || 'no targets'}`);
    return { kind: 'notified', outcome: outcome ?? 'error', results };
  }

  const deliverBy =
    Date.parse(command.deliverBy ?? '') || Date.parse(stored.finalAt) + deps.delivery.timeoutHours * 3600_000;
  if (deps.now() >= deliverBy) {
    const waited = formatDuration((deps.now() - Date.parse(stored.finalAt)) / 1000);
    const reasons: string[] = [];
    const latest = await deps.ledger.load(ctx.key);
    for (const p of pending) {
      reasons.push(`target ${p.target} not delivered after ${waited} (last error: ${p.error})`);
      const row = latest.targets.find((t) => t.name === p.target);
      if (row && row.state === 'pending')
        await deps.ledger.writeTarget(ctx.key, row, { state: 'failed', failure: 'expired', lastError: p.error });
    }
    return poison(ctx, 'delivery-deadline', `delivery deadline passed: ${reasons.join('; ')}`, label);
  }
  const delaySeconds = deliveryRoundDelaySeconds(policy, {
    waitsMs: pending.map((p) => p.waitMs),
    msToDeadline: deliverBy - deps.now(),
  });
  const sent = pending.flatMap((p) => (p.sent ? [p.sent] : []));
  await requeue(
    ctx,
    { ...stripPoll(book), stage: 'deliver', round: (book.round ?? 0) + 1, ...(sent.length ? { sent } : {}) },
    delaySeconds,
  );
  log.info(`${label}: ${outcome}; ${summary}; delivery continues in ${delaySeconds}s`);
  telemetryOf(deps).deferral('delivery');
  return {
    kind: 'deferred',
    ...(outcome ? { outcome } : {}),
    delaySeconds,
    results,
    reason: pending.map((p) => `${p.target}: ${p.error}`).join('; '),
  };
}

function telemetryOf(deps: PollDeps): Telemetry {
  return deps.telemetry ?? noTelemetry;
}

function stripPoll(book: Bookkeeping): Bookkeeping {
  const { etag: _etag, sent: _sent, ...rest } = book;
  return rest;
}

/** The ledger or the result store is down: an ordinary day. Wait with backoff, keeping what we know. */
async function deferForStore(ctx: Ctx, err: StoreUnavailableError): Promise<PollOutcome> {
  const { deps, book, log, label } = ctx;
  const round = (book.round ?? 0) + 1;
  // Give up only when even the longest legitimate life of a command is over.
  const lastChance = ctx.deadlineMs + deps.delivery.timeoutHours * 3600_000;
  if (deps.now() > lastChance) {
    return poison(
      ctx,
      'store-unavailable',
      `${err.message}; gave up after ${formatDuration((deps.now() - ctx.firstSeenMs) / 1000)} (the poll and delivery deadlines have passed)`,
      label,
    );
  }
  const delaySeconds = storeRetryDelaySeconds({
    stage: book.stage ?? 'poll',
    round,
    deliveryMaxDelaySeconds: deps.delivery.maxDelaySeconds,
    pollMaxDelaySeconds: deps.schedule.maxDelaySeconds,
    random: deps.random(),
  });
  await requeue(ctx, { ...book, round }, delaySeconds);
  log.warn(`${label}: ${err.message}; trying again in ${delaySeconds}s (round ${round})`);
  telemetryOf(deps).deferral('store-unavailable');
  return { kind: 'deferred', delaySeconds, results: [], reason: err.message };
}

/** A deliberate re-enqueue; if the queue refuses it, the host must retry this message instead. */
async function requeue(ctx: Ctx, book: Bookkeeping, delaySeconds: number): Promise<void> {
  const text = serializePollRequest({
    ...ctx.req,
    bookkeeping: {
      ...book,
      firstSeenAt: new Date(ctx.firstSeenMs).toISOString(),
      deadlineAt: new Date(ctx.deadlineMs).toISOString(),
    },
  });
  let lastError: unknown;
  for (let tryNo = 1; tryNo <= 3; tryNo++) {
    try {
      await ctx.deps.queue.send(text, delaySeconds);
      return;
    } catch (err) {
      lastError = err;
      if (tryNo < 3) await new Promise((r) => setTimeout(r, 250 * tryNo));
    }
  }
  throw new RetryableError(`${ctx.label}: could not re-enqueue: ${(lastError as Error).message}`);
}

export type { SentNote };
