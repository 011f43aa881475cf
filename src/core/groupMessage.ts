// The messages of a fleet run besides its members' tracking messages (which are command messages with a
// `groupId`): the declaration, sent by `run` before any start and naming every planned member, the word
// that a member could not be started, and the request to deliver an ended group's summary (`redeliver
// --group`, or a member that found its group overdue). The CLI may only send queue messages, so these are
// how it tells the function about the group; the function records them in the ledger (fleet/declare.ts).
//
// Any producer may send any of them, so none is believed beyond what the ledger recorded: the first
// declaration recorded fixes the group, and a later one is compared with it by digest (declarationDigest).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { BOOKKEEPING_KEY, readBookkeeping, type Bookkeeping } from './bookkeeping';
import { clusterResourceId, type ClusterRef } from './cluster';
import { isDoctor, isProbe, parseDoctor, parseProbe, type DoctorRequest, type ProbeRequest } from './doctorMessage';
import { MAX_GROUP_MEMBERS, memberId } from './group';
import {
  contextSchema,
  contextStrings,
  decodeJson,
  GROUP_ID,
  MessageError,
  parseClusterResourceId,
  parsePollRequest,
  reasonOf,
  targetsSchema,
  withBookkeeping,
  type PollRequest,
} from './message';
import { escapeForLog } from './text';

export interface GroupRequest {
  groupId: string;
  members: ClusterRef[];
  command?: string;
  targets?: string[];
  context?: Record<string, string>;
  bookkeeping?: Bookkeeping;
}

export interface NotStartedRequest {
  groupId: string;
  cluster: ClusterRef;
  /** couldNotStart: ARM refused the start (or the cluster's read); startUnknown: its outcome is unknown. */
  outcome: 'couldNotStart' | 'startUnknown';
  reason: string;
  bookkeeping?: Bookkeeping;
}

/** Deliver an ended group's summary to its recorded targets that still need it: nothing more. */
export interface SummaryRequest {
  groupId: string;
  bookkeeping?: Bookkeeping;
}

export type QueueMessage =
  | { kind: 'command'; req: PollRequest }
  | { kind: 'group'; req: GroupRequest }
  | { kind: 'notStarted'; req: NotStartedRequest }
  | { kind: 'summary'; req: SummaryRequest }
  | { kind: 'probe'; req: ProbeRequest }
  | { kind: 'doctor'; req: DoctorRequest };

/**
 * What makes a declaration this group's, part by part (SHA-256, base64url): the members by lower-cased
 * resource id in declared order, the command byte for byte, the targets as declared (not as resolved: a
 * default changed later does not make an old copy different), the context (keys sorted). Two declarations
 * are equal when every part is.
 */
export interface DeclarationDigest {
  members: string;
  command: string;
  targets: string;
  context: string;
}

const digestOf = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('base64url');

