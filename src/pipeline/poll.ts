// The poll stage: one poll chain per command, and one read of ARM per step. Every step is a conditional
// write of the command's ledger row, so a second copy of a message (enqueued twice, or a fork left by a
// crash) finds the row moved on and stops, after recording its own targets. Over the ARM read budget, the
// step is a deferral to a slot of its own instead of a read that would meet a 429.
import { describeRead } from '../core/armAnswer';
import { subscriptionKey } from '../core/cluster';
import { ownsChain, type Bookkeeping } from '../core/bookkeeping';
import { finalAnswer, timedOutAnswer } from '../core/report';
import { slotWait } from '../core/tokenBucket';
import {
  budgetDelaySeconds,
  cappedRetryAfterSeconds,
  firstPollLeaseMs,
  pollDelaySeconds,
  pollLeaseMs,
} from '../core/schedule';
import { StoreUnavailableError } from '../store/entityStore';
import type { TargetCopy } from '../store/ledger';
import type { CommandEntries, CommandState } from '../store/ledgerRows';
import { armAnswerClass } from '../telemetry/telemetry';
import { announceRunning } from './announce';
import { telemetryOf, type CommandContext, type MessageOutcome } from './context';
import { requeue } from './requeue';
import { storeFinal } from './storeFinal';

const ANOTHER_COPY: MessageOutcome = { kind: 'another-copy-polls', reason: 'another copy moved the poll chain on' };

/**
 * Records the command and this copy's targets, and decides who polls: the chain that owns the command
 * (this copy, if it is the chain's newest, or if the chain went quiet), or nobody (the command is final).
 */
