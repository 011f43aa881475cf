// Where the app keeps its state: the storage connection (a connection string, or an identity-based one
// with a URI per service), checked to reach every service the app uses, and the queue name. Storage URLs
// a token goes to are held to the cloud's own Storage hosts (settings/rules.ts).
import * as z from 'zod/mini';
import { DEFAULTS } from './defaults';
import { ConfigError } from '../core/settingUrls';
import { optional, parseStorageUrl, read, storageSuffixFor, type Env } from './rules';

export interface StorageConfig {
  /** Connection string (Azurite, or key-based accounts). */
  connectionString?: string;
  queueServiceUri?: string;
  tableServiceUri?: string;
  blobServiceUri?: string;
  /** Client id of the user-assigned identity for identity-based connections. */
  clientId?: string;
}

// Queue names: 3-63 chars, lowercase letters, digits, single hyphens (leaving room for "-poison").
const queueName = z
  .string()
  .check(
    z.regex(/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,55}$/, 'must be 3-56 lowercase letters, digits or single hyphens'),
  );

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
