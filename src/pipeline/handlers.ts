// Everything the function app runs, behind one lazily loaded bundle (dist/function/handler.js): the
// registrations in src/functions load it on their first invocation, so a cold start only registers.
import type { InvocationContext } from '@azure/functions';
import { redactingLog } from '../log';
import { getRuntime } from '../runtime';
import { sweepOld } from './retention';

export { pollCommandResult } from './queueHandler';

export async function cleanLedger(context: InvocationContext): Promise<void> {
  const rt = getRuntime();
  const log = redactingLog({ info: (m) => context.log(m), warn: (m) => context.warn(m), error: (m) => context.error(m) }, rt.redact);
  await sweepOld(rt.ledger.store, rt.deps.results, rt.config.retentionDays, Date.now(), log);
}
