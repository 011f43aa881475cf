// Which deployment the CLI works against, so that after `azd up` no one copies a queue URL by hand: a
// flag first; then the environment, under the names the deployment outputs (COMMAND_QUEUE_URL,
// AzureWebJobsStorage__accountName, CLUSTER_IDS… as `azd env get-values` prints them); then, for names the
// environment leaves unset, the azd environment of the project this folder is in (.azure/<env>/.env, the
// file `azd env get-values` reads: AZURE_ENV_NAME or the project's default environment).
//
// Only the deployment's outputs, its storage connection and its subscription come from that file
// (mergeAzdEnv): not the deployment's inputs (webhook URLs, target settings) it also holds.
//
// And az's way of naming a cluster: --resource-group/-g and --name/-n with the subscription from
// --subscription, AZURE_SUBSCRIPTION_ID or the login's (`az account show`), as an alternative to the id.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Env } from '../config';
import { clusterResourceId } from '../core/cluster';
import { checkClusterRef, MessageError } from '../core/message';

export interface Deployment {
  env: Env;
  /** The azd environment file the values not in the environment came from, if one was read. */
  azdEnvFile?: string;
}

/** The environment the commands read: the process's, completed from the azd environment in this folder. */
function deploymentEnv(env: Env, cwd = process.cwd()): Deployment {
  if (env.AKS_NOTIFIER_NO_AZD_ENV === '1') return { env };
  const file = azdEnvFile(env, cwd);
  if (!file) return { env };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { env };
  }
  return { env: mergeAzdEnv(env, parseDotenv(text)), azdEnvFile: file };
}

/** The environment every command reads: the process's, completed from the azd environment here (once). */
let deployed: Env | undefined;
export const deployedEnv = (): Env => (deployed ??= deploymentEnv(process.env).env);

/**
 * What the CLI takes from an azd environment: the deployment's outputs (infra/main.bicep), the storage
 * connection, and the subscription. Nothing else: the file also holds the deployment's inputs (webhook
 * URLs, target settings), which are not this machine's settings and stay out of the CLI's environment.
 */
export const FROM_AZD: ReadonlySet<string> = new Set([
  'AZURE_SUBSCRIPTION_ID',
  'AZURE_RESOURCE_GROUP',
  'AZURE_FUNCTION_APP_NAME',
  'COMMAND_QUEUE_URL',
  'COMMAND_QUEUE_NAME',
  'STORAGE_ACCOUNT_NAME',
  'DELIVERY_TABLE_NAME',
  'RESULT_CONTAINER_NAME',
  'ARM_ENDPOINT',
  'IDENTITY_CLIENT_ID',
  'IDENTITY_PRINCIPAL_ID',
  'KEY_VAULT_NAME',
  'TEAMS_BOT_ID',
  'CLUSTER_IDS',
  'CLUSTER_SCOPES',
  'CLUSTER_ROLE_DEFINITION_ID',
]);

/** Where the queue and the stores are: one setting of these in the environment means the file's are not used. */
const isStorage = (name: string) => name === 'COMMAND_QUEUE_URL' || /^AzureWebJobsStorage(__\w+)?$/.test(name);
const STORAGE_NAMES = ['COMMAND_QUEUE_NAME', 'DELIVERY_TABLE_NAME', 'RESULT_CONTAINER_NAME', 'STORAGE_ACCOUNT_NAME'];

/**
 * The environment, completed from an azd environment's values: a name the environment sets wins; and where
 * the environment names its own storage (a local Azurite, another account), none of the file's storage
 * settings is taken, so that the queue and the ledger never come from two deployments.
 */
export function mergeAzdEnv(env: Env, fromFile: Record<string, string>): Env {
  const set = (k: string) => env[k] !== undefined && env[k] !== '';
  const ownStorage = Object.keys(env).some((k) => isStorage(k) && set(k));
  const merged: Env = {};
  for (const [k, v] of Object.entries(fromFile)) {
    if (!FROM_AZD.has(k) && !isStorage(k)) continue;
    if (ownStorage && (isStorage(k) || STORAGE_NAMES.includes(k))) continue;
    merged[k] = v;
  }
  for (const [k, v] of Object.entries(env)) if (set(k)) merged[k] = v;
  return merged;
}

