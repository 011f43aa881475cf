// Delivering a final report to every target a journey recorded, each at most once, side by side (a slow
// channel never holds back another): a command's result (deliver.ts) and a fleet run's summary
// (fleet/chain.ts) alike. Targets not done yet make the message come back when the first of them may be
// tried; past the delivery deadline the message goes to the poison queue with every target's last error.
import { formatDuration, type Outcome } from '../core/report';
import { deliveryDeadlineMs, deliveryRoundDelaySeconds, retryDelaySeconds } from '../core/schedule';
import type { Bookkeeping } from '../core/bookkeeping';
import { compose } from '../notify/compose';
import { deliverTarget, recordSentNote, type TargetResult } from '../delivery';
import { StoreRejectedError, StoreUnavailableError } from '../store/entityStore';
import type { CommandEntries, CommandState, TargetState } from '../store/ledgerRows';
import { telemetryOf, type Journey, type MessageOutcome } from './context';
import type { Report } from '../core/group';
import type { Target } from '../notify/provider';
import { deliveryContext } from './deliveryContext';
import { poison, requeue } from './requeue';

type Pending = Extract<TargetResult, { status: 'retry-later' }>;

/** What a journey delivers: each target's report, who may hear of it, and when it became final. */
export interface Delivery {
  finalAt: string;
  allows(target: Target): boolean;
  report(row: TargetState): Report;
}

/** Delivers the final report to every recorded target that still needs it (a command's, or a group's). */
export async function deliverAll(
  ctx: Journey,
  loaded: CommandEntries,
  initial: CommandState,
  what: Delivery,
): Promise<MessageOutcome> {
  const { deps, log, label, book } = ctx;
  let entries = loaded;
  let command = initial;

  // Posts the last round made but could not record: record them now, never post them again.
  for (const note of book.sent ?? []) {
    const row = entries.targets.find((t) => t.name === note.target);
    if (row && (await recordSentNote(deps.ledger, ctx.key, row, note))) {
      log.info(`${label}: target ${note.target}: recorded the delivery made at ${note.at}`);
    }
  }
  if (book.sent?.length) entries = await deps.ledger.load(ctx.key);

  const retryExpired = book.stage !== 'deliver';
  if (retryExpired && entries.targets.some((t) => t.state === 'failed' && t.failure === 'expired')) {
    // A message came back (redrive, a new copy) for targets that ran out of time: a fresh delivery window.
    const deliverBy = new Date(deliveryDeadlineMs(deps.now(), deps.delivery.timeoutHours)).toISOString();
    const renewed = await deps.ledger.writeCommand(ctx.key, command, { deliverBy });
    if (renewed) command = renewed;
  }
  const dctx = deliveryContext(ctx, retryExpired);
  let outcome: Outcome | undefined;
  const settled = await Promise.all(
    entries.targets.map(async (row): Promise<TargetResult | undefined> => {
      const target = deps.targets.get(row.name);
      if (!target || !what.allows(target)) {
        if (row.state === 'delivered' || row.state === 'skipped' || row.state === 'failed') return undefined;
        const why = !target
          ? 'the target is no longer configured'
          : "the target's _CLUSTERS setting leaves this cluster out";
        await deps.ledger.writeTarget(ctx.key, row, { state: 'failed', failure: 'permanent', lastError: why });
        log.error(`${label}: target ${row.name}: not delivered: ${why}`);
        return { target: row.name, status: 'failed', error: why };
      }
      const report = what.report(row);
      outcome = report.outcome;
      const outgoing = compose(report, dctx.armEndpoint);
      return deliverTarget(target, row, entries.serverNow, outgoing, dctx).catch((err: unknown): TargetResult => {
        if (err instanceof StoreRejectedError) {
          // A bug, not an outage: this target stops here, the others go on.
          log.error(
            `${label}: target ${row.name}: not delivered: ${err.message} (a bug: every stored field is bounded; please report it with this line)`,
          );
          return { target: row.name, status: 'failed', error: err.message };
        }
        // The ledger failed before a post or after a failed one (posts that succeed are covered by notes).
        if (!(err instanceof StoreUnavailableError)) throw err;
        const round = (book.round ?? 0) + 1;
        const waitMs = 1000 * retryDelaySeconds(dctx.policy, { round, random: deps.random() });
        return { target: row.name, status: 'retry-later', error: err.message, waitMs };
      });
    }),
  );
  const results = settled.filter((r): r is TargetResult => r !== undefined);
  recordTelemetry(ctx, results);
  const summary = results.map(describe).join(' ');
  const pending = results.filter((r): r is Pending => r.status === 'retry-later');
  if (pending.length === 0) {
    log.info(`${label}: ${outcome ?? command.outcome ?? 'final'}; ${summary || 'no targets'}`);
    return { kind: 'notified', outcome: outcome ?? 'error', results };
  }

  const deliverBy =
    Date.parse(command.deliverBy ?? '') || deliveryDeadlineMs(Date.parse(what.finalAt), deps.delivery.timeoutHours);
  if (deps.now() >= deliverBy) return expire(ctx, pending, what.finalAt);
  const delaySeconds = deliveryRoundDelaySeconds(dctx.policy, {
    waitsMs: pending.map((p) => p.waitMs),
    msToDeadline: deliverBy - deps.now(),
  });
  const sent = pending.flatMap((p) => (p.sent ? [p.sent] : []));
  const paceSlots = Object.fromEntries(pending.flatMap((p) => (p.slotAt ? [[p.target, p.slotAt] as const] : [])));
  const next: Bookkeeping = { ...withoutChain(book), stage: 'deliver', round: (book.round ?? 0) + 1 };
  await requeue(
    ctx,
    { ...next, ...(sent.length ? { sent } : {}), ...(Object.keys(paceSlots).length ? { paceSlots } : {}) },
    delaySeconds,
  );
  log.info(`${label}: ${outcome}; ${summary}; delivery continues in ${delaySeconds}s`);
  telemetryOf(deps).deferral('delivery');
  const reason = pending.map((p) => `${p.target}: ${p.error}`).join('; ');
  return { kind: 'deferred', ...(outcome ? { outcome } : {}), delaySeconds, results, reason };
}

