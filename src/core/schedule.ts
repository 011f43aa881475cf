// Every retry and deferral decision, in one place: when to poll ARM again, when to try a target again,
// how far a Retry-After is believed, when a message has waited long enough. Pure: callers pass the clock
// and the randomness. Leases and deadlines of a command's life are here too (below). Longer than 300 lines
// on purpose: one place decides every wait and deadline, so that a reader finds them all here.
//
// Polls: interval = max(initial, 10% of the time already waited), capped at the max delay: short commands
// are seen within seconds, long ones cost few reads, and the notification lag stays within
// max(initial, 10% of the run time) (bench/ measures both). Jitter only shortens a delay, so that it
// spreads polls without breaking that bound; throttling and Retry-After only lengthen it, within the cap.
//
// Deliveries (and a ledger or result store that is down): exponential backoff from 2 s, doubled per
// round, jittered down, at most DELIVERY_MAX_DELAY_SECONDS (15 minutes by default) — the longest a
// recovered channel waits to hear of a result — and a Retry-After is honoured up to that same cap.
import type { ArmRead } from './armAnswer';

export interface PollSchedule {
  initialDelaySeconds: number;
  maxDelaySeconds: number;
}

export interface DelayInput {
  elapsedSeconds: number;
  /** Seconds until the deadline; the last poll lands on it. */
  remainingSeconds: number;
  retryAfterSeconds?: number;
  /** ARM throttled us (429/503): back off from the last delay. */
  throttled?: boolean;
  lastDelaySeconds?: number;
  /** In [0, 1). */
  random: number;
}

const JITTER = 0.2;
/** Storage queues hide a message for at most 7 days; no deferral may ask for more. */
export const MAX_QUEUE_DELAY_SECONDS = 7 * 24 * 3600 - 60;
/** The longest Retry-After a channel can impose on us: 15 minutes. */
export const RETRY_AFTER_CAP_SECONDS = 15 * 60;
const DELIVERY_FIRST_DELAY_SECONDS = 2;

export function baseIntervalSeconds(schedule: PollSchedule, elapsedSeconds: number): number {
  return Math.min(schedule.maxDelaySeconds, Math.max(schedule.initialDelaySeconds, 0.1 * Math.max(0, elapsedSeconds)));
}

export function nextDelaySeconds(schedule: PollSchedule, input: DelayInput): number {
  // `upper` is the delay before jitter: the lag bound holds as long as the delay never exceeds it.
  let upper = baseIntervalSeconds(schedule, input.elapsedSeconds);
  if (input.throttled) {
    upper = Math.max(
      upper,
      Math.min(schedule.maxDelaySeconds, 2 * (input.lastDelaySeconds ?? schedule.initialDelaySeconds)),
    );
  }
  let delay = upper * (1 - JITTER * input.random);
  let honourRetryAfter = false;
  if (input.retryAfterSeconds !== undefined && input.retryAfterSeconds > delay) {
    delay = upper = Math.min(schedule.maxDelaySeconds, input.retryAfterSeconds);
    honourRetryAfter = true;
  }
  upper = Math.min(upper, input.remainingSeconds);
  delay = Math.min(delay, input.remainingSeconds);
  // Queue visibility is whole seconds: round, but never above the unjittered delay (the lag bound);
  // round up where the server asked us to wait.
  return Math.max(1, honourRetryAfter ? Math.ceil(delay) : Math.min(Math.floor(upper), Math.round(delay)));
}

/** The next poll after a read that is not final, for the notifier's chain and the CLI's --wait alike. */
export function pollDelaySeconds(
  schedule: PollSchedule,
  answer: ArmRead,
  input: { elapsedSeconds: number; remainingSeconds: number; lastDelaySeconds?: number; random: number },
): number {
  return nextDelaySeconds(schedule, {
    elapsedSeconds: input.elapsedSeconds,
    remainingSeconds: input.remainingSeconds,
    throttled: answer.kind === 'transient' && answer.throttled,
    random: input.random,
    ...((answer.kind === 'running' || answer.kind === 'transient') && answer.retryAfterSeconds !== undefined
      ? { retryAfterSeconds: answer.retryAfterSeconds }
      : {}),
    ...(input.lastDelaySeconds !== undefined ? { lastDelaySeconds: input.lastDelaySeconds } : {}),
  });
}

