// One queue message, one decision: poison it, poll again later, or announce the result.
// Plain logic over injected adapters, so the Functions handler and the worker run exactly this.
import type { CommandResultReader } from '../arm/commandResults';
import type { ArmAnswer } from '../core/armAnswer';
import { MessageError, messageText, parsePollRequest, serializePollRequest, type Bookkeeping, type PollRequest } from '../core/message';
import { reportForAnswer, timedOutReport, type CommandReport } from '../core/report';
import type { ReadBudget } from '../core/readBudget';
import { nextDelaySeconds, type PollSchedule } from '../core/schedule';
import type { Log } from '../log';
import { deliver, type DeliveryPolicy, type TargetResult } from '../notify/delivery';
import type { DeliveryLedger } from '../notify/ledger';
import type { Notifier } from '../notify/notifier';

export interface PollDeps {
  schedule: PollSchedule;
  timeoutMinutes: number;
  arm: CommandResultReader;
  queue: { send(text: string, delaySeconds: number): Promise<void>; sendPoison(original: string, reason: string): Promise<void> };
  notifiers: ReadonlyMap<string, Notifier>;
  defaultTargets: readonly string[];
  ledger: DeliveryLedger;
  webhookTimeoutMs: number;
  deliveryPolicy?: DeliveryPolicy;
  /** Spreads ARM reads per subscription; absent: no client-side limit. */
  readBudget?: ReadBudget;
  now: () => number;
  random: () => number;
}

export interface MessageMeta {
  dequeueCount: number;
  insertionTime?: Date;
  id?: string;
}

export type PollOutcome =
  | { kind: 'poisoned'; reason: string }
  | { kind: 'requeued'; delaySeconds: number; attempt: number; state: string }
  | { kind: 'notified'; outcome: CommandReport['outcome']; results: TargetResult[] }
  /** Some target cannot be tried before a later time: the message was re-enqueued for then. */
  | { kind: 'deferred'; outcome: CommandReport['outcome']; delaySeconds: number; results: TargetResult[] };

/** Thrown for work that must be retried by the host (queue write, transient webhook failure). */
export class RetryableError extends Error {
  override name = 'RetryableError';
}

function resolveTargets(req: PollRequest, deps: PollDeps): Notifier[] | string {
  const names = new Set<string>();
  for (const name of req.targets ?? ['default']) {
    if (name === 'default') deps.defaultTargets.forEach((d) => names.add(d));
    else names.add(name);
  }
  const unknown = [...names].filter((n) => !deps.notifiers.has(n));
  if (unknown.length > 0) {
    return `unknown notification target(s): ${unknown.join(', ')}; configured: ${[...deps.notifiers.keys()].join(', ') || 'none'}`;
  }
  if (names.size === 0) return 'no notification target: the message names none and no default is configured';
  return [...names].map((n) => deps.notifiers.get(n)!);
}

function stateOf(answer: ArmAnswer): string {
  return answer.kind === 'running' ? answer.provisioningState : answer.kind === 'transient' ? answer.detail : answer.kind;
}

