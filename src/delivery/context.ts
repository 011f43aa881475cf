// What one delivery to one target is given and what it ends in: the context every attempt runs with (the
// ledger, the clocks, the channel's pace and cooldowns, the retry policy) and the result its caller acts on.
// Kept apart from the attempt (deliverTarget.ts) and its records (records.ts), which both use them.
import type { SentNote } from '../core/bookkeeping';
import type { RetryPolicy } from '../core/schedule';
import type { Budget } from '../core/tokenBucket';
import type { Log } from '../log';
import type { Form } from '../notify/provider';
import type { Ledger } from '../store/ledger';
import type { Cooldowns } from './cooldowns';

export type TargetResult =
  | { target: string; status: 'delivered'; form: Form; attempts: number; lagMs?: number; inDoubt: boolean }
  /** The live message is up while the command runs; the result will update it. */
  | { target: string; status: 'posted' }
  | { target: string; status: 'skipped'; why: 'not-wanted' | 'already-delivered' | 'already-failed' }
  | { target: string; status: 'failed'; error: string }
  /**
   * Not yet: try again in `waitMs`. `sent`: it was posted, but the ledger could not record it. `slotAt`: the
   * channel's pace gave it a slot then (epoch ms), already paid for.
   */
  | { target: string; status: 'retry-later'; error: string; waitMs: number; sent?: SentNote; slotAt?: number };

export interface DeliveryContext {
  ledger: Ledger;
  key: string;
  armEndpoint: string;
  sendTimeoutMs: number;
  /** Bound of one ledger call (each write after a post gets two tries). */
  ledgerTimeoutMs: number;
  policy: RetryPolicy;
  cooldowns: Cooldowns;
  /** Channel paces, one bucket per target (the app's). */
  pacer: Budget;
  /** Slots of the pace this message holds, by target (epoch ms): given by any instance, honoured by all. */
  paceSlots?: Readonly<Record<string, number>>;
  /** Counts what the pace deferred (telemetry). */
  onPaced?: (target: string) => void;
  /** A token for an audience from the app's identity (providers that declare appTokenAudience). */
  appToken?: (audience: string) => Promise<string>;
  log: Log;
  now: () => number;
  monotonic: () => number;
  random: () => number;
  /** Targets that ran out of delivery time get another chance (a message came back: redrive, a new copy). */
  retryExpired: boolean;
}
