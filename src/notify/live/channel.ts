// What the live-message engine (engine.ts) needs of a chat channel, and nothing more: a handful of calls
// (post a new message, update it, reply in its thread, and — where the channel can be read back — find our
// own earlier post), how the channel's errors read, the channel's words for its notes, and the few ways in
// which channels truly differ, each named as a capability. The JSON a channel keeps in the ledger stays its
// own (a codec), so that state written by an older version of the app is still read; the engine works on
// the neutral view below.
import type { SendResult } from '../provider';

/** The calls the engine makes; `lookup` is findOurs. */
export type Step = 'lookup' | 'create' | 'update' | 'reply';

export type Failure = Extract<SendResult, { ok: false }>;

/** Where the live message is and how far it got, as the engine sees it whatever JSON the channel keeps. */
export interface LiveState<Ref> {
  /** The live message, once known (posted by an attempt that recorded it, or found in the channel). */
  ref?: Ref;
  /** How many of the thread's replies are in. */
  replied: number;
  /** Finished: a send after this one is on purpose and starts a new message (redelivery 'new-message'). */
  closed?: boolean;
  /** New messages posted while an earlier one may have been (no lookup), not yet told in a note. */
  suspect?: number;
  /** Our message is to be looked for from this time (ms) before anything is posted: a lookup still owed. */
  lookFrom?: number;
  /** Replies resumed in doubt (each may show twice), not yet told: one entry per attempt that resumed them. */
  repeats?: number[];
}

/** The channel's own JSON in the ledger (providerState), read into the neutral view and written back. */
export interface StateCodec<Ref> {
  read(text: string | undefined): LiveState<Ref>;
  write(state: LiveState<Ref>): string;
}

/** What a lookup of the channel found: our message, whether it read as far back as asked, what to tell. */
interface Found<Ref> {
  ref?: Ref;
  complete: boolean;
  notes: string[];
  /** How far an incomplete lookup got, for the note ("read 400 messages without reaching the time of the doubt"). */
  reach?: string;
}

/** The channel's words in the notes the engine writes. */
interface Words {
  /** The live message: 'message', 'card'. */
  noun: string;
  /** Reply `index` of `count` in the thread: "the logs' file", 'reply 2 of the logs'. */
  reply(index: number, count: number): string;
  /** Said when the thread's reply is refused for good (the message itself is delivered). */
  replyRefused: string;
}

export interface LiveChannel<Ref> {
  readonly state: StateCodec<Ref>;
  /** Posts the live message anew; `unnamed`: the answer named no message (it may still have arrived). */
  create(): Promise<{ ref: Ref } | { unnamed: string }>;
  /** Updates it in place. `gone`: a member deleted it. `not-ours`: the channel will not let us edit it. */
  update(ref: Ref): Promise<'updated' | 'gone' | 'not-ours'>;
  /** One reply in its thread (a file upload, one of N reply cards). */
  reply(ref: Ref, index: number): Promise<void>;
  /**
   * Where the channel can be read back: our own message posted at or after `sinceMs` (not `exclude`),
   * reading only while `budgetLeft()`. Absent: new messages posted in doubt are counted and told instead.
   */
  findOurs?(sinceMs: number, exclude: Ref | undefined, budgetLeft: () => boolean): Promise<Found<Ref>>;
  /** Where to look back from for our message when the one recorded is `not-ours` and no doubt is recorded. */
  lookBackFrom?(ref: Ref): number;
  /** What one call threw, as a send failure (transient, permanent, refused; mayHaveArrived). */
  classify(err: unknown, step: Step): Failure;
  /** The step's name in failure details ('chat.postMessage'); default: the step. */
  stepName?(step: Step): string;
  readonly words: Words;
  /** Time between two calls of one attempt (a per-thread rate limit). */
  readonly spacingMs?: number;
  /**
   * Records the state in the ledger after each call that changes it (ctx.record), so that a worker that
   * dies leaves the next attempt to go on from there. Without: a message posted by a dead attempt is found
   * by findOurs, and a reply it made may be made again (and said so).
   */
  readonly checkpoints: boolean;
  /**
   * A send after the result was delivered (redeliver, a target fixed): `same-message` updates the message
   * in place again; `new-message` closes it with the result and starts a new one.
   */
  readonly redelivery: 'same-message' | 'new-message';
}

/** What this send is of, for the engine. */
export interface LiveJob {
  /** What the message is of, for notes ('<cluster>/<command id>'). */
  subject: string;
  /** The result: the message is finished with it (and gets its replies). */
  final: boolean;
  /** How many replies the final message takes in its thread (0: none). */
  replies: number;
}

export interface LiveLimits {
  /** The longest one call takes. */
  timeoutMs: number;
  /** The provider's maxSendMs for that timeout: what the claim allows one send. */
  maxSendMs: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}
