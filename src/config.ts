// Every setting the app reads, validated once, with its default and its range. Names are a contract with
// infra/ (app settings), the README and other tools: test/unit/config.test.ts checks that they agree.
// Each notification provider reads its own options (URL, channel, mention) through the registry.
// zod/mini: the tree-shakable build, so that the start-up path stays small (README, Performance).
import * as z from 'zod/mini';
import { ClusterScope, clusterPatternProblem } from './core/scope';
import type { NotifyOn, Provider, SettingsContext, Target } from './notify/provider';
import { PROVIDERS, providerFor } from './notify/registry';
import { ConfigError, parseHttpsUrl, parseStorageUrl, storageSuffixFor } from './settingRules';

export { ConfigError, isLoopbackHost, parseHttpsUrl, parseStorageUrl } from './settingRules';

export type Env = Record<string, string | undefined>;

export const DEFAULTS = {
  COMMAND_QUEUE_NAME: 'aks-command-results',
  ARM_ENDPOINT: 'https://management.azure.com',
  AKS_API_VERSION: '2024-09-01',
  POLL_INITIAL_DELAY_SECONDS: 5,
  POLL_MAX_DELAY_SECONDS: 60,
  POLL_TIMEOUT_MINUTES: 120,
  ARM_TIMEOUT_SECONDS: 15,
  WEBHOOK_TIMEOUT_SECONDS: 10,
  DELIVERY_TABLE_NAME: 'aksnotifierdeliveries',
  RESULT_CONTAINER_NAME: 'aksnotifier-results',
  DELIVERY_TIMEOUT_HOURS: 24,
  DELIVERY_MAX_DELAY_SECONDS: 900,
  LEDGER_RETENTION_DAYS: 30,
  ARM_READS_PER_SECOND: 20,
  ARM_READ_BURST: 200,
  SLACK_API_URL: 'https://slack.com/api/',
} as const;

/** The accepted range of every numeric setting: wide enough for tests, narrow enough to be sane. */
export const RANGES = {
  POLL_INITIAL_DELAY_SECONDS: [1, 3600],
  POLL_MAX_DELAY_SECONDS: [1, 3600],
  POLL_TIMEOUT_MINUTES: [0.05, 10080],
  ARM_TIMEOUT_SECONDS: [1, 120],
  WEBHOOK_TIMEOUT_SECONDS: [1, 60],
  DELIVERY_TIMEOUT_HOURS: [0.01, 168],
  DELIVERY_MAX_DELAY_SECONDS: [1, 900],
  LEDGER_RETENTION_DAYS: [1, 3650],
  ARM_READS_PER_SECOND: [1, 10000],
  ARM_READ_BURST: [1, 10000],
} as const satisfies Partial<Record<keyof typeof DEFAULTS, readonly [number, number]>>;

/** Settings the code reads; infra must set (or deliberately default) each of them. */
export const SETTING_NAMES = [
  'COMMAND_QUEUE_NAME',
  'AzureWebJobsStorage',
  'ARM_ENDPOINT',
  'AKS_API_VERSION',
  'AZURE_CLIENT_ID',
  'POLL_INITIAL_DELAY_SECONDS',
  'POLL_MAX_DELAY_SECONDS',
  'POLL_TIMEOUT_MINUTES',
  'ARM_TIMEOUT_SECONDS',
  'WEBHOOK_TIMEOUT_SECONDS',
  'DELIVERY_TABLE_NAME',
  'RESULT_CONTAINER_NAME',
  'DELIVERY_TIMEOUT_HOURS',
  'DELIVERY_MAX_DELAY_SECONDS',
  'LEDGER_RETENTION_DAYS',
  'ARM_READS_PER_SECOND',
  'ARM_READ_BURST',
  'SLACK_WEBHOOK_URL',
  'SLACK_CLUSTERS',
  'SLACK_API_URL',
  'TEAMS_WEBHOOK_URL',
  'TEAMS_CLUSTERS',
  'NOTIFY_TARGETS',
  'NOTIFY_DEFAULT_TARGETS',
] as const;

export interface StorageConfig {
  /** Connection string (Azurite, or key-based accounts). */
  connectionString?: string;
  queueServiceUri?: string;
  tableServiceUri?: string;
  blobServiceUri?: string;
  /** Client id of the user-assigned identity for identity-based connections. */
  clientId?: string;
}

