// What a journey hands the delivery of one report to one target (src/delivery/): the context it runs in
// (the ledger, clocks, pace and cooldowns, every line it logs naming the command), and the subject a
// command's report names for each target. The deliver stage, the live message and a fleet's chain use both.
import type { ReportSubject } from '../core/report';
import type { DeliveryContext } from '../delivery';
import type { Log } from '../log';
import type { TargetState } from '../store/ledgerRows';
import { telemetryOf, type CommandContext, type Journey } from './context';

/**
 * Each target shows the command and context of the copy that named it; a row the store refused to take them
 * for (it says so in the log) shows this copy's.
 */
export function reportSubject(ctx: CommandContext, row: TargetState, waitedSeconds: number): ReportSubject {
  const { command, context } = ctx.req;
  return {
    cluster: ctx.req.cluster,
    commandId: ctx.req.commandId,
    waitedSeconds,
    ...(row.command !== undefined ? { command: row.command } : command !== undefined ? { command } : {}),
    ...(row.context ? { context: row.context } : context ? { context } : {}),
  };
}

export function deliveryContext(ctx: Journey, retryExpired: boolean): DeliveryContext {
  const { deps, log, label } = ctx;
  // Every line a delivery writes names its command.
  const targetLog: Log = {
    info: (m) => log.info(`${label}: ${m}`),
    warn: (m) => log.warn(`${label}: ${m}`),
    error: (m) => log.error(`${label}: ${m}`),
  };
  return {
    ledger: deps.ledger,
    key: ctx.key,
    armEndpoint: deps.armEndpoint,
    sendTimeoutMs: deps.sendTimeoutMs,
    ledgerTimeoutMs: deps.ledgerTimeoutMs,
    policy: { maxDelaySeconds: deps.delivery.maxDelaySeconds },
    cooldowns: deps.cooldowns,
    pacer: deps.pacer,
    ...(ctx.book.paceSlots ? { paceSlots: ctx.book.paceSlots } : {}),
    onPaced: (target) => telemetryOf(deps).paceDeferral(target),
    ...(deps.appToken ? { appToken: deps.appToken } : {}),
    log: targetLog,
    now: deps.now,
    monotonic: deps.monotonic,
    random: deps.random,
    retryExpired,
  };
}
