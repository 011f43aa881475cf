// Builds and validates a message the function accepts, then writes it to the queue.
import { parsePollRequest, serializePollRequest, type PollRequest } from '../core/message';

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
    if (i <= 0) throw new Error(`--context takes key=value, got "${pair}"`);
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