export interface AppConfig extends StorageSettings {
  armEndpoint: string;
  armScope: string;
  aksApiVersion: string;
  poll: { initialDelaySeconds: number; maxDelaySeconds: number; timeoutMinutes: number };
  armTimeoutMs: number;
  webhookTimeoutMs: number;
  /** Client-side share of ARM's read throttling, per subscription and process. */
  armReads: { perSecond: number; burst: number };
  targets: Target[];
  defaultTargets: string[];
}

const KEY_VAULT_REFERENCE = /^\s*@Microsoft\.KeyVault\(/i;

// Queue names: 3-63 chars, lowercase letters, digits, single hyphens (leaving room for "-poison").
const queueName = z
  .string()
  .check(
    z.regex(/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,55}$/, 'must be 3-56 lowercase letters, digits or single hyphens'),
  );
const tableName = z
  .string()
  .check(z.regex(/^[A-Za-z][A-Za-z0-9]{2,62}$/, 'must be 3-63 letters or digits, starting with a letter'));
const containerName = z
  .string()
  .check(
    z.regex(/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/, 'must be 3-63 lowercase letters, digits or single hyphens'),
  );
const apiVersion = z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, 'must look like 2024-09-01'));
const targetName = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

function numberIn(min: number, max: number, integer: boolean) {
  const message = `must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`;
  return z.pipe(
    z.string().check(z.regex(integer ? /^\d+$/ : /^\d+(\.\d+)?$/, message)),
    z.pipe(z.transform(Number), z.number().check(z.refine((n) => n >= min && n <= max, message))),
  );
}

function read<T>(env: Env, name: string, schema: z.ZodMiniType<T>, fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const parsed = schema.safeParse(raw.trim());
  if (!parsed.success) throw new ConfigError(name, parsed.error.issues[0]?.message ?? 'invalid value');
  return parsed.data;
}

function readNumber(env: Env, name: keyof typeof RANGES, integer = false): number {
  const [min, max] = RANGES[name];
  return read(env, name, numberIn(min, max, integer), DEFAULTS[name]);
}

function optional(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw ? raw : undefined;
}

/** Settings this app reads (other apps' settings in the same environment are not ours to judge). */
function isOwnSetting(name: string): boolean {
  return (
    (SETTING_NAMES as readonly string[]).includes(name) ||
    name.startsWith('NOTIFY_TARGET_') ||
    name.startsWith('AzureWebJobsStorage__')
  );
}

