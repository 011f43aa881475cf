// `aks-command-notifier doctor`: from an operator's machine, whether the deployed pieces are wired, each
// failure with its fix — before the first real command goes missing. It sends a doctor message like any
// producer (core/doctorMessage.ts) and reads the deployed function's answer in the ledger:
//
//   queue     the caller may send to it (a 403 names the role and the scope)
//   function  something reads the queue and answers within a bound (else: unread, or taken but unanswered)
//   target    each target the function has: kind, where it is configured, its checks (never a value)
//   cluster   each --cluster and each one the deployment lists (CLUSTER_IDS) is readable by the function's
//             identity: 404 for a random command id means readable, 403 names the role to assign
//   notify    (--notify) the fixed test notification, until the ledger says delivered, or why not
//
// Exit codes: 0 every check passed, 1 any failed (each named), 2 usage.
//
// What each check found, and its fix, is doctorChecks.ts's; here the checks run in order, and are printed.
import { randomBytes } from 'node:crypto';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import type { Env } from '../config';
import type { DoctorAnswer } from '../core/doctor';
import { CHECK_MESSAGE_TTL_SECONDS, MAX_DOCTOR_CLUSTERS, serializeDoctor } from '../core/doctorMessage';
import { parseQueueMessage } from '../core/groupMessage';
import { escapeForLog } from '../core/text';
import { MessageError, parseClusterResourceId } from '../core/message';
import { clusterResourceId, type ClusterRef } from '../core/cluster';
import { readDoctorAnswer } from '../store/doctorRows';
import { isNoCredential } from './credentials';
import { clusterCheck, ledgerRefused, notifyChecks, targetChecks, unanswered, type Check } from './doctorChecks';
import type { Io } from './io';
import { openOperatorStores } from './operator';
import { explainSendFailure, openProducerQueue, type ProducerQueue } from './producer';

/** How long the function has to answer by default: doctor ends within a minute when nothing reads the queue. */
const DEFAULT_ANSWER_WAIT_SECONDS = 45;
const DEFAULT_NOTIFY_WAIT_SECONDS = 120;

export interface DoctorInput {
  notify?: boolean;
  targets?: string[];
  clusters?: string[];
  queueUrl?: string;
  output?: 'text' | 'json';
  waitSeconds?: number;
  notifyWaitSeconds?: number;
}

export interface DoctorDeps {
  credential?: () => TokenCredential;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export async function doctor(input: DoctorInput, env: Env, io: Io, deps: DoctorDeps = {}): Promise<number> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = deps.now ?? Date.now;
  let credential: TokenCredential | undefined;
  const caller = () => (credential ??= (deps.credential ?? (() => new DefaultAzureCredential()))());
  const clusters = doctorClusters(input.clusters ?? [], env);
  if (!input.queueUrl && !hasQueue(env))
    throw new MessageError(
      'no queue to check: give --queue-url, set COMMAND_QUEUE_URL (azd env get-values prints it), or run doctor in the azd project folder',
    );
  const queue = openProducerQueue(env, caller, input.queueUrl);
  const checks: Check[] = [];
  const printVerdict = () => finish(checks, input.output ?? 'text', io, queue);

  // One doctor message per 20 clusters; the first also asks for the test notification.
  const runs = chunks(clusters, MAX_DOCTOR_CLUSTERS).map((part, i) => ({
    id: `${randomBytes(12).toString('hex')}`,
    clusters: part,
    notify: i === 0 && !!input.notify,
  }));
  const where = `${queue.name}${queue.account ? ` (storage account ${queue.account})` : ''}`;
  // Built and read back as the function will, before anything is sent: a target name it would refuse is a
  // usage error here, not a poisoned message there.
  const texts = runs.map((run) =>
    serializeDoctor({
      id: run.id,
      clusters: run.clusters,
      notify: run.notify,
      ...(input.targets ? { targets: input.targets } : {}),
    }),
  );
  for (const text of texts) {
    try {
      parseQueueMessage(text);
    } catch (err) {
      throw new MessageError(`--target: ${(err as Error).message}`);
    }
  }
  try {
    for (const text of texts) await queue.send(text, 0, CHECK_MESSAGE_TTL_SECONDS);
  } catch (err) {
    // No login is the caller's, not the deployment's: said as every command says it (exit 2).
    if (isNoCredential(err)) throw err;
    checks.push({ check: 'queue', subject: where, ok: false, detail: explainSendFailure(err, queue, env) });
    checks.push({ check: 'function', subject: 'the function app', ok: null, detail: 'not checked: nothing was sent' });
    return printVerdict();
  }
  checks.push({ check: 'queue', subject: where, ok: true, detail: 'you may send to it' });

