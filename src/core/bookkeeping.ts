// What this app adds to a message it re-enqueues (`_notifier`): the poll chain's step, the command's time
// window, the delivery round, notes of posts not yet recorded. Read field by field and tolerantly, so that
// instances of another version (a rolling deploy) never poison each other's messages.
import { TARGET_NAME as TARGET } from './targetName';
import { escapeForLog } from './text';

export const BOOKKEEPING_KEY = '_notifier';
export const BOOKKEEPING_VERSION = 2;
const MAX_TRACKING_DAYS = 7;

/** A post that reached its channel but could not be recorded: the next round records it, never re-posts. */
export interface SentNote {
  target: string;
  /** The claim it was made under: only that claim may be marked delivered by this note. */
  claimId: string;
  form: 'full' | 'minimal';
  at: string;
}

/**
 * What this app adds to a message it re-enqueues. A hint, never an authority: the ledger holds the
 * command's deadline and poll generation, and every value here is clamped before use (docs/security.md, "Trust").
 * Read tolerantly, so that instances of another version (a rolling deploy) never poison each other's
 * messages: unknown fields are ignored and a malformed known field is dropped, not fatal.
 */
export interface Bookkeeping {
  v?: number;
  /** Polls made so far for this command. */
  attempt: number;
  firstSeenAt?: string;
  deadlineAt?: string;
  /** Last delay chosen, so that backoff on throttling can grow from it. */
  lastDelaySeconds?: number;
  /** Poll generation of the chain that wrote this message, and the ledger row's ETag after that step. */
  gen?: number;
  etag?: string;
  /**
   * The queue message id of the copy that re-enqueued this one. A copy re-enqueued to try again after a
   * store outage may not know the ETag its own writes left (the outage struck after a step, or a write took
   * effect but its answer was lost); the chain is still this copy's while the row names its parent.
   */
  parent?: string;
  /** "deliver": the result is stored; only deliveries are left. */
  stage?: 'poll' | 'deliver';
  /** Failed rounds so far (deliveries, or a ledger or store that was down): the backoff grows with it. */
  round?: number;
  sent?: SentNote[];
  /** The running message was posted (or settled) for the targets that have one. */
  announced?: boolean;
  /** When this poll was first due (epoch ms): a poll given a later slot keeps it, so its wait is measured. */
  dueAt?: number;
  /** The read budget's slot this poll holds (epoch ms): it goes then, on whichever instance, without paying again. */
  readSlotAt?: number;
  /** Each paced target's slot (epoch ms), the same way. */
  paceSlots?: Record<string, number>;
  /** A fleet member: its row in the group says it is tracked (fleet/member.ts). */
  groupJoined?: boolean;
  /** A group's live messages: what each target's shows (core/group.ts progressKey), so it is updated on change only. */
  shown?: Record<string, string>;
  /** Fields from other versions, dropped on rewrite. */
  ignored?: string[];
}

const isoTime = (v: unknown): string | undefined =>
  typeof v === 'string' && v.length <= 40 && /^\d{4}-\d{2}-\d{2}T/.test(v) && !Number.isNaN(Date.parse(v))
    ? v
    : undefined;
/** A time as epoch ms, from 2020 to 2200: nothing else is one of ours. */
const epochMs = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) && v > 1_577_836_800_000 && v < 7_258_118_400_000 ? v : undefined;
const wholeIn = (v: unknown, max: number): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max ? v : undefined;

/** A queue message id as Storage and the worker make them (a GUID) or a test names one. */
export const MESSAGE_ID = /^[\w-]{1,100}$/;

/**
 * Whether this copy of a message owns its command's (or group's) poll chain: it made the row, or it is the
 * copy the chain's last step was made by (a redelivery of that message), or a copy that message re-enqueued
 * (`parent`), or it carries the row's ETag. Any other copy stops while the chain's lease is live; every step
 * is a conditional write, so two copies that both own it still take each step once.
 */
export function ownsChain(
  row: { owner?: string; etag: string },
  copy: { id?: string; book: Pick<Bookkeeping, 'etag' | 'parent'>; created: boolean },
): boolean {
  return (
    copy.created ||
    (copy.id !== undefined && row.owner === copy.id) ||
    (copy.book.parent !== undefined && row.owner === copy.book.parent) ||
    (copy.book.etag !== undefined && row.etag === copy.book.etag)
  );
}

