// Queue trigger on COMMAND_QUEUE_NAME: every message is one step of one command (a poll, or a delivery).
// The handler and its SDKs load on the first message, not at start-up: a cold instance registers in
// milliseconds (see README, Performance).
import { app, type InvocationContext } from '@azure/functions';
import { DEFAULTS } from '../config';

let handlers: Promise<typeof import('../pipeline/handlers')> | undefined;

export async function pollCommandResult(message: unknown, context: InvocationContext): Promise<unknown> {
  handlers ??= import('../pipeline/handlers');
  return (await handlers).pollCommandResult(message, context);
}

app.storageQueue('pollCommandResult', {
  queueName: process.env.COMMAND_QUEUE_NAME?.trim() || DEFAULTS.COMMAND_QUEUE_NAME,
  connection: 'AzureWebJobsStorage',
  handler: pollCommandResult,
});
