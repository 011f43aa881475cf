// The word that a fleet member could not be started (or that its start is unknown), from the CLI: recorded in
// the member's row while no tracking message has come. A tracking message always wins over it (member.ts),
// and a word that comes after one is refused.
import { notStartedLine } from '../core/group';
import { serializeNotStarted, type NotStartedRequest } from '../core/groupMessage';
import { groupJoinGiveUpMs, retryDelaySeconds } from '../core/schedule';
import type { Log } from '../log';
import { StoreUnavailableError } from '../store/entityStore';
import { groupKey } from '../store/ledgerRows';
import { memberRowKey } from '../store/memberRows';
import {
  messageWindow,
  type Journey,
  type MessageMeta,
  type MessageOutcome,
  type PipelineDeps,
} from '../pipeline/context';
import { isDeclared } from './summary';
import { deferForStore, poison, requeue } from '../pipeline/requeue';

/** A member the CLI could not start (or whose start is unknown): recorded in its row, once, unless it has a command. */
export async function recordNotStarted(
  req: NotStartedRequest,
  raw: unknown,
  meta: MessageMeta,
  deps: PipelineDeps,
  log: Log,
): Promise<MessageOutcome> {
  const label = `group ${req.groupId}: ${req.cluster.resourceName}`;
  const key = groupKey(req.groupId);
  const book = req.bookkeeping ?? { attempt: 0 };
  const { firstSeenMs, deadlineMs } = messageWindow(deps, meta, book);
  const ctx: Journey = {
    raw,
    meta,
    deps,
    log,
    label,
    key,
    targets: [],
    book,
    firstSeenMs,
    deadlineMs,
    serialize: (bookkeeping) => serializeNotStarted({ ...req, bookkeeping }),
  };
  try {
    for (let look = 0; look < 3; look++) {
      const group = await deps.ledger.load(key);
      if (!isDeclared(group.command)) {
        if (deps.now() >= groupJoinGiveUpMs(firstSeenMs, deps.timeoutMinutes))
          return poison(
            ctx,
            'invalid-message',
            `group ${req.groupId} was never recorded (its declaration did not come)`,
            label,
          );
        const round = (book.round ?? 0) + 1;
        const delaySeconds = retryDelaySeconds(
          { maxDelaySeconds: deps.delivery.maxDelaySeconds },
          { round, random: deps.random() },
        );
        await requeue(ctx, { ...book, round }, delaySeconds);
        return {
          kind: 'deferred',
          delaySeconds,
          results: [],
          reason: `waiting for group ${req.groupId} to be recorded`,
        };
      }
      const row = group.members.find((m) => m.rowKey === memberRowKey(req.cluster));
      if (!row) return poison(ctx, 'invalid-message', `group ${req.groupId} does not list this cluster`, label);
      // A tracking message came for this member: its command is what the group shows, whatever this says.
      if (row.commandId !== undefined)
        return poison(
          ctx,
          'contradicts-ledger',
          `group ${req.groupId} tracks command ${row.commandId} on this cluster: the word that it did not start is refused`,
          label,
        );
      if (row.state !== 'planned') {
        log.info(`${label}: already ${row.state}; a second word that it was not started changes nothing`);
        return { kind: 'recorded', reason: `member already ${row.state}` };
      }
      const error = notStartedLine(req.reason);
      // Conditional: a tracking message that lands meanwhile wins (the next round finds its command id).
      const written = await deps.ledger.writeMember(key, row, {
        state: 'notStarted',
        outcome: req.outcome,
        ...(error ? { error } : {}),
      });
      if (!written) continue;
      log.info(`${label}: recorded as ${req.outcome === 'couldNotStart' ? 'could not start' : 'start unknown'}`);
      return { kind: 'recorded', reason: req.outcome };
    }
    throw new StoreUnavailableError('the member row kept changing while its start was recorded');
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    return deferForStore(ctx, err);
  }
}