export function declarationDigest(
  req: Pick<GroupRequest, 'members' | 'command' | 'targets' | 'context'>,
): DeclarationDigest {
  return {
    members: digestOf(req.members.map(memberId)),
    command: digestOf(req.command ?? null),
    targets: digestOf(req.targets ?? null),
    context: digestOf(Object.entries(req.context ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  };
}

/** The parts in which a declaration differs from the recorded one (empty: it is a copy). */
export function declarationDiffers(recorded: DeclarationDigest, copy: DeclarationDigest): (keyof DeclarationDigest)[] {
  return (['members', 'command', 'targets', 'context'] as const).filter((part) => recorded[part] !== copy[part]);
}

const groupId = z.string().regex(GROUP_ID, 'must be a plain token of letters, digits, "-" or "_" (at most 64)');

const declarationSchema = z.strictObject({
  groupId,
  members: z.array(z.string().max(1024)).min(1).max(MAX_GROUP_MEMBERS, `at most ${MAX_GROUP_MEMBERS} clusters`),
  command: z
    .string()
    .max(16 * 1024)
    .optional(),
  targets: targetsSchema,
  context: contextSchema,
  [BOOKKEEPING_KEY]: z.unknown().optional(),
});

const notStartedSchema = z.strictObject({
  groupId,
  clusterResourceId: z.string().max(1024),
  notStarted: z.strictObject({
    outcome: z.enum(['couldNotStart', 'startUnknown']),
    reason: z.string().max(2048),
  }),
  [BOOKKEEPING_KEY]: z.unknown().optional(),
});

const summarySchema = z.strictObject({
  groupId,
  deliverSummary: z.literal(true),
  [BOOKKEEPING_KEY]: z.unknown().optional(),
});

/**
 * Any message of the command queue: a command's, a group's declaration, a member not started, a summary
 * request, a producer's probe or a doctor run (core/doctorMessage.ts).
 */
export function parseQueueMessage(raw: unknown): QueueMessage {
  const json = decodeJson(raw);
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new MessageError('message must be a JSON object');
  const o = json as Record<string, unknown>;
  if ('members' in o) {
    const parsed = declarationSchema.safeParse(o);
    if (!parsed.success) throw new MessageError(reasonOf(parsed.error.issues));
    const m = parsed.data;
    const members = m.members.map(parseClusterResourceId);
    const seen = new Set<string>();
    for (const c of members) {
      if (seen.has(memberId(c)))
        throw new MessageError(`members name ${escapeForLog(c.resourceName, 80)} twice (${clusterResourceId(c)})`);
      seen.add(memberId(c));
    }
    const context = contextStrings(m.context);
    const bookkeeping = readBookkeeping(m[BOOKKEEPING_KEY]);
    return {
      kind: 'group',
      req: {
        groupId: m.groupId,
        members,
        ...(m.command !== undefined ? { command: m.command } : {}),
        ...(m.targets ? { targets: m.targets } : {}),
        ...(context ? { context } : {}),
        ...(bookkeeping ? { bookkeeping } : {}),
      },
    };
  }
  if ('notStarted' in o) {
    const parsed = notStartedSchema.safeParse(o);
    if (!parsed.success) throw new MessageError(reasonOf(parsed.error.issues));
    const m = parsed.data;
    const bookkeeping = readBookkeeping(m[BOOKKEEPING_KEY]);
    return {
      kind: 'notStarted',
      req: {
        groupId: m.groupId,
        cluster: parseClusterResourceId(m.clusterResourceId),
        outcome: m.notStarted.outcome,
        reason: m.notStarted.reason,
        ...(bookkeeping ? { bookkeeping } : {}),
      },
    };
  }
  if ('deliverSummary' in o) {
    const parsed = summarySchema.safeParse(o);
    if (!parsed.success) throw new MessageError(reasonOf(parsed.error.issues));
    const bookkeeping = readBookkeeping(parsed.data[BOOKKEEPING_KEY]);
    return { kind: 'summary', req: { groupId: parsed.data.groupId, ...(bookkeeping ? { bookkeeping } : {}) } };
  }
  if (isProbe(o)) return { kind: 'probe', req: parseProbe(o) };
  if (isDoctor(o)) return { kind: 'doctor', req: parseDoctor(o) };
  return { kind: 'command', req: parsePollRequest(json) };
}

export function serializeGroupRequest(req: GroupRequest): string {
  const out: Record<string, unknown> = { groupId: req.groupId, members: req.members.map(clusterResourceId) };
  if (req.command !== undefined) out.command = req.command;
  if (req.targets) out.targets = req.targets;
  if (req.context) out.context = req.context;
  return withBookkeeping(out, req.bookkeeping);
}

export function serializeNotStarted(req: NotStartedRequest): string {
  return withBookkeeping(
    {
      groupId: req.groupId,
      clusterResourceId: clusterResourceId(req.cluster),
      notStarted: { outcome: req.outcome, reason: req.reason.slice(0, 2048) },
    },
    req.bookkeeping,
  );
}

export function serializeSummaryRequest(req: SummaryRequest): string {
  return withBookkeeping({ groupId: req.groupId, deliverSummary: true }, req.bookkeeping);
}
