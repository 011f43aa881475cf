// The store stage: ARM gave a final answer (or the deadline came). The answer is stored (results/) and the
// command marked final in the ledger; final is absorbing, so whoever marks it, every copy from now on only
// delivers from the stored result.
import type { FinalAnswer } from '../core/report';
import { deliveryDeadlineMs } from '../core/schedule';
import { StoreUnavailableError } from '../store/entityStore';
import { RESULT_VERSION, type StoredResult } from '../store/results';
import { telemetryOf, type CommandContext, type MessageOutcome } from './context';
import { deliver } from './deliver';

export async function storeFinal(
  ctx: CommandContext,
  answer: FinalAnswer,
  waitedSeconds: number,
): Promise<MessageOutcome> {
  const { deps, req } = ctx;
  const finalAt = new Date(deps.now()).toISOString();
  const stored: StoredResult = {
    v: RESULT_VERSION,
    clusterResourceId: ctx.clusterId,
    commandId: req.commandId,
    firstSeenAt: new Date(ctx.firstSeenMs).toISOString(),
    finalAt,
    waitedSeconds,
    answer,
  };
  await deps.results.put(ctx.key, stored);
  const outcome = answer.kind === 'finished' ? answer.result.provisioningState : answer.kind;
  let entries = await deps.ledger.load(ctx.key);
  for (let i = 0; i < 3 && entries.command && entries.command.stage !== 'final'; i++) {
    const marked = await deps.ledger.writeCommand(ctx.key, entries.command, {
      stage: 'final',
      finalAt,
      deliverBy: new Date(deliveryDeadlineMs(deps.now(), deps.delivery.timeoutHours)).toISOString(),
      outcome,
      gen: entries.command.gen + 1,
    });
    if (marked) telemetryOf(deps).commandFinished(answer.kind === 'finished' ? outcome.toLowerCase() : outcome);
    entries = marked ? { ...entries, command: marked } : await deps.ledger.load(ctx.key);
  }
  if (!entries.command) throw new StoreUnavailableError('the command row vanished before the result was marked final');
  return deliver(ctx, entries, entries.command, stored);
}
