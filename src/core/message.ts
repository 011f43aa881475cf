// The queue message contract: decode (raw JSON or base64 JSON), validate, and write back with bookkeeping.
// Every field that reaches the ARM URL is checked against the API page's own rules here, so that nothing
// in a message can change the request's host or path.
import { z } from 'zod';
import { BOOKKEEPING_KEY, BOOKKEEPING_VERSION, readBookkeeping, type Bookkeeping } from './bookkeeping';
import { clusterResourceId, type ClusterRef } from './cluster';
import { TARGET_NAME as TARGET } from './targetName';
import { escapeForLog } from './text';

/** Storage queues hold 64 KiB; producers get 63 KiB, so that our bookkeeping always fits on re-enqueue. */
const MAX_MESSAGE_BYTES = 64 * 1024;
const MAX_PRODUCER_MESSAGE_BYTES = 63 * 1024;

export interface PollRequest {
  cluster: ClusterRef;
  commandId: string;
  command?: string;
  targets?: string[];
  context?: Record<string, string>;
  /** The fleet run this command belongs to (core/group.ts): its result goes to the group's summary. */
  groupId?: string;
  bookkeeping?: Bookkeeping;
}

export class MessageError extends Error {
  override name = 'MessageError';
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
// Azure: 1-90 letters, digits, underscores, hyphens, periods and parentheses; no trailing period.
const RESOURCE_GROUP = /^[-\w.()\p{L}\p{N}]{0,89}[-\w()\p{L}\p{N}]$/u;
// From the API page.
const RESOURCE_NAME = /^[a-zA-Z0-9]$|^[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]$/;
// Command ids are hex strings today; allow a plain token, never a separator.
const COMMAND_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
/** A fleet run's id: the same plain token. */
export const GROUP_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const CLUSTER_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ContainerService\/managedClusters\/([^/]+)$/i;

export const targetsSchema = z
  .array(z.string().regex(TARGET, 'must be a target name (lowercase letters, digits, hyphens)'))
  .min(1)
  .max(20)
  .optional();

export const contextSchema = z
  .record(
    z
      .string()
      .min(1)
      .max(64)
      .regex(/^[\w.-]+$/, 'keys must be letters, digits, ".", "-" or "_"'),
    z.union([z.string().max(2048), z.number(), z.boolean()]),
  )
  .refine((r) => Object.keys(r).length <= 20, 'at most 20 entries')
  .optional();

const messageSchema = z
  .strictObject({
    clusterResourceId: z.string().max(1024).optional(),
    subscriptionId: z.string().regex(UUID, 'must be a UUID').optional(),
    resourceGroupName: z.string().regex(RESOURCE_GROUP, 'is not a valid resource group name').optional(),
    resourceName: z.string().regex(RESOURCE_NAME, 'is not a valid managed cluster name').optional(),
    commandId: z
      .string({ error: 'is required' })
      .regex(COMMAND_ID, 'must be a plain token of letters, digits, "-" or "_" (at most 128)'),
    command: z
      .string()
      .max(16 * 1024)
      .optional(),
    targets: targetsSchema,
    context: contextSchema,
    groupId: z.string().regex(GROUP_ID, 'must be a plain token of letters, digits, "-" or "_" (at most 64)').optional(),
    [BOOKKEEPING_KEY]: z.unknown().optional(),
  })
  .superRefine((m, ctx) => {
    const parts = [m.subscriptionId, m.resourceGroupName, m.resourceName];
    if (m.clusterResourceId !== undefined) {
      if (parts.some((p) => p !== undefined)) {
        ctx.addIssue({
          code: 'custom',
          message: 'give either clusterResourceId or subscriptionId/resourceGroupName/resourceName, not both',
        });
      }
    } else if (parts.some((p) => p === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'clusterResourceId (or subscriptionId, resourceGroupName and resourceName) is required',
      });
    }
  });

/** Parses `/subscriptions/…/resourceGroups/…/providers/Microsoft.ContainerService/managedClusters/…`. */
export function parseClusterResourceId(id: string): ClusterRef {
  const m = CLUSTER_ID.exec(id.trim());
  if (!m) {
    throw new MessageError(
      'clusterResourceId must be /subscriptions/<uuid>/resourceGroups/<group>/providers/Microsoft.ContainerService/managedClusters/<name>',
    );
  }
  return checkClusterRef({ subscriptionId: m[1]!, resourceGroupName: m[2]!, resourceName: m[3]! });
}

export function checkClusterRef(ref: ClusterRef): ClusterRef {
  if (!UUID.test(ref.subscriptionId)) throw new MessageError('subscriptionId must be a UUID');
  if (!RESOURCE_GROUP.test(ref.resourceGroupName))
    throw new MessageError('resourceGroupName is not a valid resource group name');
  if (!RESOURCE_NAME.test(ref.resourceName)) throw new MessageError('resourceName is not a valid managed cluster name');
  return ref;
}

export function checkCommandId(id: string): string {
  if (!COMMAND_ID.test(id))
    throw new MessageError('commandId must be a plain token of letters, digits, "-" or "_" (at most 128)');
  return id;
}

