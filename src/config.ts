// Every setting the app reads, validated once, with its default. Names are a contract with
// infra/ (app settings), the README and other tools: test/unit/settings.test.ts checks that they agree.
// zod/mini: the tree-shakable build, so that the start-up path stays small (README, Performance).
import * as z from 'zod/mini';

export type Env = Record<string, string | undefined>;

export const DEFAULTS = {
  COMMAND_QUEUE_NAME: 'aks-command-results',
  ARM_ENDPOINT: 'https://management.azure.com',
  AKS_API_VERSION: '2024-09-01',
  POLL_INITIAL_DELAY_SECONDS: 5,
  POLL_MAX_DELAY_SECONDS: 60,
  POLL_TIMEOUT_MINUTES: 120,
  MAX_DEQUEUE_COUNT: 5,
  ARM_TIMEOUT_SECONDS: 15,
  WEBHOOK_TIMEOUT_SECONDS: 10,
  DELIVERY_TABLE_NAME: 'aksnotifierdeliveries',
  ARM_READS_PER_SECOND: 20,
  ARM_READ_BURST: 200,
} as const;

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
  'MAX_DEQUEUE_COUNT',
  'ARM_TIMEOUT_SECONDS',
  'WEBHOOK_TIMEOUT_SECONDS',
  'DELIVERY_TABLE_NAME',
  'ARM_READS_PER_SECOND',
  'ARM_READ_BURST',
  'SLACK_WEBHOOK_URL',
  'TEAMS_WEBHOOK_URL',
  'NOTIFY_TARGETS',
  'NOTIFY_DEFAULT_TARGETS',
] as const;

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
    this.name = 'ConfigError';
  }
}

export type TargetKind = 'slack' | 'teams';
export type NotifyOn = 'all' | 'failure';

export interface TargetConfig {
  name: string;
  kind: TargetKind;
  url: string;
  /** Setting that holds the URL: named in errors instead of the URL itself. */
  urlSetting: string;
  notifyOn: NotifyOn;
  includeLogs: boolean;
  /** Slack: `<!here>`, `<!subteam^ID>` or `<@U…>`; Teams: `email|Display Name`. Only on failures. */
  mentionOnFailure?: string;
}

export interface StorageConfig {
  /** Connection string (Azurite, or key-based accounts). */
  connectionString?: string;
  queueServiceUri?: string;
  tableServiceUri?: string;
  /** Client id of the user-assigned identity for identity-based connections. */
  clientId?: string;
}

export interface AppConfig {
  queueName: string;
  poisonQueueName: string;
  storage: StorageConfig;
  armEndpoint: string;
  armScope: string;
  aksApiVersion: string;
  azureClientId?: string;
  poll: { initialDelaySeconds: number; maxDelaySeconds: number; timeoutMinutes: number };
  maxDequeueCount: number;
  armTimeoutMs: number;
  webhookTimeoutMs: number;
  deliveryTableName: string;
  /** Client-side share of ARM's read throttling, per subscription and process. */
  armReads: { perSecond: number; burst: number };
  targets: TargetConfig[];
  defaultTargets: string[];
}

const KEY_VAULT_REFERENCE = /^\s*@Microsoft\.KeyVault\(/i;

// Queue names: 3-63 chars, lowercase letters, digits, single hyphens (leaving room for "-poison").
const queueName = z.string().check(z.regex(/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,55}$/, 'must be 3-56 lowercase letters, digits or single hyphens'));
const tableName = z.string().check(z.regex(/^[A-Za-z][A-Za-z0-9]{2,62}$/, 'must be 3-63 letters or digits, starting with a letter'));
const apiVersion = z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, 'must look like 2024-09-01'));
const targetName = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

function positiveNumber(max: number) {
  const message = `must be a number > 0 and <= ${max}`;
  return z.pipe(
    z.string().check(z.regex(/^\d+(\.\d+)?$/, message)),
    z.pipe(z.transform(Number), z.number().check(z.refine((n) => n > 0 && n <= max, message))),
  );
}
function positiveInt(max: number) {
  return z.pipe(
    z.string().check(z.regex(/^\d+$/, 'must be a whole number')),
    z.pipe(z.transform(Number), z.number().check(z.gte(1, 'must be at least 1'), z.lte(max, `must be at most ${max}`))),
  );
}

function read<T>(env: Env, name: string, schema: z.ZodMiniType<T>, fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const parsed = schema.safeParse(raw.trim());
  if (!parsed.success) throw new ConfigError(name, parsed.error.issues[0]?.message ?? 'invalid value');
  return parsed.data;
}

function optional(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw ? raw : undefined;
}

