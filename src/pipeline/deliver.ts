// The deliver stage of a command: its stored result goes to every target any copy of its message recorded
// (deliverAll.ts); a fleet member's result goes to its group's summary first (fleet/), and the targets the
// summary tells are not told again.
import { buildReport } from '../core/report';
import { retryDelaySeconds } from '../core/schedule';
import type { CommandEntries, CommandState } from '../store/ledgerRows';
import type { StoredResult } from '../store/results';
import { telemetryOf, type CommandContext, type MessageOutcome } from './context';
import { reportToGroup } from '../fleet';
import { reportSubject } from './deliveryContext';
import { deliverAll, withoutChain } from './deliverAll';
import { requeue } from './requeue';

/** Delivers the stored result to every recorded target that still needs it. */
export async function deliver(
  ctx: CommandContext,
  loaded: CommandEntries,
  command: CommandState,
  stored: StoredResult,
): Promise<MessageOutcome> {
  // A fleet member's result goes to its group's summary; the targets the summary tells are not told again.
  const grouped = await reportToGroup(ctx, loaded, stored);
  if (grouped.kind === 'wait') return deferForGroup(ctx, grouped.why);
  return deliverAll(ctx, grouped.entries, command, {
    finalAt: stored.finalAt,
    allows: (target) => target.scope.allows(ctx.clusterId),
    report: (row) => buildReport(reportSubject(ctx, row, stored.waitedSeconds), stored.answer),
  });
}

/** A member whose group is not recorded yet (or is settling): its delivery comes back shortly. */
async function deferForGroup(ctx: CommandContext, why: string): Promise<MessageOutcome> {
  const { deps, book } = ctx;
  const round = (book.round ?? 0) + 1;
  const delaySeconds = retryDelaySeconds(
    { maxDelaySeconds: deps.delivery.maxDelaySeconds },
    { round, random: deps.random() },
  );
  await requeue(ctx, { ...withoutChain(book), stage: 'deliver', round }, delaySeconds);
  ctx.log.info(`${ctx.label}: ${why}; its delivery comes back in ${delaySeconds}s`);
  telemetryOf(deps).deferral('delivery');
  return { kind: 'deferred', delaySeconds, results: [], reason: why };
}