/** A Retry-After as we believe it: never negative, never beyond the cap (nor the queue's 7 days). */
export function cappedRetryAfterSeconds(retryAfterSeconds: number | undefined, capSeconds: number): number | undefined {
  if (retryAfterSeconds === undefined || !Number.isFinite(retryAfterSeconds)) return undefined;
  return Math.min(Math.max(0, retryAfterSeconds), capSeconds, RETRY_AFTER_CAP_SECONDS, MAX_QUEUE_DELAY_SECONDS);
}

export interface RetryPolicy {
  /** Longest wait between two tries (DELIVERY_MAX_DELAY_SECONDS), Retry-After included. */
  maxDelaySeconds: number;
}

/**
 * How long before trying again after `round` failed rounds (1 = the first failure): backoff doubling from
 * 2 s, shortened by up to 20 % of jitter, lengthened to a Retry-After, never beyond the cap.
 */
export function retryDelaySeconds(
  policy: RetryPolicy,
  input: { round: number; retryAfterSeconds?: number; random: number },
): number {
  const cap = Math.min(policy.maxDelaySeconds, RETRY_AFTER_CAP_SECONDS, MAX_QUEUE_DELAY_SECONDS);
  const round = Math.max(1, Math.min(40, Math.floor(input.round)));
  const backoff = Math.min(cap, DELIVERY_FIRST_DELAY_SECONDS * 2 ** (round - 1)) * (1 - JITTER * input.random);
  const after = cappedRetryAfterSeconds(input.retryAfterSeconds, cap) ?? 0;
  return Math.max(1, Math.ceil(Math.min(cap, Math.max(backoff, after))));
}

/**
 * When a delivery round that left targets pending comes back: when the first of them may be tried (their
 * own waits), plus one second because those waits are judged on the Table service's clock, whose Date
 * header has whole seconds; never beyond the cap, never beyond the delivery deadline.
 */
export function deliveryRoundDelaySeconds(
  policy: RetryPolicy,
  input: { waitsMs: number[]; msToDeadline: number },
): number {
  const first = Math.min(...input.waitsMs);
  return Math.max(
    1,
    Math.min(Math.ceil(first / 1000) + 1, policy.maxDelaySeconds, Math.ceil(input.msToDeadline / 1000) + 1),
  );
}

/**
 * After the ledger or the result store failed: back off like a delivery, but a command still being
 * polled never waits longer than its poll interval allows (POLL_MAX_DELAY_SECONDS).
 */
export function storeRetryDelaySeconds(input: {
  stage: 'poll' | 'deliver';
  round: number;
  deliveryMaxDelaySeconds: number;
  pollMaxDelaySeconds: number;
  random: number;
}): number {
  const cap =
    input.stage === 'deliver'
      ? input.deliveryMaxDelaySeconds
      : Math.min(input.deliveryMaxDelaySeconds, input.pollMaxDelaySeconds);
  return retryDelaySeconds({ maxDelaySeconds: cap }, { round: input.round, random: input.random });
}

/** What a failed send means for its target. */
export type SendFailureClass =
  /** 429, 5xx, timeouts, network: try again later, at the same payload. */
  | 'transient'
  /** The channel refused this payload (400/413, invalid_blocks, msg_too_long): a smaller one may pass. */
  | 'refused'
  /** The target itself is wrong (401/403/404/410, channel_not_found, no_service…): do not try again. */
  | 'permanent';

export type AttemptDecision = { kind: 'retry-minimal' } | { kind: 'later' } | { kind: 'give-up' };

/**
 * After one send: a refused full payload is retried at once in its minimal form; a refused minimal
 * payload, or a permanent answer, ends the target; anything transient waits for a later round.
 */
export function decideAfterFailure(failure: SendFailureClass, form: 'full' | 'minimal'): AttemptDecision {
  if (failure === 'transient') return { kind: 'later' };
  if (failure === 'refused' && form === 'full') return { kind: 'retry-minimal' };
  return { kind: 'give-up' };
}

/** A start (the runCommand POST) is tried at most this often, and never waits longer than this for a retry. */
export const START_ATTEMPTS = 4;
export const START_RETRY_AFTER_CAP_SECONDS = 60;