export async function joinChain(
  ctx: CommandContext,
): Promise<{ entries: CommandEntries; command: CommandState } | MessageOutcome> {
  const { deps, req, meta, log, label, book } = ctx;
  const copies: TargetCopy[] = ctx.targets.map((t) => ({
    name: t.name,
    ...(req.command !== undefined ? { command: req.command } : {}),
    ...(req.context ? { context: req.context } : {}),
  }));
  const entries = await deps.ledger.register(
    ctx.key,
    {
      clusterResourceId: ctx.clusterId,
      commandId: req.commandId,
      firstSeenAt: new Date(ctx.firstSeenMs).toISOString(),
      deadlineAt: new Date(ctx.deadlineMs).toISOString(),
      ...(meta.id ? { owner: meta.id } : {}),
      pollLeaseMs: firstPollLeaseMs(deps.schedule.initialDelaySeconds),
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
  // The ledger's row is the authority on the deadline: the first copy wrote it, and no later copy may move
  // it either way (a copy that shortened it could end the command as "timed out" for every target).
  ctx.firstSeenMs = Math.min(ctx.firstSeenMs, Date.parse(command.firstSeenAt) || ctx.firstSeenMs);
  ctx.deadlineMs = Date.parse(command.deadlineAt) || ctx.deadlineMs;
  if (command.stage === 'final') return { entries, command };
  const mine = ownsChain(command, { ...(meta.id ? { id: meta.id } : {}), book, created: entries.created });
  const leaseLeft = command.timestampMs + command.pollLeaseMs - entries.serverNow;
  if (!mine && leaseLeft > 0) {
    log.info(
      `${label}: another copy polls this command (generation ${command.gen}); this copy's targets are recorded and it stops`,
    );
    return {
      kind: 'another-copy-polls',
      reason: `chain ${command.gen} is live for ${Math.ceil(leaseLeft / 1000)}s more`,
    };
  }
  if (!mine)
    log.warn(`${label}: the poll chain went quiet ${Math.round(-leaseLeft / 1000)}s ago; this copy takes over`);
  return { entries, command };
}

/**
 * A poll of ARM by the live chain. The chain's step is taken first, by a conditional write of the command
 * row, so a stale copy stops before it reads ARM. With `fast` (the ETag came from the message), a failed
 * write returns undefined and the caller looks at the ledger; otherwise the copy stops.
 */
export async function poll(
  ctx: CommandContext,
  command: Pick<CommandState, 'etag' | 'gen'>,
  fast = false,
): Promise<MessageOutcome | undefined> {
  const { deps, req, log, label, book } = ctx;
  const attempt = book.attempt + 1;

  // Over our share of ARM's read budget: take a later slot instead of a 429. A slot this message already
  // holds is honoured only for the chain's own copy (the ETag it carries is the row's), which the step checks.
  const sub = subscriptionKey(req.cluster);
  const nowMs = deps.now();
  const held = book.etag !== undefined && book.etag === command.etag ? slotWait(book.readSlotAt, nowMs) : undefined;
  const budgetWaitMs = held ?? (await deps.readBudget?.take(sub, deps.monotonic())) ?? 0;
  const budgetDelay = budgetDelaySeconds(budgetWaitMs);
  const stepped = await step(ctx, command, Math.max(budgetDelay, deps.schedule.maxDelaySeconds));
  if (!stepped) return fast ? undefined : ANOTHER_COPY;
  const dueAt = book.dueAt ?? nowMs;
  if (budgetDelay > 0) {
    const readSlotAt = held === undefined ? Math.round(nowMs + budgetWaitMs) : book.readSlotAt!;
    await requeue(ctx, { ...chainOf(book), gen: stepped.gen, etag: stepped.etag, dueAt, readSlotAt }, budgetDelay);
    telemetryOf(deps).readBudgetDeferral();
    telemetryOf(deps).deferral('read-budget');
    log.info(`${label}: ARM read budget spent; poll ${attempt} in ${budgetDelay}s`);
    return { kind: 'requeued', delaySeconds: budgetDelay, attempt: book.attempt, state: 'deferred (read budget)' };
  }

  const answer = await deps.arm.read(req.cluster, req.commandId);
  const pastDueMs = Math.max(0, deps.now() - dueAt);
  telemetryOf(deps).readWait(pastDueMs / 1000);
  deps.readBudget?.observe(sub, answer.remainingReads, deps.monotonic());
  // ARM refused with a Retry-After: no instance reads this subscription before it has passed, believed as
  // far as a poll's own delay would believe it (an absurd one must not freeze every command).
  if (answer.kind === 'transient' && answer.status === 429) {
    const holdSeconds = cappedRetryAfterSeconds(answer.retryAfterSeconds, deps.schedule.maxDelaySeconds);
    if (holdSeconds) deps.readBudget?.refused(sub, holdSeconds, deps.monotonic());
  }
  const answerClass = armAnswerClass(answer);
  telemetryOf(deps).poll(answerClass);
  ctx.meta.span?.set({ 'aks.attempt': attempt, 'aks.arm.answer': answerClass });
  const now = deps.now();
  const waitedSeconds = Math.max(0, (now - ctx.firstSeenMs) / 1000);
  const late = pastDueMs >= 1000 ? ` (read ${Math.round(pastDueMs / 1000)}s past due)` : '';
  const final = finalAnswer(answer);
  if (final) {
    if (late) log.info(`${label}: ${describeRead(answer)}; poll ${attempt}${late}`);
    return storeFinal(ctx, final, waitedSeconds);
  }
  if (answer.kind === 'transient') log.warn(`${label}: poll ${attempt} failed: ${answer.detail}`);
  if (now >= ctx.deadlineMs) return storeFinal(ctx, timedOutAnswer(answer), waitedSeconds);

  // The first poll that sees the command running posts the live messages (targets that have one).
  const announced =
    book.announced || (answer.kind === 'running' && (await announceRunning(ctx, answer.provisioningState)));
  const delaySeconds = pollDelaySeconds(deps.schedule, answer, {
    elapsedSeconds: waitedSeconds,
    remainingSeconds: Math.max(1, (ctx.deadlineMs - now) / 1000),
    random: deps.random(),
    ...(book.lastDelaySeconds !== undefined ? { lastDelaySeconds: book.lastDelaySeconds } : {}),
  });
  const next = { ...chainOf(book), attempt, gen: stepped.gen, etag: stepped.etag };
  await requeue(
    ctx,
    {
      ...next,
      lastDelaySeconds: delaySeconds,
      round: 0,
      dueAt: Math.round(deps.now() + delaySeconds * 1000),
      ...(announced ? { announced } : {}),
    },
    delaySeconds,
  );
  log.info(`${label}: ${describeRead(answer)}; poll ${attempt}${late}, next in ${delaySeconds}s`);
  return { kind: 'requeued', delaySeconds, attempt, state: describeRead(answer) };
}

/** What a poll's next message keeps of this one's bookkeeping: no slot (the read used it; pace slots are delivery's). */
function chainOf(book: Bookkeeping): Bookkeeping {
  const { readSlotAt: _read, paceSlots: _pace, ...kept } = book;
  return { ...kept, stage: 'poll' };
}

/** Polls from a ledger row this copy owns; a row that moved on meanwhile means another copy polls. */
export async function pollFrom(
  ctx: CommandContext,
  command: Pick<CommandState, 'etag' | 'gen'>,
): Promise<MessageOutcome> {
  return (await poll(ctx, command)) ?? ANOTHER_COPY;
}

/** The chain's next step in the ledger: generation + 1, alive until the longest next poll plus a grace. */
async function step(
  ctx: CommandContext,
  command: Pick<CommandState, 'etag' | 'gen'>,
  delaySeconds: number,
): Promise<{ gen: number; etag: string } | undefined> {
  const gen = command.gen + 1;
  const written = await ctx.deps.ledger.step(ctx.key, command.etag, {
    gen,
    ...(ctx.meta.id ? { owner: ctx.meta.id } : {}),
    pollLeaseMs: pollLeaseMs(delaySeconds),
  });
  return written ? { gen, etag: written.etag } : undefined;
}

/** A final mark without a stored result (a retention sweep, a lost write): the chain is reopened and ARM read again. */
export async function pollAgain(ctx: CommandContext, command: CommandState): Promise<MessageOutcome> {
  ctx.log.warn(`${ctx.label}: marked final but no stored result was found; polling ARM again`);
  const reopened = await ctx.deps.ledger.writeCommand(ctx.key, command, { stage: 'poll', gen: command.gen + 1 });
  if (!reopened) return { kind: 'another-copy-polls', reason: 'the command row changed while it was reopened' };
  return pollFrom(ctx, reopened);
}
