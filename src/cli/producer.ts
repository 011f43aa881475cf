// The command queue as a producer sees it (`enqueue`, `run`): a queue URL with the caller's credential
// (--queue-url or COMMAND_QUEUE_URL, what the deployment outputs), or AzureWebJobsStorage and
// COMMAND_QUEUE_NAME. A producer holds only Storage Queue Data Message Sender: it sends, it never creates
// the queue (infra does), except on a local emulator that has none yet.
import type { TokenCredential } from '@azure/identity';
import { QueueClient, RestError } from '@azure/storage-queue';
import type { Env } from '../config';
import { loadQueueName, loadStorageConfig, parseQueueUrl } from '../settings/storage';
import { createQueueServiceClient } from '../queue/storage';

export interface ProducerQueue {
  name: string;
  send(text: string, delaySeconds?: number): Promise<void>;
}

export function openProducerQueue(env: Env, credential: () => TokenCredential, queueUrl?: string): ProducerQueue {
  const url = queueUrl ?? env.COMMAND_QUEUE_URL?.trim();
  let client: QueueClient;
  if (url) {
    // Checked before the credential is touched: the token goes only to a Storage queue of this cloud.
    const parsed = parseQueueUrl(queueUrl ? '--queue-url' : 'COMMAND_QUEUE_URL', url, env);
    client = new QueueClient(parsed.toString(), credential());
  } else {
    const storage = loadStorageConfig(env);
    client = createQueueServiceClient(storage, storage.connectionString ? undefined : credential()).getQueueClient(
      loadQueueName(env),
    );
  }
  return {
    name: client.name,
    async send(text, delaySeconds = 0) {
      const options = { visibilityTimeout: delaySeconds, messageTimeToLive: -1 };
      try {
        await client.sendMessage(text, options);
      } catch (err) {
        if (!(err instanceof RestError && err.statusCode === 404)) throw err;
        // No queue yet: only where nothing was deployed (a local emulator); in Azure infra creates it.
        await client.createIfNotExists();
        await client.sendMessage(text, options);
      }
    },
  };
}