export async function processPollMessage(raw: unknown, meta: MessageMeta, deps: PollDeps, log: Log): Promise<PollOutcome> {
  let req: PollRequest;
  try {
    req = parsePollRequest(raw);
  } catch (err) {
    if (!(err instanceof MessageError)) throw err;
    const reason = `invalid message: ${err.message}`;
    await deps.queue.sendPoison(messageText(raw), reason);
    log.error(`message ${meta.id ?? '?'} moved to the poison queue: ${reason}`);
    return { kind: 'poisoned', reason };
  }
  const label = `command ${req.commandId} on ${req.cluster.resourceName}`;
  const notifiers = resolveTargets(req, deps);
  if (typeof notifiers === 'string') {
    await deps.queue.sendPoison(messageText(raw), notifiers);
    log.error(`${label}: moved to the poison queue: ${notifiers}`);
    return { kind: 'poisoned', reason: notifiers };
  }

  const now = deps.now();
  const firstSeenMs = req.bookkeeping ? Date.parse(req.bookkeeping.firstSeenAt) : Math.min(now, meta.insertionTime?.getTime() ?? now);
  const deadlineMs = req.bookkeeping ? Date.parse(req.bookkeeping.deadlineAt) : firstSeenMs + deps.timeoutMinutes * 60_000;
  const attempt = (req.bookkeeping?.attempt ?? 0) + 1;
  const waitedSeconds = Math.max(0, (now - firstSeenMs) / 1000);

  if (deps.readBudget) {
    const waitMs = deps.readBudget.take(req.cluster.subscriptionId, now);
    if (waitMs > 0) {
      // Over our share of ARM's read budget: take a later slot instead of a 429.
      const delaySeconds = Math.max(1, Math.ceil(waitMs / 1000));
      await requeue(withBookkeeping(req, { attempt: attempt - 1, firstSeenMs, deadlineMs }), delaySeconds, deps, label);
      log.info(`${label}: ARM read budget spent; poll ${attempt} in ${delaySeconds}s`);
      return { kind: 'requeued', delaySeconds, attempt: attempt - 1, state: 'deferred (read budget)' };
    }
  }
  const answer = await deps.arm.read(req.cluster, req.commandId);
  deps.readBudget?.observe(req.cluster.subscriptionId, answer.remainingReads, deps.now());

  if (answer.kind === 'running' || answer.kind === 'transient') {
    if (answer.kind === 'transient') log.warn(`${label}: poll ${attempt} failed: ${answer.detail}`);
    if (now >= deadlineMs) return announce(req, timedOutReport(req, waitedSeconds, answer), notifiers, deps, log);
    const delaySeconds = nextDelaySeconds(deps.schedule, {
      elapsedSeconds: waitedSeconds,
      remainingSeconds: Math.max(1, (deadlineMs - now) / 1000),
      throttled: answer.kind === 'transient' && answer.throttled,
      random: deps.random(),
      ...(answer.retryAfterSeconds !== undefined ? { retryAfterSeconds: answer.retryAfterSeconds } : {}),
      ...(req.bookkeeping?.lastDelaySeconds !== undefined ? { lastDelaySeconds: req.bookkeeping.lastDelaySeconds } : {}),
    });
    await requeue(withBookkeeping(req, { attempt, firstSeenMs, deadlineMs, lastDelaySeconds: delaySeconds }), delaySeconds, deps, label);
    log.info(`${label}: ${stateOf(answer)}; poll ${attempt}, next in ${delaySeconds}s`);
    return { kind: 'requeued', delaySeconds, attempt, state: stateOf(answer) };
  }
  return announce(req, reportForAnswer(req, answer, waitedSeconds), notifiers, deps, log);
}

/** A deliberate re-enqueue; if the queue refuses it, the host must retry this message instead. */
async function requeue(req: PollRequest, delaySeconds: number, deps: PollDeps, label: string): Promise<void> {
  try {
    await deps.queue.send(serializePollRequest(req), delaySeconds);
  } catch (err) {
    throw new RetryableError(`${label}: could not re-enqueue: ${(err as Error).message}`);
  }
}

function withBookkeeping(
  req: PollRequest,
  b: { attempt: number; firstSeenMs: number; deadlineMs: number; lastDelaySeconds?: number },
): PollRequest {
  const lastDelaySeconds = b.lastDelaySeconds ?? req.bookkeeping?.lastDelaySeconds;
  const bookkeeping: Bookkeeping = {
    attempt: b.attempt,
    firstSeenAt: new Date(b.firstSeenMs).toISOString(),
    deadlineAt: new Date(b.deadlineMs).toISOString(),
    ...(lastDelaySeconds !== undefined ? { lastDelaySeconds } : {}),
  };
  return { ...req, bookkeeping };
}

async function announce(
  req: PollRequest,
  report: CommandReport,
  notifiers: Notifier[],
  deps: PollDeps,
  log: Log,
): Promise<PollOutcome> {
  const label = `command ${req.commandId} on ${req.cluster.resourceName}`;
  const delivery = await deliver(report, notifiers, deps.ledger, {
    timeoutMs: deps.webhookTimeoutMs,
    log,
    now: deps.now,
    ...(deps.deliveryPolicy ? { policy: deps.deliveryPolicy } : {}),
  });
  const summary = delivery.results.map((r) => `${r.target}=${r.status === 'skipped' ? `skipped(${r.why})` : r.status}`).join(' ');
  if (delivery.retryLater) throw new RetryableError(`${label}: ${report.outcome}; delivery incomplete: ${summary}`);
  if (delivery.deferUntilMs !== undefined) {
    // A deliberate re-enqueue, not a host retry: waiting for a lease or a Retry-After must not burn
    // the dequeue count and end in the poison queue.
    const delaySeconds = Math.max(1, Math.ceil((delivery.deferUntilMs - deps.now()) / 1000));
    await requeue(req, delaySeconds, deps, label);
    log.info(`${label}: ${report.outcome}; ${summary}; delivery deferred ${delaySeconds}s`);
    return { kind: 'deferred', outcome: report.outcome, delaySeconds, results: delivery.results };
  }
  log.info(`${label}: ${report.outcome}; ${summary}`);
  return { kind: 'notified', outcome: report.outcome, results: delivery.results };
}