/**
 * After a start that provably did not run — refused with 429, or a connection that was never made — how
 * long before trying again, or undefined to stop. A start whose outcome is unknown is never retried (a
 * second POST would start a second command): the caller never asks.
 */
export function startRetryDelaySeconds(input: {
  attempt: number;
  refusal: 'throttled' | 'not-connected';
  retryAfterSeconds?: number;
}): number | undefined {
  if (input.attempt >= START_ATTEMPTS) return undefined;
  const backoff = 2 ** (input.attempt - 1);
  if (input.refusal === 'not-connected') return backoff;
  const asked = input.retryAfterSeconds;
  // Beyond the bound, or too large to be a number (a 400-digit Retry-After parses to Infinity): not waited.
  if (asked !== undefined && !(asked <= START_RETRY_AFTER_CAP_SECONDS)) return undefined;
  return Math.max(1, Math.ceil(asked ?? backoff));
}

// --- The life of a command: its poll window, its poll chain, its delivery window. ---

/** Grace on top of the next delay before a silent poll chain counts as dead and another copy may take over. */
const CHAIN_GRACE_SECONDS = 60;

/** How long a new command's first copy holds it: the first poll's delay plus the grace. */
export function firstPollLeaseMs(initialDelaySeconds: number): number {
  return (initialDelaySeconds + CHAIN_GRACE_SECONDS) * 1000;
}

/** How long a poll chain's step holds the command: its next delay plus a grace (at least the delay again). */
export function pollLeaseMs(nextDelaySeconds: number): number {
  return (nextDelaySeconds + Math.max(CHAIN_GRACE_SECONDS, nextDelaySeconds)) * 1000;
}

/**
 * When a command was first seen and when its polling gives up: never after now, never before the message
 * was inserted, and the deadline never beyond first sight plus POLL_TIMEOUT_MINUTES (a message may only
 * shorten its deadline, never extend it).
 */
export function pollWindow(input: {
  nowMs: number;
  insertedMs?: number;
  firstSeenAt?: string;
  deadlineAt?: string;
  timeoutMinutes: number;
}): { firstSeenMs: number; deadlineMs: number } {
  const inserted = input.insertedMs ?? input.nowMs;
  const claimed = input.firstSeenAt ? Date.parse(input.firstSeenAt) : inserted;
  const firstSeenMs = Math.min(input.nowMs, Number.isNaN(claimed) ? inserted : claimed, inserted);
  const asked = input.deadlineAt ? Date.parse(input.deadlineAt) : Infinity;
  const deadlineMs = Math.max(
    firstSeenMs,
    Math.min(Number.isNaN(asked) ? Infinity : asked, firstSeenMs + input.timeoutMinutes * 60_000),
  );
  return { firstSeenMs, deadlineMs };
}

/** Until when a final result is delivered (DELIVERY_TIMEOUT_HOURS from `fromMs`: its final mark, or a redrive). */
export function deliveryDeadlineMs(fromMs: number, timeoutHours: number): number {
  return fromMs + timeoutHours * 3600_000;
}

/** A store outage is waited out until even the longest legitimate life of a command is over. */
export function storeOutageGiveUpMs(pollDeadlineMs: number, deliveryTimeoutHours: number): number {
  return deliveryDeadlineMs(pollDeadlineMs, deliveryTimeoutHours);
}

/** A poll over the read budget comes back at its slot: whole seconds (queue visibility), at least one. */
export function budgetDelaySeconds(waitMs: number): number {
  return waitMs > 0 ? Math.max(1, Math.ceil(waitMs / 1000)) : 0;
}

/** A re-enqueue the queue refused is tried again within the invocation, after these pauses, then left to the host. */
export const REQUEUE_RETRY_PAUSES_MS = [250, 500] as const;

// --- Delivery leases: one holder's claim outlasts everything it can do under it. ---

/** Slack for the clocks, the event loop and the network between the steps of one claim. */
const CLAIM_MARGIN_MS = 3000;
/** A target another delivery claimed first, or whose claim ran short, is looked at again this soon. */
export const CLAIM_RETRY_MS = 1000;

