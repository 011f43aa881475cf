// Timer: every five minutes, measure the command queue and the poison queue (metrics for the alerts).
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { MONITOR_SCHEDULE } from '../pipeline/queueMonitor';

let bundle: Promise<typeof import('./bundle')> | undefined;

export async function monitorQueue(_timer: Timer, context: InvocationContext): Promise<void> {
  bundle ??= import('./bundle');
  await (await bundle).monitorQueue(context);
}

app.timer('monitorQueue', { schedule: MONITOR_SCHEDULE, handler: monitorQueue });
