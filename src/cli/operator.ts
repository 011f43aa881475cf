// What the operator commands (status, redrive, redeliver) open: the queue, the ledger and the stored
// results, from the storage settings alone (no webhook URLs or ARM access needed), with the operator's
// own credential where the connection is identity-based.
import { loadStorageSettings, type Env, type StorageSettings } from '../config';
import { CommandQueue, createQueueServiceClient } from '../queue/commandQueue';
import { createLedger, createResultStore, storageCredential } from '../runtime';
import type { Ledger } from '../store/ledger';
import type { ResultStore } from '../store/results';

export interface OperatorStores {
  settings: StorageSettings;
  queue: CommandQueue;
  ledger: Ledger;
  results: ResultStore;
}

export function openOperatorStores(env: Env = process.env): OperatorStores {
  const settings = loadStorageSettings(env);
  const credential = settings.storage.connectionString ? undefined : storageCredential(settings);
  return {
    settings,
    queue: CommandQueue.fromService(createQueueServiceClient(settings.storage, credential), settings.queueName),
    ledger: createLedger(settings, credential),
    results: createResultStore(settings, credential),
  };
}
