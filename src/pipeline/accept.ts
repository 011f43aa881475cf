// The first stage of every queue message: parse it, route it to its targets, fix the command's time
// window. A message that can never succeed (invalid, an unknown target, a cluster its targets may not
// hear of) goes to the poison queue with its reason; anything else becomes a CommandContext.
import { clusterResourceId } from '../core/cluster';
import type { Bookkeeping } from '../core/bookkeeping';
import { parseQueueMessage, type QueueMessage } from '../core/groupMessage';
import { MessageError, serializePollRequest, type PollRequest } from '../core/message';
import type { Log } from '../log';
import type { Target } from '../notify/provider';
import { commandKey } from '../store/ledgerRows';
import type { PoisonReason } from '../telemetry/telemetry';
import {
  messageWindow,
  type CommandContext,
  type MessageMeta,
  type MessageOutcome,
  type PipelineDeps,
} from './context';
import { poison } from './requeue';

/** Any message of the command queue, parsed; one that is not valid goes to the poison queue with the reason. */
export async function parse(
  raw: unknown,
  meta: MessageMeta,
  deps: PipelineDeps,
  log: Log,
): Promise<QueueMessage | MessageOutcome> {
  try {
    return parseQueueMessage(raw);
  } catch (err) {
    if (!(err instanceof MessageError)) throw err;
    return poison({ raw, deps, log, meta }, 'invalid-message', `invalid message: ${err.message}`);
  }
}

export async function accept(
  req: PollRequest,
  raw: unknown,
  meta: MessageMeta,
  deps: PipelineDeps,
  log: Log,
): Promise<CommandContext | MessageOutcome> {
  const label = `command ${req.commandId} on ${req.cluster.resourceName}`;
  const clusterId = clusterResourceId(req.cluster);
  meta.span?.set({
    'aks.command_id': req.commandId,
    'aks.cluster': req.cluster.resourceName,
    'aks.resource_group': req.cluster.resourceGroupName,
    'aks.subscription_id': req.cluster.subscriptionId,
  });
  const targets = resolveTargets(req.targets, (t) => t.scope.allows(clusterId), deps, log, label);
  if (!Array.isArray(targets)) return poison({ raw, deps, log, meta }, targets.why, targets.reason, label);

  const book = req.bookkeeping ?? { attempt: 0 };
  const { firstSeenMs, deadlineMs } = messageWindow(deps, meta, book, book.deadlineAt);
  if (book.ignored?.length) {
    log.warn(`${label}: ignored bookkeeping field(s) from another version: ${book.ignored.join(', ')}`);
  }
  const key = commandKey(clusterId, req.commandId);
  const serialize = (bookkeeping: Bookkeeping) => serializePollRequest({ ...req, bookkeeping });
  return { req, raw, meta, deps, log, label, clusterId, key, targets, book, firstSeenMs, deadlineMs, serialize };
}

/**
 * The message's targets ("default" expands to the default targets), or why it has none it may use. `allows`:
 * whether a target may hear of what the message is about (its _CLUSTERS).
 */
export function resolveTargets(
  names: string[] | undefined,
  allows: (target: Target) => boolean,
  deps: PipelineDeps,
  log: Log,
  label: string,
): Target[] | { why: PoisonReason; reason: string } {
  const explicit = new Set<string>();
  const fromDefault = new Set<string>();
  for (const name of names ?? ['default']) {
    if (name === 'default') deps.defaultTargets.forEach((d) => fromDefault.add(d));
    else explicit.add(name);
  }
  const unknown = [...explicit].filter((n) => !deps.targets.has(n));
  if (unknown.length > 0) {
    const configured = [...deps.targets.keys()].join(', ') || 'none';
    return {
      why: 'unknown-target',
      reason: `unknown notification target(s): ${unknown.join(', ')}; configured: ${configured}`,
    };
  }
  const outside = [...explicit].filter((n) => !allows(deps.targets.get(n)!));
  if (outside.length > 0) {
    const reason = `target(s) ${outside.join(', ')} may not be told about this cluster (their _CLUSTERS setting leaves it out)`;
    return { why: 'out-of-scope', reason };
  }
  const chosen = [...explicit].map((n) => deps.targets.get(n)!);
  for (const name of fromDefault) {
    if (explicit.has(name)) continue;
    const target = deps.targets.get(name)!;
    if (allows(target)) chosen.push(target);
    else log.warn(`${label}: default target ${name} skipped: its _CLUSTERS setting leaves this cluster out`);
  }
  if (chosen.length > 0) return chosen;
  return {
    why: 'no-target',
    reason:
      fromDefault.size > 0
        ? 'no notification target: every default target leaves this cluster out of its scope'
        : 'no notification target: the message names none and no default is configured',
  };
}
