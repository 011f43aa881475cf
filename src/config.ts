// The app's configuration, validated once at start-up: the app's own settings (settings/defaults.ts), its
// storage (settings/storageConnection.ts) and its notification targets (settings/targets.ts, each read by its
// channel's provider). What operator tools and the caller-side commands need is loaded on its own.
// zod/mini: the tree-shakable build, so that the start-up path stays small (docs/performance.md).
import * as z from 'zod/mini';
import type { Target } from './notify/provider';
import { PROVIDERS } from './notify/registry';
import { settingNames } from './settings/catalog';
import { DEFAULTS, RANGES, WHOLE_NUMBERS } from './settings/defaults';
import { ConfigError, parseHttpsUrl } from './core/settingUrls';
import { numberIn, optional, read, type Env } from './settings/rules';
import { loadStorageConfig, loadQueueName, type StorageConfig } from './settings/storageConnection';
import { loadTargets } from './settings/targets';

export { DEFAULTS, RANGES } from './settings/defaults';
export { ConfigError } from './core/settingUrls';
export type { Env } from './settings/rules';

export interface AppConfig extends StorageSettings {
  armEndpoint: string;
  armScope: string;
  aksApiVersion: string;
  poll: { initialDelaySeconds: number; maxDelaySeconds: number; timeoutMinutes: number };
  armTimeoutMs: number;
  webhookTimeoutMs: number;
  /** Client-side share of ARM's read throttling, per subscription and process. */
  armReads: { perSecond: number; burst: number };
  /** The most instances infra lets run: an instance that cannot reach the shared budgets keeps to 1/this of each rate. */
  maxInstances: number;
  targets: Target[];
  defaultTargets: string[];
}

const KEY_VAULT_REFERENCE = /^\s*@Microsoft\.KeyVault\(/i;

const tableName = z
  .string()
  .check(z.regex(/^[A-Za-z][A-Za-z0-9]{2,62}$/, 'must be 3-63 letters or digits, starting with a letter'));
const containerName = z
  .string()
  .check(
    z.regex(/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/, 'must be 3-63 lowercase letters, digits or single hyphens'),
  );
const apiVersion = z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, 'must look like 2024-09-01'));

function readNumber(env: Env, name: keyof typeof RANGES): number {
  const [min, max] = RANGES[name];
  return read(env, name, numberIn(min, max, WHOLE_NUMBERS.has(name)), DEFAULTS[name]);
}

/** Settings this app reads (other apps' settings in the same environment are not ours to judge). */
function isOwnSetting(name: string): boolean {
  return settingNames().includes(name) || name.startsWith('NOTIFY_TARGET_') || name.startsWith('AzureWebJobsStorage__');
}

/** Unresolved Key Vault references arrive as their literal text: say which setting, never its value. */
function assertNoUnresolvedKeyVaultReferences(env: Env): void {
  for (const [name, value] of Object.entries(env)) {
    if (!isOwnSetting(name)) continue;
    if (value !== undefined && KEY_VAULT_REFERENCE.test(value)) {
      throw new ConfigError(
        name,
        'is an unresolved Key Vault reference: check that the secret exists, that keyVaultReferenceIdentity is set and that the identity has "Key Vault Secrets User" on the vault',
      );
    }
  }
}

/** ARM's token scope: known clouds by name, anything else (a stand-in, a private cloud) by its origin. */
export function scopeForArmEndpoint(endpoint: string): string {
  return `${new URL(endpoint).origin}/.default`;
}

/** What operator tools (status, redrive, redeliver) need: storage and its names, no targets, no ARM. */
export interface StorageSettings {
  storage: StorageConfig;
  queueName: string;
  poisonQueueName: string;
  deliveryTableName: string;
  resultContainerName: string;
  retentionDays: number;
  delivery: { timeoutHours: number; maxDelaySeconds: number };
  azureClientId?: string;
}

export function loadStorageSettings(env: Env = process.env): StorageSettings {
  const queue = loadQueueName(env);
  const azureClientId = optional(env, 'AZURE_CLIENT_ID');
  return {
    storage: loadStorageConfig(env),
    queueName: queue,
    poisonQueueName: `${queue}-poison`,
    deliveryTableName: read(env, 'DELIVERY_TABLE_NAME', tableName, DEFAULTS.DELIVERY_TABLE_NAME),
    resultContainerName: read(env, 'RESULT_CONTAINER_NAME', containerName, DEFAULTS.RESULT_CONTAINER_NAME),
    retentionDays: readNumber(env, 'LEDGER_RETENTION_DAYS'),
    delivery: {
      timeoutHours: readNumber(env, 'DELIVERY_TIMEOUT_HOURS'),
      maxDelaySeconds: readNumber(env, 'DELIVERY_MAX_DELAY_SECONDS'),
    },
    ...(azureClientId ? { azureClientId } : {}),
  };
}