/** Reads `_notifier` field by field: what is malformed or unknown is left out, never fatal. */
export function readBookkeeping(value: unknown): Bookkeeping | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  const known = new Set([
    'v',
    'attempt',
    'firstSeenAt',
    'deadlineAt',
    'lastDelaySeconds',
    'gen',
    'etag',
    'parent',
    'stage',
    'round',
    'sent',
    'announced',
    'dueAt',
    'readSlotAt',
    'paceSlots',
    'groupJoined',
    'shown',
  ]);
  const ignored = Object.keys(o).filter((k) => !known.has(k));
  const firstSeenAt = isoTime(o.firstSeenAt);
  const deadlineAt = isoTime(o.deadlineAt);
  const span = firstSeenAt && deadlineAt ? Date.parse(deadlineAt) - Date.parse(firstSeenAt) : undefined;
  const spanOk = span === undefined || (span >= 0 && span <= MAX_TRACKING_DAYS * 24 * 3600 * 1000);
  const lastDelay =
    typeof o.lastDelaySeconds === 'number' &&
    o.lastDelaySeconds >= 0 &&
    o.lastDelaySeconds <= MAX_TRACKING_DAYS * 24 * 3600
      ? o.lastDelaySeconds
      : undefined;
  const sent = Array.isArray(o.sent)
    ? o.sent
        .slice(0, 20)
        .filter(
          (n): n is SentNote =>
            !!n &&
            typeof n === 'object' &&
            typeof n.target === 'string' &&
            TARGET.test(n.target) &&
            typeof n.claimId === 'string' &&
            /^[\w-]{8,64}$/.test(n.claimId) &&
            (n.form === 'full' || n.form === 'minimal') &&
            isoTime(n.at) !== undefined,
        )
        .map((n) => ({ target: n.target, claimId: n.claimId, form: n.form, at: n.at }))
    : [];
  const paceSlots = Object.fromEntries(
    o.paceSlots && typeof o.paceSlots === 'object' && !Array.isArray(o.paceSlots)
      ? Object.entries(o.paceSlots as Record<string, unknown>)
          .filter((e): e is [string, number] => TARGET.test(e[0]) && epochMs(e[1]) !== undefined)
          .slice(0, 20)
      : [],
  );
  const shown = Object.fromEntries(
    o.shown && typeof o.shown === 'object' && !Array.isArray(o.shown)
      ? Object.entries(o.shown as Record<string, unknown>)
          .filter(
            (e): e is [string, string] => TARGET.test(e[0]) && typeof e[1] === 'string' && /^[\d.]{1,80}$/.test(e[1]),
          )
          .slice(0, 20)
      : [],
  );
  return {
    ...(wholeIn(o.v, 1000) !== undefined ? { v: o.v as number } : {}),
    attempt: wholeIn(o.attempt, 1_000_000) ?? 0,
    ...(firstSeenAt && spanOk ? { firstSeenAt } : {}),
    ...(deadlineAt && spanOk ? { deadlineAt } : {}),
    ...(lastDelay !== undefined ? { lastDelaySeconds: lastDelay } : {}),
    ...(wholeIn(o.gen, 1_000_000_000) !== undefined ? { gen: o.gen as number } : {}),
    ...(typeof o.etag === 'string' && o.etag.length <= 200 ? { etag: o.etag } : {}),
    ...(typeof o.parent === 'string' && MESSAGE_ID.test(o.parent) ? { parent: o.parent } : {}),
    ...(o.stage === 'poll' || o.stage === 'deliver' ? { stage: o.stage } : {}),
    ...(wholeIn(o.round, 1_000_000) !== undefined ? { round: o.round as number } : {}),
    ...(sent.length > 0 ? { sent } : {}),
    ...(o.announced === true ? { announced: true } : {}),
    ...(epochMs(o.dueAt) !== undefined ? { dueAt: o.dueAt as number } : {}),
    ...(epochMs(o.readSlotAt) !== undefined ? { readSlotAt: o.readSlotAt as number } : {}),
    ...(Object.keys(paceSlots).length > 0 ? { paceSlots } : {}),
    ...(o.groupJoined === true ? { groupJoined: true } : {}),
    ...(Object.keys(shown).length > 0 ? { shown } : {}),
    ...(ignored.length > 0 ? { ignored: ignored.slice(0, 10).map((k) => escapeForLog(k, 40)) } : {}),
  };
}