/** Past the delivery deadline: every target still pending fails as expired, and the message is poisoned. */
async function expire(ctx: Journey, pending: Pending[], finalAt: string): Promise<MessageOutcome> {
  const { deps } = ctx;
  const waited = formatDuration((deps.now() - Date.parse(finalAt)) / 1000);
  const reasons: string[] = [];
  const latest = await deps.ledger.load(ctx.key);
  for (const p of pending) {
    reasons.push(`target ${p.target} not delivered after ${waited} (last error: ${p.error})`);
    const row = latest.targets.find((t) => t.name === p.target);
    if (row && row.state === 'pending') {
      await deps.ledger.writeTarget(ctx.key, row, { state: 'failed', failure: 'expired', lastError: p.error });
    }
  }
  return poison(ctx, 'delivery-deadline', `delivery deadline passed: ${reasons.join('; ')}`, ctx.label);
}

function recordTelemetry(ctx: Journey, results: TargetResult[]): void {
  for (const r of results) {
    if (r.status === 'skipped') continue;
    const form = r.status === 'delivered' ? r.form : undefined;
    const lagMs = r.status === 'delivered' ? r.lagMs : undefined;
    telemetryOf(ctx.deps).delivery(r.target, r.status, form, lagMs);
    ctx.meta.span?.delivery({
      target: r.target,
      status: r.status,
      ...(form ? { form } : {}),
      ...(lagMs !== undefined ? { lagMs } : {}),
    });
  }
}

function describe(r: TargetResult): string {
  if (r.status === 'skipped') return `${r.target}=skipped(${r.why})`;
  if (r.status === 'delivered' && r.form === 'minimal') return `${r.target}=delivered(minimal)`;
  return `${r.target}=${r.status}`;
}

/** A delivery round's message carries no poll-chain ETag and no notes of an earlier round. */
export function withoutChain(book: Bookkeeping): Bookkeeping {
  const { etag: _etag, sent: _sent, readSlotAt: _slot, dueAt: _due, paceSlots: _paced, ...rest } = book;
  return rest;
}
