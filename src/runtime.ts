// The composition root: one credential, one ARM pipeline, one queue, table and blob client per process.
import { performance } from 'node:perf_hooks';
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { createCommandResultReader } from './arm/commandResults';
import { loadConfig, secretsOf, type AppConfig, type Env, type StorageSettings } from './config';
import { createRedactor } from './log';
import { Cooldowns } from './delivery';
import type { Target } from './notify/provider';
import type { PipelineDeps } from './pipeline/context';
import { CommandQueue, createQueueServiceClient } from './queue/commandQueue';
import { createTableClient } from './store/tableClient';
import { TableEntityStore } from './store/entityStore';
import { SharedBudget } from './store/sharedBudget';
import { Ledger } from './store/ledger';
import { BlobResultStore } from './store/results';
import { metrics, trace } from '@opentelemetry/api';
import { createTelemetry } from './telemetry/telemetry';

export interface Runtime {
  config: AppConfig;
  deps: PipelineDeps;
  queue: CommandQueue;
  ledger: Ledger;
  redact: (text: string) => string;
}

/** Bound of one ledger call, retries included. */
const LEDGER_TIMEOUT_MS = 5000;

export function createCredential(config: Pick<AppConfig, 'azureClientId'>): TokenCredential {
  return new DefaultAzureCredential(config.azureClientId ? { managedIdentityClientId: config.azureClientId } : {});
}

/** The storage identity: the app's user-assigned identity in Azure, an operator's own login elsewhere. */
export function storageCredential(config: StorageSettings): TokenCredential {
  return config.storage.clientId
    ? new ManagedIdentityCredential({ clientId: config.storage.clientId })
    : createCredential(config);
}

export function createLedger(config: StorageSettings, credential?: TokenCredential): Ledger {
  return new Ledger(
    new TableEntityStore(createTableClient(config.storage, config.deliveryTableName, credential), LEDGER_TIMEOUT_MS),
  );
}

export function createResultStore(config: StorageSettings, credential?: TokenCredential): BlobResultStore {
  return config.storage.connectionString
    ? BlobResultStore.fromConnectionString(config.storage.connectionString, config.resultContainerName)
    : BlobResultStore.fromServiceUri(
        config.storage.blobServiceUri!,
        credential ?? storageCredential(config),
        config.resultContainerName,
      );
}

export function createRuntime(env: Env = process.env, overrides: Partial<PipelineDeps> = {}): Runtime {
  const config = loadConfig(env);
  const credential = createCredential(config);
  const storageCred = config.storage.connectionString ? undefined : storageCredential(config);
  const queue = CommandQueue.fromService(createQueueServiceClient(config.storage, storageCred), config.queueName);
  const ledger = createLedger(config, storageCred);
  const monotonic = () => performance.now();
  const telemetry = createTelemetry(metrics.getMeter('aks-command-notifier'), trace.getTracer('aks-command-notifier'));
  // The app's budgets, shared by every instance through rows of the ledger's table.
  const budget = (prefix: string, rate?: AppConfig['armReads']) =>
    new SharedBudget(ledger.store, {
      queueName: config.queueName,
      prefix,
      ...(rate ? { rate } : {}),
      maxInstances: config.maxInstances,
      now: Date.now,
      monotonic,
      onLease: (event, slots) => telemetry.budgetLease(event, slots),
    });
  const deps: PipelineDeps = {
    schedule: { initialDelaySeconds: config.poll.initialDelaySeconds, maxDelaySeconds: config.poll.maxDelaySeconds },
    timeoutMinutes: config.poll.timeoutMinutes,
    delivery: config.delivery,
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
    targets: new Map<string, Target>(config.targets.map((t) => [t.name, t])),
    defaultTargets: config.defaultTargets,
    ledger,
    ledgerTimeoutMs: LEDGER_TIMEOUT_MS,
    results: createResultStore(config, storageCred),
    armEndpoint: config.armEndpoint,
    sendTimeoutMs: config.webhookTimeoutMs,
    cooldowns: new Cooldowns(monotonic),
    pacer: budget('pace.'),
    readBudget: budget('arm.', config.armReads),
    appToken: (audience) => appToken(credential, audience, config.armEndpoint),
    // Through the global providers: the SDK behind them (if any) is set up before the runtime is built.
    telemetry,
    now: Date.now,
    monotonic,
    random: Math.random,
    ...overrides,
  };
  const redact = createRedactor([...secretsOf(config), env.IDENTITY_HEADER, env.MSI_SECRET]);
  return { config, deps, queue, ledger, redact };
}

/** The app's own resources: a channel's token is never one of theirs (the identity holds roles on them). */
const OWN_AUDIENCES = [/^https:\/\/management\./i, /^https:\/\/[^/]*storage\./i, /^https:\/\/[^/]*vault\./i];

async function appToken(credential: TokenCredential, audience: string, armEndpoint: string): Promise<string> {
  const origin = audience.replace(/\/+$/, '');
  if (origin === armEndpoint || OWN_AUDIENCES.some((r) => r.test(origin))) {
    throw new Error(`${origin} is one of the app's own resources, not a channel's service`);
  }
  const token = await credential.getToken(`${origin}/.default`);
  if (!token) throw new Error(`no token for ${origin} from the app's identity`);
  return token.token;
}

let shared: Runtime | undefined;

/** The process-wide runtime, built from process.env on first use. */
export function getRuntime(): Runtime {
  shared ??= createRuntime(process.env);
  return shared;
}
