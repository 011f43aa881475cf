// The command queue and its poison queue, from AzureWebJobsStorage: a connection string (Azurite, keys) or an
// identity-based connection (…__queueServiceUri, …__clientId), like the Functions host reads it.
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import type { StorageConfig } from '../settings/storageConnection';

/** The storage identity when none is given: the user-assigned one the connection names, else the default chain. */
export function storageCredential(storage: StorageConfig): TokenCredential {
  return storage.clientId
    ? new ManagedIdentityCredential({ clientId: storage.clientId })
    : new DefaultAzureCredential();
}

export function createQueueServiceClient(storage: StorageConfig, credential?: TokenCredential): QueueServiceClient {
  if (storage.connectionString) return QueueServiceClient.fromConnectionString(storage.connectionString);
  return new QueueServiceClient(storage.queueServiceUri!, credential ?? storageCredential(storage));
}

export interface PoisonEnvelope {
  kind: 'aks-command-notifier/poison';
  reason: string;
  at: string;
  original: string;
}

/** The command queue and its poison queue, created on first use. */
export class CommandQueue {
  private created: Promise<unknown> | undefined;

  constructor(
    readonly main: QueueClient,
    readonly poison: QueueClient,
  ) {}

  static fromService(service: QueueServiceClient, queueName: string): CommandQueue {
    return new CommandQueue(service.getQueueClient(queueName), service.getQueueClient(`${queueName}-poison`));
  }

  ensureQueues(): Promise<unknown> {
    this.created ??= Promise.all([this.main.createIfNotExists(), this.poison.createIfNotExists()]).catch(
      (err: unknown) => {
        this.created = undefined;
        throw err;
      },
    );
    return this.created;
  }

  /** A message that must not expire: it is our only record of the command. */
  async send(text: string, visibilityTimeoutSeconds = 0): Promise<void> {
    await this.ensureQueues();
    await this.main.sendMessage(text, {
      visibilityTimeout: Math.max(0, Math.round(visibilityTimeoutSeconds)),
      messageTimeToLive: -1,
    });
  }

  async sendPoison(original: string, reason: string, now = new Date()): Promise<void> {
    await this.ensureQueues();
    const envelope: PoisonEnvelope = {
      kind: 'aks-command-notifier/poison',
      reason: reason.slice(0, 1024),
      at: now.toISOString(),
      original,
    };
    let text = JSON.stringify(envelope);
    // Queue messages hold 64 KB; keep the reason (≤ 1 KB), cut the copy of the original if we must.
    if (Buffer.byteLength(text, 'utf8') > 60 * 1024) {
      let keep = 40 * 1024;
      do {
        text = JSON.stringify({ ...envelope, original: original.slice(0, keep), truncated: true });
        keep = Math.floor(keep / 2);
      } while (Buffer.byteLength(text, 'utf8') > 60 * 1024);
    }
    await this.poison.sendMessage(text, { messageTimeToLive: -1 });
  }
}

export function parsePoisonEnvelope(text: string): PoisonEnvelope | undefined {
  try {
    const v = JSON.parse(text) as Partial<PoisonEnvelope>;
    return v && v.kind === 'aks-command-notifier/poison' && typeof v.original === 'string'
      ? (v as PoisonEnvelope)
      : undefined;
  } catch {
    return undefined;
  }
}