/** The text of a queue message, whatever the trigger handed us (the host passes JSON as an object). */
export function messageText(raw: unknown): string {
  try {
    if (typeof raw === 'string') return raw;
    if (raw instanceof Uint8Array) return Buffer.from(raw).toString('utf8');
    if (raw !== null && typeof raw === 'object') return JSON.stringify(raw) ?? '';
    return String(raw);
  } catch (err) {
    // A structure too deep or cyclic to serialize (the host hands JSON over as an object).
    return `[a ${Array.isArray(raw) ? 'array' : typeof raw} that cannot be written back as JSON: ${escapeForLog((err as Error).name)}]`;
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Accepts JSON as is, or base64-encoded JSON (producers that encode by default). */
export function decodeJson(raw: unknown): unknown {
  if (raw !== null && typeof raw === 'object' && !(raw instanceof Uint8Array)) {
    // The host parsed it for us: measure it as the text it came from, and refuse what cannot be written back.
    const text = messageText(raw);
    if (text.startsWith('[a ')) throw new MessageError(text.slice(1, -1));
    if (Buffer.byteLength(text, 'utf8') > MAX_PRODUCER_MESSAGE_BYTES)
      throw new MessageError(`message is larger than ${MAX_PRODUCER_MESSAGE_BYTES} bytes`);
    return raw;
  }
  const text = messageText(raw).trim();
  if (Buffer.byteLength(text, 'utf8') > MAX_PRODUCER_MESSAGE_BYTES)
    throw new MessageError(`message is larger than ${MAX_PRODUCER_MESSAGE_BYTES} bytes`);
  if (text === '') throw new MessageError('message is empty');
  let json = text;
  if (!text.startsWith('{')) {
    const compact = text.replace(/\s+/g, '');
    if (!BASE64.test(compact)) throw new MessageError('message is neither JSON nor base64-encoded JSON');
    json = Buffer.from(compact, 'base64').toString('utf8').trim();
    if (!json.startsWith('{')) throw new MessageError('message is base64 but does not decode to a JSON object');
  }
  try {
    return JSON.parse(json);
  } catch (err) {
    throw new MessageError(`message is not valid JSON: ${escapeForLog((err as Error).message, 200)}`);
  }
}

/** Rejections are copied into poison reasons and logs: at most 1 KB, names of unknown fields capped. */
const MAX_REASON_CHARS = 1024;

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = escapeForLog(issue.path.map(String).join('.'), 80);
  if (issue.code === 'unrecognized_keys') {
    const shown = issue.keys.slice(0, 5).map((k) => `"${escapeForLog(k, 40)}"`);
    return `unknown field(s): ${shown.join(', ')}${issue.keys.length > 5 ? ` and ${issue.keys.length - 5} more` : ''}`;
  }
  return path ? `${path} ${issue.message}` : issue.message;
}

export function reasonOf(issues: readonly z.core.$ZodIssue[]): string {
  const text =
    issues.slice(0, 8).map(describeIssue).join('; ') +
    (issues.length > 8 ? `; and ${issues.length - 8} more problems` : '');
  return escapeForLog(text, MAX_REASON_CHARS - 20);
}

export function parsePollRequest(raw: unknown): PollRequest {
  const json = decodeJson(raw);
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new MessageError('message must be a JSON object');
  const parsed = messageSchema.safeParse(json);
  if (!parsed.success) throw new MessageError(reasonOf(parsed.error.issues));
  const m = parsed.data;
  const cluster =
    m.clusterResourceId !== undefined
      ? parseClusterResourceId(m.clusterResourceId)
      : checkClusterRef({
          subscriptionId: m.subscriptionId!,
          resourceGroupName: m.resourceGroupName!,
          resourceName: m.resourceName!,
        });
  const context = m.context ? Object.fromEntries(Object.entries(m.context).map(([k, v]) => [k, String(v)])) : undefined;
  const bookkeeping = readBookkeeping(m[BOOKKEEPING_KEY]);
  return {
    cluster,
    commandId: m.commandId,
    ...(m.command !== undefined ? { command: m.command } : {}),
    ...(m.targets ? { targets: m.targets } : {}),
    ...(context ? { context } : {}),
    ...(m.groupId !== undefined ? { groupId: m.groupId } : {}),
    ...(bookkeeping ? { bookkeeping } : {}),
  };
}

/** Context values as the pipeline keeps them: strings. */
export function contextStrings(context: Record<string, string | number | boolean> | undefined) {
  return context ? Object.fromEntries(Object.entries(context).map(([k, v]) => [k, String(v)])) : undefined;
}

/** The JSON written to the queue: the producer's fields in canonical form plus our bookkeeping. */
export function serializePollRequest(req: PollRequest): string {
  const out: Record<string, unknown> = {
    clusterResourceId: clusterResourceId(req.cluster),
    commandId: req.commandId,
  };
  if (req.command !== undefined) out.command = req.command;
  if (req.targets) out.targets = req.targets;
  if (req.context) out.context = req.context;
  if (req.groupId) out.groupId = req.groupId;
  return withBookkeeping(out, req.bookkeeping);
}

/** Adds our bookkeeping to a message's fields, and checks that the whole still fits a queue message. */
export function withBookkeeping(out: Record<string, unknown>, book: Bookkeeping | undefined): string {
  if (book) {
    const { ignored: _ignored, ...bookkeeping } = book;
    out[BOOKKEEPING_KEY] = { ...bookkeeping, v: BOOKKEEPING_VERSION };
  }
  const text = JSON.stringify(out);
  if (Buffer.byteLength(text, 'utf8') > MAX_MESSAGE_BYTES)
    throw new MessageError(`message is larger than ${MAX_MESSAGE_BYTES} bytes`);
  return text;
}