/** Unresolved Key Vault references arrive as their literal text: say which setting, never its value. */
export function assertNoUnresolvedKeyVaultReferences(env: Env): void {
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

const SERVICES = [
  { name: 'Queue', why: 'the command queue needs the Queue service' },
  { name: 'Table', why: 'the delivery ledger needs the Table service' },
  { name: 'Blob', why: 'the stored results need the Blob service' },
] as const;

/** Checks that a connection string reaches every service the app uses, naming the one it misses. */
function checkConnectionString(value: string): void {
  const parts = new Map<string, string>();
  for (const pair of value.split(';')) {
    const i = pair.indexOf('=');
    if (i > 0) parts.set(pair.slice(0, i).trim().toLowerCase(), pair.slice(i + 1).trim());
  }
  if (parts.get('usedevelopmentstorage') === 'true') return;
  if (!parts.has('accountname') && !parts.has('queueendpoint'))
    throw new ConfigError('AzureWebJobsStorage', 'is not a storage connection string');
  const derivable = parts.has('accountname') && parts.has('endpointsuffix');
  for (const s of SERVICES) {
    if (parts.has(`${s.name.toLowerCase()}endpoint`) || derivable) continue;
    const named = SERVICES.filter((o) => parts.has(`${o.name.toLowerCase()}endpoint`)).map((o) => `${o.name}Endpoint`);
    throw new ConfigError(
      'AzureWebJobsStorage',
      `has no ${s.name}Endpoint (${s.why})${named.length ? `: it names only ${named.join(', ')}` : ''}; add ${s.name}Endpoint=…, or AccountName with EndpointSuffix`,
    );
  }
}

/** ARM_ENDPOINT as given (checked where ARM is used): here, only to know the cloud's Storage suffix. */
function armEndpointOf(env: Env): string {
  return optional(env, 'ARM_ENDPOINT') ?? DEFAULTS.ARM_ENDPOINT;
}

/** A queue URL a producer's token goes to (--queue-url, COMMAND_QUEUE_URL). */
export function parseQueueUrl(setting: string, value: string, env: Env): URL {
  const url = parseStorageUrl(setting, value, 'queue', armEndpointOf(env));
  if (url.pathname.split('/').filter(Boolean).length < 1) {
    throw new ConfigError(
      setting,
      `must name the queue: https://<account>.queue.${storageSuffixFor(armEndpointOf(env)) ?? '<storage suffix>'}/<queue>`,
    );
  }
  return url;
}

export function loadStorageConfig(env: Env): StorageConfig {
  const connectionString = optional(env, 'AzureWebJobsStorage');
  if (connectionString) {
    checkConnectionString(connectionString);
    return { connectionString };
  }
  const accountName = optional(env, 'AzureWebJobsStorage__accountName');
  const armEndpoint = armEndpointOf(env);
  if (accountName !== undefined && !/^[a-z0-9]{3,24}$/.test(accountName))
    throw new ConfigError(
      'AzureWebJobsStorage__accountName',
      'must be a storage account name: 3-24 lowercase letters and digits',
    );
  const suffix = storageSuffixFor(armEndpoint);
  const uri = (service: 'queue' | 'table' | 'blob') => {
    const setting = `AzureWebJobsStorage__${service}ServiceUri`;
    const given = optional(env, setting);
    if (given) {
      parseStorageUrl(setting, given, service, armEndpoint);
      return given;
    }
    if (!accountName) return undefined;
    if (!suffix)
      throw new ConfigError(
        'AzureWebJobsStorage__accountName',
        `needs a cloud this app knows in ARM_ENDPOINT; set ${setting} instead`,
      );
    return `https://${accountName}.${service}.${suffix}`;
  };
  const queueServiceUri = uri('queue');
  const tableServiceUri = uri('table');
  const blobServiceUri = uri('blob');
  if (!queueServiceUri) {
    throw new ConfigError(
      'AzureWebJobsStorage',
      'set a connection string, or AzureWebJobsStorage__queueServiceUri (identity-based connection)',
    );
  }
  if (!tableServiceUri)
    throw new ConfigError(
      'AzureWebJobsStorage__tableServiceUri',
      'is required with an identity-based connection: the delivery ledger needs the Table service',
    );
  if (!blobServiceUri)
    throw new ConfigError(
      'AzureWebJobsStorage__blobServiceUri',
      'is required with an identity-based connection: the stored results need the Blob service',
    );
  const clientId = optional(env, 'AzureWebJobsStorage__clientId');
  return { queueServiceUri, tableServiceUri, blobServiceUri, ...(clientId ? { clientId } : {}) };
}

export function loadQueueName(env: Env): string {
  return read(env, 'COMMAND_QUEUE_NAME', queueName, DEFAULTS.COMMAND_QUEUE_NAME);
}

function settingPrefix(name: string): string {
  return `NOTIFY_TARGET_${name.toUpperCase().replace(/-/g, '_')}_`;
}

function settingsContext(env: Env, target: string, nameOf: (option: string) => string): SettingsContext {
  return {
    target,
    nameOf,
    get: (option) => optional(env, nameOf(option)),
    shared: (name) => {
      if (!(SETTING_NAMES as readonly string[]).includes(name)) throw new Error(`${name} is not in SETTING_NAMES`);
      return optional(env, name) ?? (DEFAULTS as Record<string, string | number>)[name]?.toString();
    },
    fail: (option, message) => {
      throw new ConfigError(nameOf(option), message);
    },
  };
}

function readScope(ctx: SettingsContext): ClusterScope {
  const raw = ctx.get('CLUSTERS');
  const patterns = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const p of patterns) {
    const problem = clusterPatternProblem(p);
    if (problem) ctx.fail('CLUSTERS', problem);
  }
  return new ClusterScope(patterns);
}

