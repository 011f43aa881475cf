// Queue trigger on COMMAND_QUEUE_NAME: every message is one poll of one command's result.
import { app } from '@azure/functions';
import { DEFAULTS } from '../config';
import { pollCommandResult } from '../pipeline/queueHandler';

export { pollCommandResult };

app.storageQueue('pollCommandResult', {
  queueName: process.env.COMMAND_QUEUE_NAME?.trim() || DEFAULTS.COMMAND_QUEUE_NAME,
  connection: 'AzureWebJobsStorage',
  handler: pollCommandResult,
});
