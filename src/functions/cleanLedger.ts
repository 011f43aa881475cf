// Timer: once a day, delete ledger rows and stored results older than LEDGER_RETENTION_DAYS.
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { RETENTION_SCHEDULE } from '../pipeline/retention';

let bundle: Promise<typeof import('./bundle')> | undefined;

export async function cleanLedger(_timer: Timer, context: InvocationContext): Promise<void> {
  bundle ??= import('./bundle');
  await (await bundle).cleanLedger(context);
}

app.timer('cleanLedger', { schedule: RETENTION_SCHEDULE, handler: cleanLedger });