/** What the caller-side commands (`run`, `result`) need: ARM, the poll schedule, the target names known here. */
export interface CallerSettings {
  armEndpoint: string;
  armScope: string;
  aksApiVersion: string;
  armTimeoutMs: number;
  poll: { initialDelaySeconds: number; maxDelaySeconds: number; timeoutMinutes: number };
  /** Target names configured in this environment (undefined: none known here, so none can be checked). */
  knownTargets?: string[];
}

export function loadCallerSettings(env: Env = process.env): CallerSettings {
  const armEndpointUrl = parseHttpsUrl('ARM_ENDPOINT', optional(env, 'ARM_ENDPOINT') ?? DEFAULTS.ARM_ENDPOINT, false);
  if (armEndpointUrl.pathname !== '/' || armEndpointUrl.search || armEndpointUrl.hash) {
    throw new ConfigError('ARM_ENDPOINT', 'must be an origin only, such as https://management.azure.com');
  }
  const initialDelaySeconds = readNumber(env, 'POLL_INITIAL_DELAY_SECONDS');
  const maxDelaySeconds = readNumber(env, 'POLL_MAX_DELAY_SECONDS');
  const names = [
    ...PROVIDERS.flatMap((p) =>
      p.zeroConfig && optional(env, p.zeroConfig.settings.URL ?? '') ? [p.zeroConfig.name] : [],
    ),
    ...(optional(env, 'NOTIFY_TARGETS') ?? '')
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean),
  ];
  return {
    armEndpoint: armEndpointUrl.origin,
    armScope: scopeForArmEndpoint(armEndpointUrl.origin),
    aksApiVersion: read(env, 'AKS_API_VERSION', apiVersion, DEFAULTS.AKS_API_VERSION),
    armTimeoutMs: readNumber(env, 'ARM_TIMEOUT_SECONDS') * 1000,
    poll: {
      initialDelaySeconds,
      maxDelaySeconds: Math.max(initialDelaySeconds, maxDelaySeconds),
      timeoutMinutes: readNumber(env, 'POLL_TIMEOUT_MINUTES'),
    },
    ...(names.length > 0 ? { knownTargets: names } : {}),
  };
}

export function loadConfig(env: Env = process.env): AppConfig {
  assertNoUnresolvedKeyVaultReferences(env);
  const armEndpointUrl = parseHttpsUrl('ARM_ENDPOINT', optional(env, 'ARM_ENDPOINT') ?? DEFAULTS.ARM_ENDPOINT, false);
  if (armEndpointUrl.pathname !== '/' || armEndpointUrl.search || armEndpointUrl.hash) {
    throw new ConfigError('ARM_ENDPOINT', 'must be an origin only, such as https://management.azure.com');
  }
  const initialDelaySeconds = readNumber(env, 'POLL_INITIAL_DELAY_SECONDS');
  const maxDelaySeconds = readNumber(env, 'POLL_MAX_DELAY_SECONDS');
  if (maxDelaySeconds < initialDelaySeconds) {
    throw new ConfigError('POLL_MAX_DELAY_SECONDS', 'must be at least POLL_INITIAL_DELAY_SECONDS');
  }
  const timeoutMinutes = readNumber(env, 'POLL_TIMEOUT_MINUTES');
  const stored = loadStorageSettings(env);
  // Rows and results must outlive every command they describe: its polling and its delivery.
  if (stored.retentionDays * 24 < timeoutMinutes / 60 + stored.delivery.timeoutHours) {
    throw new ConfigError(
      'LEDGER_RETENTION_DAYS',
      `must cover POLL_TIMEOUT_MINUTES plus DELIVERY_TIMEOUT_HOURS (at least ${Math.ceil((timeoutMinutes / 60 + stored.delivery.timeoutHours) / 24)} days)`,
    );
  }
  return {
    ...stored,
    armEndpoint: armEndpointUrl.origin,
    armScope: scopeForArmEndpoint(armEndpointUrl.origin),
    aksApiVersion: read(env, 'AKS_API_VERSION', apiVersion, DEFAULTS.AKS_API_VERSION),
    poll: { initialDelaySeconds, maxDelaySeconds, timeoutMinutes },
    armTimeoutMs: readNumber(env, 'ARM_TIMEOUT_SECONDS') * 1000,
    webhookTimeoutMs: readNumber(env, 'WEBHOOK_TIMEOUT_SECONDS') * 1000,
    armReads: { perSecond: readNumber(env, 'ARM_READS_PER_SECOND'), burst: readNumber(env, 'ARM_READ_BURST') },
    maxInstances: readNumber(env, 'MAX_INSTANCE_COUNT'),
    ...loadTargets(env),
  };
}

/** Values that must never reach a log line. */
export function secretsOf(config: Pick<AppConfig, 'targets' | 'storage'>): string[] {
  const secrets = config.targets.flatMap((t) => t.secrets ?? []);
  if (config.storage.connectionString) {
    const key = /AccountKey=([^;]+)/i.exec(config.storage.connectionString)?.[1];
    const sas = /SharedAccessSignature=([^;]+)/i.exec(config.storage.connectionString)?.[1];
    if (key) secrets.push(key);
    if (sas) secrets.push(sas);
  }
  return secrets;
}
