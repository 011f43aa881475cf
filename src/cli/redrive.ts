// `aks-command-notifier redrive`: after a fix, moves poison messages back to the command queue.
// Our own poison envelopes carry the original text; the host's poison messages are the original text.
import { parsePollRequest, serializePollRequest } from '../core/message';
import { parsePoisonEnvelope, type CommandQueue } from '../queue/storage';

export interface RedriveResult {
  moved: number;
  /** Reasons of the moved messages, as they were recorded. */
  reasons: string[];
}

/** Valid commands get a fresh deadline (their old one may have passed while they waited in poison). */
function originalFor(text: string): { original: string; reason: string } {
  const envelope = parsePoisonEnvelope(text);
  const original = envelope?.original ?? text;
  const reason = envelope?.reason ?? 'moved by the host after repeated failures';
  try {
    const { bookkeeping: _old, ...req } = parsePollRequest(original);
    return { original: serializePollRequest(req), reason };
  } catch {
    return { original, reason }; // still invalid: it will come back with the same reason
  }
}

export async function redrive(queue: CommandQueue, options: { max: number; dryRun: boolean; log: (line: string) => void }): Promise<RedriveResult> {
  await queue.ensureQueues();
  const result: RedriveResult = { moved: 0, reasons: [] };
  while (result.moved < options.max) {
    const batch = Math.min(32, options.max - result.moved);
    const messages = options.dryRun
      ? (await queue.poison.peekMessages({ numberOfMessages: batch })).peekedMessageItems.map((m) => ({ ...m, popReceipt: '' }))
      : (await queue.poison.receiveMessages({ numberOfMessages: batch, visibilityTimeout: 60 })).receivedMessageItems;
    if (messages.length === 0) break;
    for (const m of messages) {
      const { original, reason } = originalFor(m.messageText);
      options.log(`${options.dryRun ? 'would move' : 'moving'} ${m.messageId}: ${reason}`);
      if (!options.dryRun) {
        await queue.send(original);
        await queue.poison.deleteMessage(m.messageId, m.popReceipt);
      }
      result.moved++;
      result.reasons.push(reason);
    }
    if (options.dryRun) break;
  }
  return result;
}