/** `.azure/<env>/.env` of the azd project this folder is in (azure.yaml beside .azure), if there is one. */
function azdEnvFile(env: Env, cwd: string): string | undefined {
  for (let dir = cwd; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'azure.yaml')) && existsSync(join(dir, '.azure'))) {
      let name = env.AZURE_ENV_NAME?.trim();
      if (!name) {
        try {
          name = (
            JSON.parse(readFileSync(join(dir, '.azure', 'config.json'), 'utf8')) as { defaultEnvironment?: string }
          ).defaultEnvironment;
        } catch {
          return undefined;
        }
      }
      if (!name || !/^[\w-]+$/.test(name)) return undefined;
      const file = join(dir, '.azure', name, '.env');
      return existsSync(file) ? file : undefined;
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** The dotenv lines azd writes (KEY="value" with \" \\ \n escapes; KEY='value' and KEY=value read as they are). */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(raw);
    if (!m) continue;
    let value = m[2]!.trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
      value = value
        .slice(1, -1)
        .replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c));
    } else if (value.startsWith("'") && value.endsWith("'") && value.length >= 2) value = value.slice(1, -1);
    out[m[1]!] = value;
  }
  return out;
}

export interface ClusterFlags {
  cluster?: string[];
  resourceGroup?: string;
  name?: string[];
  subscription?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The clusters named by --cluster, or by -g/-n (one resource group, one or more names) in the subscription
 * of --subscription, AZURE_SUBSCRIPTION_ID or `az account show`. Usage errors are MessageErrors (exit 2).
 */
export function clustersFromFlags(flags: ClusterFlags, env: Env, az: AzCli = runAz): string[] | undefined {
  const byName = flags.resourceGroup !== undefined || (flags.name?.length ?? 0) > 0;
  if (!byName) {
    if (flags.subscription !== undefined)
      throw new MessageError('--subscription goes with --resource-group and --name (a --cluster id names its own)');
    return flags.cluster;
  }
  if (flags.cluster?.length) throw new MessageError('give --cluster, or --resource-group with --name, not both');
  if (flags.resourceGroup === undefined || !flags.name?.length)
    throw new MessageError('--resource-group (-g) and --name (-n) go together');
  const subscription = subscriptionId(flags.subscription ?? env.AZURE_SUBSCRIPTION_ID?.trim(), az);
  return flags.name.map((name) =>
    clusterResourceId(
      checkClusterRef({ subscriptionId: subscription, resourceGroupName: flags.resourceGroup!, resourceName: name }),
    ),
  );
}

/** One cluster from --cluster or -g/-n (a usage error otherwise). */
export function oneCluster(opts: ClusterFlags, env: Env): string {
  const ids = clustersFromFlags(opts, env);
  if (!ids?.length) throw new MessageError('give --cluster <id>, or --resource-group and --name');
  if (ids.length > 1) throw new MessageError('this command takes one cluster');
  return ids[0]!;
}

/** `az` run with these arguments: its standard output, or undefined when it is missing or fails. */
export type AzCli = (args: string[]) => string | undefined;

function runAz(args: string[]): string | undefined {
  // az is a .cmd on Windows, which only a shell runs: there each word is quoted, and a word a shell would
  // read otherwise is not sent at all.
  const windows = process.platform === 'win32';
  if (windows && args.some((a) => !/^[\w .()@:-]*$/.test(a))) return undefined;
  const r = spawnSync('az', windows ? args.map((a) => `"${a}"`) : args, {
    encoding: 'utf8',
    timeout: 30_000,
    shell: windows,
  });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** A subscription id: as given when it is one, else a name (or none: the login's) resolved by `az account show`. */
function subscriptionId(given: string | undefined, az: AzCli): string {
  if (given && UUID.test(given)) return given.toLowerCase();
  const id = az(['account', 'show', ...(given ? ['--subscription', given] : []), '--query', 'id', '-o', 'tsv']);
  if (id && UUID.test(id)) return id.toLowerCase();
  throw new MessageError(
    given
      ? `--subscription ${given.slice(0, 100)}: not a subscription id, and az account show could not resolve it`
      : 'no subscription: give --subscription, set AZURE_SUBSCRIPTION_ID, or log in with az login',
  );
}
