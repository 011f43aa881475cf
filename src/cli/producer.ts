// The command queue as a producer sees it (`enqueue`, `run`, `doctor`): a queue URL with the caller's
// credential (--queue-url or COMMAND_QUEUE_URL, what the deployment outputs), or AzureWebJobsStorage and
// COMMAND_QUEUE_NAME. A producer holds only Storage Queue Data Message Sender: it sends, it never creates
// the queue (infra does), except on a local emulator that has none yet. A refused send names the role to
// assign and where; a missing login is summarised as everywhere in the CLI (credentials.ts).
import type { TokenCredential } from '@azure/identity';
import { QueueClient, RestError } from '@azure/storage-queue';
import type { Env } from '../config';
import { isLoopbackHost } from '../core/settingUrls';
import { loadQueueName, loadStorageConfig, parseQueueUrl } from '../settings/storageConnection';
import { createQueueServiceClient } from '../queue/commandQueue';
import { describeNoCredential, isNoCredential } from './credentials';

const SENDER_ROLE = 'Storage Queue Data Message Sender';

export interface ProducerQueue {
  name: string;
  /** The storage account, when the queue is reached by URL (for the role's scope). */
  account?: string;
  /** `ttlSeconds`: how long it may wait to be read (default: for ever, as a command's tracking must). */
  send(text: string, delaySeconds?: number, ttlSeconds?: number): Promise<void>;
  /** The queue's (or its poison queue's) visible messages, up to 32 (a reader's role: Queue Data Reader or Contributor). */
  peek(which?: 'queue' | 'poison'): Promise<{ text: string; dequeueCount: number }[]>;
  /** About how many messages the queue holds. */
  depth(): Promise<number>;
}

export function openProducerQueue(env: Env, credential: () => TokenCredential, queueUrl?: string): ProducerQueue {
  const url = queueUrl ?? env.COMMAND_QUEUE_URL?.trim();
  let client: QueueClient;
  let poison: () => QueueClient;
  let account: string | undefined;
  if (url) {
    // Checked before the credential is touched: the token goes only to a Storage queue of this cloud.
    const parsed = parseQueueUrl(queueUrl ? '--queue-url' : 'COMMAND_QUEUE_URL', url, env);
    client = new QueueClient(parsed.toString(), credential());
    const poisonUrl = new URL(parsed.toString());
    poisonUrl.pathname = `${poisonUrl.pathname.replace(/\/+$/, '')}-poison`;
    poison = () => new QueueClient(poisonUrl.toString(), credential());
    account = /^([a-z0-9]{3,24})\.queue\./.exec(parsed.hostname)?.[1];
  } else {
    const storage = loadStorageConfig(env);
    const service = createQueueServiceClient(storage, storage.connectionString ? undefined : credential());
    client = service.getQueueClient(loadQueueName(env));
    poison = () => service.getQueueClient(`${client.name}-poison`);
    account = client.accountName || undefined;
  }
  return {
    name: client.name,
    ...(account ? { account } : {}),
    async send(text, delaySeconds = 0, ttlSeconds = -1) {
      const options = { visibilityTimeout: delaySeconds, messageTimeToLive: ttlSeconds };
      try {
        await client.sendMessage(text, options);
      } catch (err) {
        if (!(err instanceof RestError && err.statusCode === 404) || !isLoopbackHost(new URL(client.url).hostname))
          throw err;
        // No queue yet: only on a local emulator, where nothing was deployed; in Azure infra creates it, and a
        // mistyped queue name is an error, not a new queue.
        await client.createIfNotExists();
        await client.sendMessage(text, options);
      }
    },
    async peek(which = 'queue') {
      const q = which === 'queue' ? client : poison();
      const r = await q.peekMessages({ numberOfMessages: 32 });
      return r.peekedMessageItems.map((m) => ({ text: m.messageText, dequeueCount: m.dequeueCount }));
    },
    async depth() {
      return (await client.getProperties()).approximateMessagesCount ?? 0;
    },
  };
}

/**
 * The resource id a role for this queue is assigned at: exact when the subscription and resource group
 * are known (azd's AZURE_SUBSCRIPTION_ID and AZURE_RESOURCE_GROUP), else with the account's id to look up.
 */
function queueScope(queue: Pick<ProducerQueue, 'name' | 'account'>, env: Env): string {
  return `${storageAccountScope(queue.account ?? '<storage account>', env)}/queueServices/default/queues/${queue.name}`;
}

/** A storage account's resource id, or the `az` command that prints it when the resource group is not known. */
export function storageAccountScope(account: string, env: Env): string {
  const sub = env.AZURE_SUBSCRIPTION_ID?.trim();
  const rg = env.AZURE_RESOURCE_GROUP?.trim();
  return sub && rg
    ? `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Storage/storageAccounts/${account}`
    : `$(az storage account show --name ${account} --query id -o tsv)`;
}

/** Why a send failed, and what to do: a 403 names the role and the scope; a missing login is summarised. */
export function explainSendFailure(err: unknown, queue: Pick<ProducerQueue, 'name' | 'account'>, env: Env): string {
  if (isNoCredential(err)) return describeNoCredential(err);
  const status = err instanceof RestError ? err.statusCode : (err as { statusCode?: number }).statusCode;
  const code = (err as { code?: string }).code;
  if (status === 403) {
    return `the queue ${queue.name}${queue.account ? ` (storage account ${queue.account})` : ''} refused you (403${code ? ` ${code}` : ''}): sending needs the role ${SENDER_ROLE} on the queue. Assign it: az role assignment create --role "${SENDER_ROLE}" --assignee <your user or principal> --scope "${queueScope(queue, env)}" (or list your id in PRODUCER_PRINCIPAL_IDS and run azd provision); a new assignment takes a few minutes to apply`;
  }
  return `${(err as Error).message?.split('\n')[0] ?? String(err)}`;
}