/** Settings this app reads (other apps' settings in the same environment are not ours to judge). */
function isOwnSetting(name: string): boolean {
  return (SETTING_NAMES as readonly string[]).includes(name) || name.startsWith('NOTIFY_TARGET_') || name.startsWith('AzureWebJobsStorage__');
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

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

export function parseHttpsUrl(setting: string, value: string, allowLoopbackHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(setting, 'is not a valid URL');
  }
  if (url.username || url.password) throw new ConfigError(setting, 'must not contain credentials');
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && allowLoopbackHttp && isLoopbackHost(url.hostname)) return url;
  throw new ConfigError(setting, allowLoopbackHttp ? 'must be https (http only on loopback)' : 'must be https');
}

export function loadStorageConfig(env: Env): StorageConfig {
  const connectionString = optional(env, 'AzureWebJobsStorage');
  if (connectionString) {
    if (!/(^|;)(QueueEndpoint|AccountName|UseDevelopmentStorage)=/i.test(connectionString)) {
      throw new ConfigError('AzureWebJobsStorage', 'is not a storage connection string');
    }
    return { connectionString };
  }
  const accountName = optional(env, 'AzureWebJobsStorage__accountName');
  const queueServiceUri =
    optional(env, 'AzureWebJobsStorage__queueServiceUri') ??
    (accountName ? `https://${accountName}.queue.core.windows.net` : undefined);
  const tableServiceUri =
    optional(env, 'AzureWebJobsStorage__tableServiceUri') ??
    (accountName ? `https://${accountName}.table.core.windows.net` : undefined);
  if (!queueServiceUri) {
    throw new ConfigError(
      'AzureWebJobsStorage',
      'set a connection string, or AzureWebJobsStorage__queueServiceUri (identity-based connection)',
    );
  }
  parseHttpsUrl('AzureWebJobsStorage__queueServiceUri', queueServiceUri, true);
  if (tableServiceUri) parseHttpsUrl('AzureWebJobsStorage__tableServiceUri', tableServiceUri, true);
  const clientId = optional(env, 'AzureWebJobsStorage__clientId');
  return { queueServiceUri, ...(tableServiceUri ? { tableServiceUri } : {}), ...(clientId ? { clientId } : {}) };
}

export function loadQueueName(env: Env): string {
  return read(env, 'COMMAND_QUEUE_NAME', queueName, DEFAULTS.COMMAND_QUEUE_NAME);
}

function settingPrefix(name: string): string {
  return `NOTIFY_TARGET_${name.toUpperCase().replace(/-/g, '_')}_`;
}