  const stores = openOperatorStores(ledgerEnv(env, queue, !!(input.queueUrl ?? env.COMMAND_QUEUE_URL?.trim())));
  const table = stores.settings.deliveryTableName;
  const sentAt = now();
  const answers: DoctorAnswer[] = [];
  for (const run of runs) {
    const deadline = sentAt + (input.waitSeconds ?? DEFAULT_ANSWER_WAIT_SECONDS) * 1000;
    for (;;) {
      let answer: DoctorAnswer | undefined;
      try {
        answer = await readDoctorAnswer(stores.ledger.store, run.id);
      } catch (err) {
        if (isNoCredential(err)) throw err;
        checks.push(ledgerRefused(err, table, env));
        return printVerdict();
      }
      if (answer) {
        answers.push(answer);
        break;
      }
      if (now() >= deadline) {
        checks.push(await unanswered(queue, run.id, (now() - sentAt) / 1000, env));
        return printVerdict();
      }
      await sleep(1000);
    }
  }
  const first = answers[0]!;
  checks.push({
    check: 'function',
    subject: 'the function app',
    ok: true,
    detail: `answered through the ledger (table ${table}) in ${Math.max(0, (Date.parse(first.at) - sentAt) / 1000).toFixed(1)}s`,
  });

  // What the function has: its targets (those asked about, or all), and those it does not know.
  checks.push(...targetChecks(first, input.targets));
  for (const c of answers.flatMap((a) => a.clusters)) checks.push(clusterCheck(c, env));
  if (first.notify.length > 0)
    await notifyChecks(first, stores.ledger, input.notifyWaitSeconds ?? DEFAULT_NOTIFY_WAIT_SECONDS, checks, {
      sleep,
      now,
    });
  return printVerdict();
}

/** Every --cluster, then every cluster the deployment lists (CLUSTER_IDS, as azd env get-values prints it), once. */
function doctorClusters(given: string[], env: Env): ClusterRef[] {
  const out: ClusterRef[] = [];
  const seen = new Set<string>();
  const add = (id: string, from: string) => {
    let ref: ClusterRef;
    try {
      ref = parseClusterResourceId(id);
    } catch (err) {
      throw new MessageError(`${from} ${id.slice(0, 200)}: ${(err as Error).message}`);
    }
    const key = clusterResourceId(ref).toLowerCase();
    if (!seen.has(key)) out.push(ref);
    seen.add(key);
  };
  for (const id of given) add(id, '--cluster');
  for (const id of listSetting(env.CLUSTER_IDS)) add(id, 'CLUSTER_IDS:');
  return out;
}

/** A list setting as the deployment outputs it (a JSON array) or as a person types it (commas, spaces). */
function listSetting(value: string | undefined): string[] {
  const text = value?.trim();
  if (!text) return [];
  if (text.startsWith('[')) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (Array.isArray(parsed)) return parsed.filter((x): x is string => typeof x === 'string');
    } catch {
      // Read as a list of words below.
    }
  }
  return text.split(/[\s,]+/).filter(Boolean);
}

function hasQueue(env: Env): boolean {
  return [
    'COMMAND_QUEUE_URL',
    'AzureWebJobsStorage',
    'AzureWebJobsStorage__accountName',
    'AzureWebJobsStorage__queueServiceUri',
  ].some((k) => !!env[k]?.trim());
}

/**
 * The ledger is in the function's storage account, which is its queue's: when the queue was named by an
 * Azure URL, its account is the ledger's, whatever else the environment names (doctor never waits on one
 * deployment's ledger for another's answer).
 */
function ledgerEnv(env: Env, queue: ProducerQueue, byUrl: boolean): Env {
  if (!byUrl || !queue.account) return env;
  const rest = Object.fromEntries(Object.entries(env).filter(([k]) => !/^AzureWebJobsStorage(__\w+)?$/.test(k)));
  return { ...rest, AzureWebJobsStorage__accountName: queue.account };
}

function chunks<T>(all: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < all.length; i += size) out.push(all.slice(i, i + size));
  return out.length ? out : [[]];
}

function finish(checks: Check[], output: 'text' | 'json', io: Io, queue: ProducerQueue): number {
  const failed = checks.filter((c) => c.ok === false);
  if (output === 'json') {
    io.out(JSON.stringify({ ok: failed.length === 0, queue: queue.name, checks }, null, 2));
  } else {
    for (const c of checks) {
      const mark = c.ok === true ? 'ok  ' : c.ok === false ? 'FAIL' : '--  ';
      // ARM's and the channels' words are shown escaped, as every log line shows them.
      io.out(`${mark} ${c.check} ${escapeForLog(c.subject, 1100)}: ${escapeForLog(c.detail, 2000)}`);
      if (c.fix) io.out(`     fix: ${escapeForLog(c.fix, 2000)}`);
    }
    io.out(
      failed.length === 0
        ? `all ${checks.filter((c) => c.ok).length} checks passed`
        : `${failed.length} of ${checks.length} checks failed`,
    );
  }
  return failed.length === 0 ? 0 : 1;
}
