// `aks-command-notifier redrive`: after a fix, moves poison messages back to the command queue.
// Our own poison envelopes carry the original text; the host's poison messages are the original text.
// A message older than the ledger's retention is refused (unless --force): its delivery records are gone,
// so it would be announced again to targets that already had it.
import { escapeForLog } from '../core/text';
import { parsePollRequest, serializePollRequest } from '../core/message';
import { readBookkeeping } from '../core/bookkeeping';
import { parsePoisonEnvelope, type CommandQueue } from '../queue/commandQueue';

export interface RedriveResult {
  moved: number;
  /** Reasons of the moved messages, as they were recorded. */
  reasons: string[];
  /** Left in the poison queue: older than the retention. */
  refused: number;
}

export interface RedriveOptions {
  max: number;
  dryRun: boolean;
  /** LEDGER_RETENTION_DAYS: messages older than this are refused without `force`. */
  retentionDays: number;
  force?: boolean;
  now?: number;
  log: (line: string) => void;
}

/** The original message without our bookkeeping, its recorded reason, and when it was first seen. */
function originalFor(text: string, insertedOn: Date | undefined): { original: string; reason: string; bornMs: number } {
  const envelope = parsePoisonEnvelope(text);
  const original = envelope?.original ?? text;
  // Printed to a terminal: one line, controls and bidi controls escaped, as in a log line.
  const reason =
    envelope?.reason !== undefined ? escapeForLog(envelope.reason, 1024) : 'moved by the host after repeated failures';
  const times = [envelope?.at, insertedOn?.toISOString()];
  try {
    const json = JSON.parse(original) as { _notifier?: unknown };
    times.push(readBookkeeping(json._notifier)?.firstSeenAt);
  } catch {
    /* not JSON */
  }
  const bornMs = Math.min(...times.map((t) => (t ? Date.parse(t) : Number.NaN)).filter((t) => !Number.isNaN(t)));
  try {
    const { bookkeeping: _old, ...req } = parsePollRequest(original);
    return { original: serializePollRequest(req), reason, bornMs };
  } catch {
    return { original, reason, bornMs }; // still invalid: it will come back with the same reason
  }
}

export async function redrive(queue: CommandQueue, options: RedriveOptions): Promise<RedriveResult> {
  await queue.ensureQueues();
  const result: RedriveResult = { moved: 0, reasons: [], refused: 0 };
  const now = options.now ?? Date.now();
  const oldest = now - options.retentionDays * 24 * 3600_000;
  const seen = new Set<string>();
  while (result.moved + result.refused < options.max) {
    const batch = Math.min(32, options.max - result.moved - result.refused);
    const messages = options.dryRun
      ? (await queue.poison.peekMessages({ numberOfMessages: batch })).peekedMessageItems.map((m) => ({
          ...m,
          popReceipt: '',
        }))
      : (await queue.poison.receiveMessages({ numberOfMessages: batch, visibilityTimeout: 60 })).receivedMessageItems;
    const fresh = messages.filter((m) => !seen.has(m.messageId));
    // Ones refused earlier came round again: put them back as they were.
    if (!options.dryRun)
      await Promise.all(
        messages
          .filter((m) => seen.has(m.messageId))
          .map((m) => queue.poison.updateMessage(m.messageId, m.popReceipt, undefined, 0)),
      );
    if (fresh.length === 0) break;
    for (const m of fresh) {
      seen.add(m.messageId);
      const { original, reason, bornMs } = originalFor(m.messageText, m.insertedOn);
      if (bornMs < oldest && !options.force) {
        options.log(
          `refusing ${m.messageId}: first seen ${new Date(bornMs).toISOString()}, older than the ledger's retention (${options.retentionDays} days): its delivery records are gone and it would be announced again; --force moves it anyway`,
        );
        result.refused++;
        // Leave it where it was, visible as before.
        if (!options.dryRun) await queue.poison.updateMessage(m.messageId, m.popReceipt, undefined, 0);
        continue;
      }
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
