// Builds and validates a message the function accepts, then writes it to the queue; and the `enqueue`
// command line that sends a given message again (the hint `run` prints when its own send failed).
import { clusterResourceId } from '../core/cluster';
import { MessageError, parsePollRequest, serializePollRequest, type PollRequest } from '../core/message';

export interface EnqueueInput {
  cluster: string;
  commandId: string;
  command?: string;
  targets?: string[];
  context?: string[];
  groupId?: string;
}

export function buildMessage(input: EnqueueInput): { request: PollRequest; text: string } {
  const context: Record<string, string> = {};
  for (const pair of input.context ?? []) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new MessageError(`--context takes key=value, got "${pair}"`);
    context[pair.slice(0, i)] = pair.slice(i + 1);
  }
  const draft = {
    clusterResourceId: input.cluster,
    commandId: input.commandId,
    ...(input.command !== undefined ? { command: input.command } : {}),
    ...(input.targets && input.targets.length > 0 ? { targets: input.targets } : {}),
    ...(Object.keys(context).length > 0 ? { context } : {}),
    ...(input.groupId ? { groupId: input.groupId } : {}),
  };
  const request = parsePollRequest(draft);
  return { request, text: serializePollRequest(request) };
}

/** A word for a POSIX shell: as it is when it needs no quoting, else in single quotes. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The `enqueue` command that sends this tracking message again as it was — its group, targets, command and
 * context included — for a person to paste (`commandId` may be a placeholder such as "<command id>").
 */
export function enqueueCommandLine(req: PollRequest): string {
  const args = ['aks-command-notifier', 'enqueue', '--cluster', clusterResourceId(req.cluster)];
  args.push('--command-id', req.commandId);
  if (req.groupId) args.push('--group', req.groupId);
  for (const target of req.targets ?? []) args.push('--target', target);
  if (req.command !== undefined) args.push('--command', req.command);
  for (const [key, value] of Object.entries(req.context ?? {})) args.push('--context', `${key}=${value}`);
  return args.map(shellWord).join(' ');
}
