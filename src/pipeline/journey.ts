// One queue message, one decision: the stages of its journey, composed top to bottom.
//
//   accept   parse the message, route it to its targets, or poison it with the reason   (accept.ts)
//            (a fleet run's declaration, its members' starts and their results go to the fleet: fleet/;
//            a producer's probe is dropped, a doctor run answered in the ledger: doctor.ts)
//   poll     one poll chain per command; ask ARM within the read budget; re-enqueue     (poll.ts)
//            with a delay while the command runs, posting live messages the first time (announce.ts)
//   store    a final answer is stored and the command marked final                (storeFinal.ts)
//   deliver  to every target any copy recorded, each at most once, until the deadline  (deliver.ts,
//            deliverAll.ts; one target: src/delivery/)
//   requeue  re-enqueue with a delay, poison with a reason, wait out a store outage     (requeue.ts)
//
// The host's retries are left for what this code cannot decide: a queue that refuses the re-enqueue.
import type { Log } from '../log';
import { accept, parse } from './accept';
import { handleGroupMessage, joinGroup } from '../fleet';
import type { MessageMeta, MessageOutcome, PipelineDeps } from './context';
import { deliver } from './deliver';
import { dropProbe, handleDoctor } from './doctor';
import { joinChain, poll, pollAgain, pollFrom } from './poll';
import { endOnStoreError } from './requeue';

export async function handleCommandMessage(
  raw: unknown,
  meta: MessageMeta,
  deps: PipelineDeps,
  log: Log,
): Promise<MessageOutcome> {
  const message = await parse(raw, meta, deps, log);
  if (!('req' in message)) return message;
  if (message.kind === 'probe') return dropProbe(message.req, log);
  if (message.kind === 'doctor') return handleDoctor(message.req, raw, meta, deps, log);
  if (message.kind !== 'command') return handleGroupMessage(message, raw, meta, deps, log);
  const ctx = await accept(message.req, raw, meta, deps, log);
  if ('kind' in ctx) return ctx;
  const { book } = ctx;
  try {
    // A fleet member says, at its first polls, that its command is tracked (not "start unknown").
    if (book.stage !== 'deliver') await joinGroup(ctx);
    // The fast path of a live poll chain: one conditional write proves this message is the chain's newest.
    if (book.stage !== 'deliver' && book.etag && book.gen !== undefined) {
      const stepped = await poll(ctx, { etag: book.etag, gen: book.gen }, true);
      if (stepped) return stepped;
    }
    const joined = await joinChain(ctx);
    if ('kind' in joined) return joined;
    if (joined.command.stage === 'final') {
      const stored = await deps.results.get(ctx.key);
      if (stored) return await deliver(ctx, joined.entries, joined.command, stored);
      // A final mark without a stored result (a retention sweep, a lost write): poll ARM again.
      return await pollAgain(ctx, joined.command);
    }
    return await pollFrom(ctx, joined.command);
  } catch (err) {
    return endOnStoreError(ctx, err);
  }
}
