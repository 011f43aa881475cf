// The composition root: one credential, one ARM pipeline, one queue and table client per process.
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { createCommandResultReader } from './arm/commandResults';
import { loadConfig, secretsOf, type AppConfig, type Env } from './config';
import { createRedactor, type Log } from './log';
import { ReadBudget } from './core/readBudget';
import { TableDeliveryLedger } from './notify/ledger';
import { createNotifier, type Notifier } from './notify/notifier';
import type { PollDeps } from './pipeline/pollCommand';
import { CommandQueue, createQueueServiceClient, createTableClient } from './queue/storage';

export interface Runtime {
  config: AppConfig;
  deps: PollDeps;
  queue: CommandQueue;
  redact: (text: string) => string;
}

export function createCredential(config: Pick<AppConfig, 'azureClientId'>): TokenCredential {
  return new DefaultAzureCredential(config.azureClientId ? { managedIdentityClientId: config.azureClientId } : {});
}

export function createRuntime(env: Env = process.env, overrides: Partial<PollDeps> = {}): Runtime {
  const config = loadConfig(env);
  const credential = createCredential(config);
  const queue = CommandQueue.fromService(createQueueServiceClient(config.storage), config.queueName);
  const notifiers = new Map<string, Notifier>(
    config.targets.map((t) => [t.name, createNotifier(t, { armEndpoint: config.armEndpoint, timeoutMs: config.webhookTimeoutMs })]),
  );
  const deps: PollDeps = {
    schedule: { initialDelaySeconds: config.poll.initialDelaySeconds, maxDelaySeconds: config.poll.maxDelaySeconds },
    timeoutMinutes: config.poll.timeoutMinutes,
    arm: createCommandResultReader({
      endpoint: config.armEndpoint,
      scope: config.armScope,
      apiVersion: config.aksApiVersion,
      credential,
      timeoutMs: config.armTimeoutMs,
    }),
    queue: {
      send: (text, delay) => queue.send(text, delay),
      sendPoison: (original, reason) => queue.sendPoison(original, reason),
    },
    notifiers,
    defaultTargets: config.defaultTargets,
    ledger: new TableDeliveryLedger(createTableClient(config.storage, config.deliveryTableName)),
    webhookTimeoutMs: config.webhookTimeoutMs,
    readBudget: new ReadBudget(config.armReads),
    now: Date.now,
    random: Math.random,
    ...overrides,
  };
  const redact = createRedactor([...secretsOf(config), env.IDENTITY_HEADER, env.MSI_SECRET]);
  return { config, deps, queue, redact };
}

let shared: Runtime | undefined;

/** The process-wide runtime, built from process.env on first use. */
export function getRuntime(): Runtime {
  shared ??= createRuntime(process.env);
  return shared;
}

export type { Log };
