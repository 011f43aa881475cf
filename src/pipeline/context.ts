// What every stage of a queue message's journey shares: the adapters it runs on (so that the Functions
// handler, the worker and the bench's simulations run exactly the same stages), the outcome of one
// message, and the command a message is about once it has been accepted.
import type { CommandResultReader } from '../arm/commandResults';
import type { Bookkeeping } from '../core/bookkeeping';
import type { PollRequest } from '../core/message';
import type { Outcome } from '../core/report';
import { pollWindow, type PollSchedule } from '../core/schedule';
import type { Budget } from '../core/tokenBucket';
import type { Log } from '../log';
import type { Cooldowns, TargetResult } from '../delivery';
import type { Target } from '../notify/provider';
import type { Ledger } from '../store/ledger';
import type { ResultStore } from '../store/results';
import { noTelemetry, type MessageSpan, type Telemetry } from '../telemetry/telemetry';

export interface PipelineDeps {
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
  /** Channel paces, one bucket per target: the app's (store/sharedBudget.ts), or this instance's. */
  pacer: Budget;
  /** Spreads ARM reads per subscription, for the whole app; absent: no client-side limit. */
  readBudget?: Budget;
  /** A token for an audience from the app's identity (providers that declare one). */
  appToken?: (audience: string) => Promise<string>;
  telemetry?: Telemetry;
  now: () => number;
  /** A clock that never jumps (budgets, leases measured by the holder). */
  monotonic: () => number;
  random: () => number;
}

export interface MessageMeta {
  insertionTime?: Date;
  id?: string;
  /** The message's span: what this message was and became, as attributes and delivery events. */
  span?: MessageSpan;
}

export type MessageOutcome =
  | { kind: 'poisoned'; reason: string }
  | { kind: 'requeued'; delaySeconds: number; attempt: number; state: string }
  /** Another copy polls this command; this one's targets are recorded and it stops. */
  | { kind: 'another-copy-polls'; reason: string }
  /** A fleet run's word about a member was recorded in its group (nothing to deliver for it). */
  | { kind: 'recorded'; reason: string }
  | { kind: 'notified'; outcome: Outcome; results: TargetResult[] }
  /** Delivery (or a store it needs) must wait: the message was re-enqueued for then. */
  | { kind: 'deferred'; outcome?: Outcome; delaySeconds: number; results: TargetResult[]; reason: string };

/** Thrown for work that must be retried by the host (the queue refused a re-enqueue). */
export class RetryableError extends Error {
  override name = 'RetryableError';
}

/**
 * One accepted message of any kind (a command's, a fleet run's): what re-enqueuing it, delivering for it and
 * poisoning it need.
 */
export interface Journey {
  raw: unknown;
  meta: MessageMeta;
  deps: PipelineDeps;
  log: Log;
  label: string;
  /** Its partition in the ledger. */
  key: string;
  /** The targets this message names (resolved and in scope). */
  targets: Target[];
  book: Bookkeeping;
  /** Clamped: never after now, the deadline never beyond firstSeen + POLL_TIMEOUT_MINUTES. */
  firstSeenMs: number;
  deadlineMs: number;
  /** The message as it is re-enqueued with this bookkeeping. */
  serialize(book: Bookkeeping): string;
}

/** One accepted command message: the command it is about, the targets it names, and the command's time window. */
export interface CommandContext extends Journey {
  req: PollRequest;
  clusterId: string;
}

export function telemetryOf(deps: PipelineDeps): Telemetry {
  return deps.telemetry ?? noTelemetry;
}

/**
 * The window a message's journey runs in: first seen when its bookkeeping says (else when it was inserted),
 * and its deadline (a command's own `deadlineAt` within the bound; a group decides its own from here).
 */
export function messageWindow(
  deps: PipelineDeps,
  meta: MessageMeta,
  book: Bookkeeping,
  deadlineAt?: string,
): { firstSeenMs: number; deadlineMs: number } {
  return pollWindow({
    nowMs: deps.now(),
    ...(meta.insertionTime ? { insertedMs: meta.insertionTime.getTime() } : {}),
    ...(book.firstSeenAt ? { firstSeenAt: book.firstSeenAt } : {}),
    ...(deadlineAt ? { deadlineAt } : {}),
    timeoutMinutes: deps.timeoutMinutes,
  });
}