function buildTarget(
  env: Env,
  name: string,
  provider: Provider<unknown>,
  ctx: SettingsContext,
  named: boolean,
): Target {
  const settings = provider.readSettings(ctx);
  const notifyOn = named ? read(env, ctx.nameOf('ON'), z.enum(['all', 'failure']), 'all' as NotifyOn) : 'all';
  const includeLogs = named ? read(env, ctx.nameOf('LOGS'), z.enum(['true', 'false']), 'true') === 'true' : true;
  const mention = named ? ctx.get('MENTION') : undefined;
  if (mention) {
    if (!provider.validateMention) ctx.fail('MENTION', `is not supported by ${provider.kind} targets`);
    provider.validateMention(ctx, mention);
  }
  return {
    name,
    kind: provider.kind,
    provider,
    settings,
    notifyOn,
    includeLogs,
    ...(mention ? { mention } : {}),
    scope: readScope(ctx),
  };
}

function loadTargets(env: Env): { targets: Target[]; defaultTargets: string[] } {
  const targets: Target[] = [];
  for (const provider of PROVIDERS) {
    const zero = provider.zeroConfig;
    if (!zero || !optional(env, zero.settings.URL ?? '')) continue;
    const ctx = settingsContext(
      env,
      zero.name,
      (option) => zero.settings[option] ?? `${zero.name.toUpperCase()}_${option}`,
    );
    targets.push(buildTarget(env, zero.name, provider as Provider<unknown>, ctx, false));
  }
  const zeroConfig = targets.map((t) => t.name);

  const named = (optional(env, 'NOTIFY_TARGETS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of named) {
    if (!targetName.test(name) || name === 'default') {
      throw new ConfigError(
        'NOTIFY_TARGETS',
        `target name "${name.slice(0, 40)}" must be 1-32 lowercase letters, digits or hyphens (and not "default")`,
      );
    }
    if (targets.some((t) => t.name === name))
      throw new ConfigError('NOTIFY_TARGETS', `target "${name}" is defined twice`);
    const prefix = settingPrefix(name);
    const kinds = PROVIDERS.map((p) => p.kind);
    const kind = optional(env, `${prefix}KIND`);
    if (!kind) throw new ConfigError(`${prefix}KIND`, `is required: ${kinds.join(', ')}`);
    const provider = providerFor(kind);
    if (!provider) throw new ConfigError(`${prefix}KIND`, `must be one of ${kinds.join(', ')}`);
    targets.push(
      buildTarget(
        env,
        name,
        provider as Provider<unknown>,
        settingsContext(env, name, (option) => `${prefix}${option}`),
        true,
      ),
    );
  }

  const defaultsRaw = optional(env, 'NOTIFY_DEFAULT_TARGETS');
  const defaultTargets = defaultsRaw
    ? defaultsRaw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : zeroConfig.length > 0
      ? zeroConfig
      : targets.map((t) => t.name);
  for (const name of defaultTargets) {
    if (!targets.some((t) => t.name === name)) {
      throw new ConfigError('NOTIFY_DEFAULT_TARGETS', `names "${name.slice(0, 40)}", which is not a configured target`);
    }
  }
  if (targets.length === 0) {
    throw new ConfigError(
      'SLACK_WEBHOOK_URL',
      'no notification target: set SLACK_WEBHOOK_URL, TEAMS_WEBHOOK_URL or NOTIFY_TARGETS',
    );
  }
  return { targets, defaultTargets };
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
    retentionDays: readNumber(env, 'LEDGER_RETENTION_DAYS', true),
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
    armReads: { perSecond: readNumber(env, 'ARM_READS_PER_SECOND'), burst: readNumber(env, 'ARM_READ_BURST', true) },
    ...loadTargets(env),
  };
}

/** Values that must never reach a log line. */
export function secretsOf(config: Pick<AppConfig, 'targets' | 'storage'>): string[] {
  const secrets = config.targets.flatMap((t) => t.provider.secrets(t.settings));
  if (config.storage.connectionString) {
    const key = /AccountKey=([^;]+)/i.exec(config.storage.connectionString)?.[1];
    const sas = /SharedAccessSignature=([^;]+)/i.exec(config.storage.connectionString)?.[1];
    if (key) secrets.push(key);
    if (sas) secrets.push(sas);
  }
  return secrets;
}
