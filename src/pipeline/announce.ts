// The live-message hook of the poll stage: the first poll that sees the command running delivers the
// running report to this message's targets whose provider keeps a live message, through the same
// delivery path as the result (which later updates that message); a fleet member's targets that its group
// tells have the group's live message instead. Never fails the poll.
import { runningReport } from '../core/report';
import { compose } from '../notify/compose';
import { deliverTarget } from '../delivery';
import { wants } from '../notify/provider';
import { StoreRejectedError, StoreUnavailableError } from '../store/entityStore';
import type { CommandContext } from './context';
import { deliveryContext, reportSubject } from './deliveryContext';
import { toldByGroup } from '../fleet';

/** True when nothing is left to do: each such target has its message, or cannot have one; false: try at the next poll. */
export async function announceRunning(ctx: CommandContext, provisioningState: string): Promise<boolean> {
  const { deps, log, label } = ctx;
  const candidates = ctx.targets.filter((t) => t.provider.liveMessage && wants(t, false));
  if (candidates.length === 0) return false;
  try {
    // A fleet member's live message is its group's (unless the target asks for each member too).
    const told = await toldByGroup(ctx);
    const live = candidates.filter((t) => !told(t));
    if (live.length === 0) return true;
    const entries = await deps.ledger.load(ctx.key);
    const since = new Date(ctx.firstSeenMs).toISOString();
    const dctx = deliveryContext(ctx, false);
    const settled = await Promise.all(
      live.map(async (target) => {
        const row = entries.targets.find((t) => t.name === target.name);
        if (!row) return false;
        const report = runningReport(reportSubject(ctx, row, 0), provisioningState, since);
        const outgoing = compose(report, dctx.armEndpoint);
        const result = await deliverTarget(target, row, entries.serverNow, outgoing, dctx);
        if (result.status === 'posted') log.info(`${label}: target ${target.name}: running message posted`);
        return result.status !== 'retry-later';
      }),
    );
    return settled.every(Boolean);
  } catch (err) {
    if (err instanceof StoreRejectedError) {
      log.error(`${label}: running message not posted: ${err.message}; the result will still be delivered`);
      return true;
    }
    if (!(err instanceof StoreUnavailableError)) throw err;
    log.warn(`${label}: running message not posted: ${err.message}; trying again at the next poll`);
    return false;
  }
}
