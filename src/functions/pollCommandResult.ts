// Queue trigger on COMMAND_QUEUE_NAME: every message is one poll of one command's result.
// The handler and its SDKs load on the first message, not at start-up: a cold instance registers in
// milliseconds (see README, Performance).
import { app, type InvocationContext } from '@azure/functions';
import { DEFAULTS } from '../config';

let handler: Promise<typeof import('../pipeline/queueHandler')> | undefined;

export async function pollCommandResult(message: unknown, context: InvocationContext): Promise<unknown> {
  handler ??= import('../pipeline/queueHandler');
  return (await handler).pollCommandResult(message, context);
}

app.storageQueue('pollCommandResult', {
  queueName: process.env.COMMAND_QUEUE_NAME?.trim() || DEFAULTS.COMMAND_QUEUE_NAME,
  connection: 'AzureWebJobsStorage',
  handler: pollCommandResult,
});