/** The claim covers two sends (the full payload, then the minimal one), two tries of the ledger write, margins. */
export function claimLeaseMs(maxSendMs: number, ledgerTimeoutMs: number): number {
  return 2 * maxSendMs + 2 * ledgerTimeoutMs + 2 * CLAIM_MARGIN_MS;
}

/** A send starts only while this much of the claim is left: the send itself and the record after it. */
export function sendBudgetMs(maxSendMs: number, ledgerTimeoutMs: number): number {
  return maxSendMs + 2 * ledgerTimeoutMs + CLAIM_MARGIN_MS;
}

/** A second ledger try after a post starts only while this much of the claim is left. */
export function recordBudgetMs(ledgerTimeoutMs: number): number {
  return ledgerTimeoutMs + CLAIM_MARGIN_MS;
}

/** A target held by another delivery: looked at again once its claim may have ended (ledger clock: whole seconds). */
export function busyTargetWaitMs(claimLeftMs: number): number {
  return claimLeftMs + CLAIM_RETRY_MS;
}

// --- The app-wide budgets (store/sharedBudget.ts): one timeline of slots in Table storage. ---

/** Takers waiting together on one instance are served by one lease of at most this many slots. */
export const BUDGET_LEASE_MAX = 50;
/** A lease takes ahead what the instance took in this long, so that the next takers need no write. */
export const BUDGET_POOL_SECONDS = 1;
/** A slot leased ahead is handed out up to this long after its time, then dropped (its token is spent). */
export const BUDGET_POOL_STALE_MS = 1000;
/** A lease that keeps losing the row to other instances' writes tries again this long, then falls back. */
export const BUDGET_CONTENTION_MS = 10_000;
/** After the shared row failed, this instance keeps to its safe local share this long before trying it again. */
export const BUDGET_FALLBACK_MS = 30_000;

// A fleet run (core/group.ts). Its members are commands, each with its own poll window; the group is over
// when every member is, or when the last of them can no longer be: its own window plus the time the CLI
// takes to start them all (bounded parallelism), at most 5 minutes, at most half the window.
const GROUP_START_ALLOWANCE_MS = 5 * 60_000;

export function groupDeadlineMs(firstSeenMs: number, timeoutMinutes: number): number {
  const windowMs = timeoutMinutes * 60_000;
  return firstSeenMs + windowMs + Math.min(GROUP_START_ALLOWANCE_MS, windowMs / 2);
}

/** How often a group looks at its members (one ledger read): every 10 s, slower for long groups, at most 30 s. */
export function groupTickSeconds(schedule: PollSchedule, elapsedSeconds: number): number {
  return Math.max(1, Math.round(Math.min(schedule.maxDelaySeconds, 30, Math.max(10, 0.05 * elapsedSeconds))));
}

/**
 * A group not ended this long after its deadline as the ledger recorded it (10 minutes for its last tick and
 * its summary) is overdue: its chain is late or lost. The first member whose result finds it so ends it in
 * the chain's stead (fleet/member.ts), so that its result is in the summary or on its own, never neither.
 */
export function groupOverdueMs(groupDeadlineMs: number): number {
  return groupDeadlineMs + 10 * 60_000;
}

/**
 * A member whose result is in before its group's declaration is recorded waits for it this long from its
 * first sight (at most 10 minutes, at most its own window), then is reported on its own: never lost.
 */
export function groupJoinGiveUpMs(firstSeenMs: number, timeoutMinutes: number): number {
  return firstSeenMs + Math.min(10, timeoutMinutes) * 60_000;
}

/**
 * `run --wait` on a fleet reads each member's result with the caller's identity: at most this rate per
 * subscription, a tenth of ARM's per-principal read bucket (250 / 25 per s), so a pipeline that waits on 200
 * clusters leaves the caller's other reads their room.
 */
export const CALLER_READ_RATE = { perSecond: 2.5, burst: 25 } as const;
/** Starts in flight at once by default (`--max-parallel`): a start is an ARM write (200 / 10 per s per subscription). */
export const DEFAULT_MAX_PARALLEL_STARTS = 10;
/** More clusters than this from a file or a query ask for confirmation (or --yes). */
export const CONFIRM_ABOVE_CLUSTERS = 10;