function loadTargets(env: Env): { targets: TargetConfig[]; defaultTargets: string[] } {
  const targets: TargetConfig[] = [];
  const slack = optional(env, 'SLACK_WEBHOOK_URL');
  const teams = optional(env, 'TEAMS_WEBHOOK_URL');
  if (slack) {
    parseHttpsUrl('SLACK_WEBHOOK_URL', slack, true);
    targets.push({ name: 'slack', kind: 'slack', url: slack, urlSetting: 'SLACK_WEBHOOK_URL', notifyOn: 'all', includeLogs: true });
  }
  if (teams) {
    parseHttpsUrl('TEAMS_WEBHOOK_URL', teams, true);
    targets.push({ name: 'teams', kind: 'teams', url: teams, urlSetting: 'TEAMS_WEBHOOK_URL', notifyOn: 'all', includeLogs: true });
  }
  const zeroConfig = targets.map((t) => t.name);

  const named = (optional(env, 'NOTIFY_TARGETS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of named) {
    if (!targetName.test(name) || name === 'default') {
      throw new ConfigError('NOTIFY_TARGETS', `target name "${name}" must be 1-32 lowercase letters, digits or hyphens (and not "default")`);
    }
    if (targets.some((t) => t.name === name)) throw new ConfigError('NOTIFY_TARGETS', `target "${name}" is defined twice`);
    const prefix = settingPrefix(name);
    const kind = read(env, `${prefix}KIND`, z.enum(['slack', 'teams']), undefined as unknown as TargetKind);
    if (!kind) throw new ConfigError(`${prefix}KIND`, 'is required: slack or teams');
    const urlSetting = `${prefix}URL`;
    const url = optional(env, urlSetting);
    if (!url) throw new ConfigError(urlSetting, 'is required');
    parseHttpsUrl(urlSetting, url, true);
    const notifyOn = read(env, `${prefix}ON`, z.enum(['all', 'failure']), 'all' as NotifyOn);
    const includeLogs = read(env, `${prefix}LOGS`, z.enum(['true', 'false']), 'true') === 'true';
    const mention = optional(env, `${prefix}MENTION`);
    if (mention) validateMention(`${prefix}MENTION`, kind, mention);
    targets.push({
      name,
      kind,
      url,
      urlSetting,
      notifyOn,
      includeLogs,
      ...(mention ? { mentionOnFailure: mention } : {}),
    });
  }

  const defaultsRaw = optional(env, 'NOTIFY_DEFAULT_TARGETS');
  const defaultTargets = defaultsRaw
    ? defaultsRaw.split(',').map((s) => s.trim()).filter(Boolean)
    : zeroConfig.length > 0
      ? zeroConfig
      : targets.map((t) => t.name);
  for (const name of defaultTargets) {
    if (!targets.some((t) => t.name === name)) {
      throw new ConfigError('NOTIFY_DEFAULT_TARGETS', `names "${name}", which is not a configured target`);
    }
  }
  if (targets.length === 0) {
    throw new ConfigError('SLACK_WEBHOOK_URL', 'no notification target: set SLACK_WEBHOOK_URL, TEAMS_WEBHOOK_URL or NOTIFY_TARGETS');
  }
  return { targets, defaultTargets };
}

function validateMention(setting: string, kind: TargetKind, mention: string): void {
  const ok =
    kind === 'slack'
      ? /^<(?:!here|!channel|!subteam\^[A-Z0-9]+|@[A-Z0-9]+)>$/.test(mention)
      : /^[^|<>\s]+@[^|<>\s]+\|[^<>|]{1,100}$/.test(mention);
  if (!ok) {
    throw new ConfigError(
      setting,
      kind === 'slack' ? 'must be <!here>, <!channel>, <!subteam^ID> or <@USERID>' : 'must be "user@domain|Display Name"',
    );
  }
}

export function loadConfig(env: Env = process.env): AppConfig {
  assertNoUnresolvedKeyVaultReferences(env);
  const queue = loadQueueName(env);
  const armEndpointUrl = parseHttpsUrl('ARM_ENDPOINT', optional(env, 'ARM_ENDPOINT') ?? DEFAULTS.ARM_ENDPOINT, false);
  if (armEndpointUrl.pathname !== '/' || armEndpointUrl.search || armEndpointUrl.hash) {
    throw new ConfigError('ARM_ENDPOINT', 'must be an origin only, such as https://management.azure.com');
  }
  const initialDelaySeconds = read(env, 'POLL_INITIAL_DELAY_SECONDS', positiveNumber(3600), DEFAULTS.POLL_INITIAL_DELAY_SECONDS);
  const maxDelaySeconds = read(env, 'POLL_MAX_DELAY_SECONDS', positiveNumber(3600), DEFAULTS.POLL_MAX_DELAY_SECONDS);
  if (maxDelaySeconds < initialDelaySeconds) {
    throw new ConfigError('POLL_MAX_DELAY_SECONDS', 'must be at least POLL_INITIAL_DELAY_SECONDS');
  }
  const azureClientId = optional(env, 'AZURE_CLIENT_ID');
  return {
    queueName: queue,
    poisonQueueName: `${queue}-poison`,
    storage: loadStorageConfig(env),
    armEndpoint: armEndpointUrl.origin,
    armScope: scopeForArmEndpoint(armEndpointUrl.origin),
    aksApiVersion: read(env, 'AKS_API_VERSION', apiVersion, DEFAULTS.AKS_API_VERSION),
    ...(azureClientId ? { azureClientId } : {}),
    poll: {
      initialDelaySeconds,
      maxDelaySeconds,
      // Storage queues hide a message for at most 7 days; keep the deadline inside that.
      timeoutMinutes: read(env, 'POLL_TIMEOUT_MINUTES', positiveNumber(7 * 24 * 60), DEFAULTS.POLL_TIMEOUT_MINUTES),
    },
    maxDequeueCount: read(env, 'MAX_DEQUEUE_COUNT', positiveInt(100), DEFAULTS.MAX_DEQUEUE_COUNT),
    armTimeoutMs: read(env, 'ARM_TIMEOUT_SECONDS', positiveNumber(120), DEFAULTS.ARM_TIMEOUT_SECONDS) * 1000,
    webhookTimeoutMs: read(env, 'WEBHOOK_TIMEOUT_SECONDS', positiveNumber(60), DEFAULTS.WEBHOOK_TIMEOUT_SECONDS) * 1000,
    deliveryTableName: read(env, 'DELIVERY_TABLE_NAME', tableName, DEFAULTS.DELIVERY_TABLE_NAME),
    armReads: {
      perSecond: read(env, 'ARM_READS_PER_SECOND', positiveNumber(1_000_000), DEFAULTS.ARM_READS_PER_SECOND),
      burst: read(env, 'ARM_READ_BURST', positiveInt(1_000_000), DEFAULTS.ARM_READ_BURST),
    },
    ...loadTargets(env),
  };
}

/** Values that must never reach a log line. */
export function secretsOf(config: AppConfig): string[] {
  const secrets = config.targets.map((t) => t.url);
  if (config.storage.connectionString) {
    const key = /AccountKey=([^;]+)/i.exec(config.storage.connectionString)?.[1];
    const sas = /SharedAccessSignature=([^;]+)/i.exec(config.storage.connectionString)?.[1];
    if (key) secrets.push(key);
    if (sas) secrets.push(sas);
  }
  return secrets;
}
