// Queue trigger on COMMAND_QUEUE_NAME: every message is one step of one command (a poll, or a delivery).
// The handler and its SDKs load on the first message, not at start-up: a cold instance registers in
// milliseconds (docs/performance.md).
import { app, type InvocationContext } from '@azure/functions';
import { DEFAULTS } from '../settings/defaults';

let bundle: Promise<typeof import('./bundle')> | undefined;

export async function trackCommand(message: unknown, context: InvocationContext): Promise<unknown> {
  bundle ??= import('./bundle');
  return (await bundle).trackCommand(message, context);
}

app.storageQueue('trackCommand', {
  queueName: process.env.COMMAND_QUEUE_NAME?.trim() || DEFAULTS.COMMAND_QUEUE_NAME,
  connection: 'AzureWebJobsStorage',
  handler: trackCommand,
});
