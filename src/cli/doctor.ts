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
import { randomBytes } from 'node:crypto';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import type { Env } from '../config';
import { doctorRunTag, type DoctorAnswer } from '../core/doctor';
import { CHECK_MESSAGE_TTL_SECONDS, MAX_DOCTOR_CLUSTERS, serializeDoctor } from '../core/doctorMessage';
import { parseQueueMessage } from '../core/groupMessage';
import { escapeForLog } from '../core/text';
import { MessageError, parseClusterResourceId } from '../core/message';
import { REQUIRED_PERMISSION } from '../core/report';
import { clusterResourceId, type ClusterRef } from '../core/cluster';
import { readDoctorAnswer, doctorKey } from '../store/doctorRows';
import type { TargetState } from '../store/ledgerRows';
import { describeNoCredential, isNoCredential } from './credentials';
import type { Io } from './io';
import { openOperatorStores } from './operator';
import { explainSendFailure, openProducerQueue, storageAccountScope, type ProducerQueue } from './producer';

/** How long the function has to answer by default: doctor ends within a minute when nothing reads the queue. */
export const DEFAULT_ANSWER_WAIT_SECONDS = 45;
export const DEFAULT_NOTIFY_WAIT_SECONDS = 120;

export interface DoctorInput {
  notify?: boolean;
  targets?: string[];
  clusters?: string[];
  queueUrl?: string;
  output?: 'text' | 'json';
  waitSeconds?: number;
  notifyWaitSeconds?: number;
}

export interface Check {
  check: 'queue' | 'function' | 'target' | 'cluster' | 'notify';
  subject: string;
  /** null: not checked (an earlier check failed), or nothing to check. */
  ok: boolean | null;
  detail: string;
  fix?: string;
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
  const report = () => finish(checks, input.output ?? 'text', io, queue);

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
    return report();
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
        return report();
      }
      if (answer) {
        answers.push(answer);
        break;
      }
      if (now() >= deadline) {
        checks.push(await unanswered(queue, run.id, (now() - sentAt) / 1000, env));
        return report();
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
  const shown = first.targets.filter((t) => !input.targets || input.targets.includes(t.name));
  if (first.targets.length === 0) {
    checks.push({
      check: 'target',
      subject: '(none)',
      ok: false,
      detail: 'the function has no notification target',
      fix: 'set SLACK_WEBHOOK_URL or TEAMS_WEBHOOK_URL (azd env set, then azd provision), or NOTIFY_TARGETS (docs/settings.md)',
    });
  }
  for (const t of shown) {
    const failed = t.checks.filter((c) => !c.ok);
    checks.push({
      check: 'target',
      subject: t.name,
      ok: failed.length === 0,
      detail: [
        `${t.kind}: ${t.where}`,
        `notifies on ${t.notifyOn === 'all' ? 'every result' : 'failures only'}`,
        `clusters: ${t.clusters}`,
        ...(t.isDefault ? ['a default target'] : []),
        ...t.checks.map((c) => `${c.name}: ${c.detail}`),
      ].join('; '),
    });
  }
  for (const name of first.unknownTargets)
    checks.push({
      check: 'target',
      subject: name,
      ok: false,
      detail: `not configured in the function app (it has: ${first.targets.map((t) => t.name).join(', ') || 'none'})`,
    });

  if (first.truncated)
    checks.push({
      check: 'target',
      subject: '(more)',
      ok: null,
      detail: 'the answer was shortened to fit the ledger: some targets are not listed',
    });
  for (const c of answers.flatMap((a) => a.clusters)) checks.push(clusterCheck(c, env));
  if (first.notify.length > 0)
    await notifyChecks(first, stores.ledger, input.notifyWaitSeconds ?? DEFAULT_NOTIFY_WAIT_SECONDS, checks, {
      sleep,
      now,
    });
  return report();
}

/** Every --cluster, then every cluster the deployment lists (CLUSTER_IDS, as azd env get-values prints it), once. */
export function doctorClusters(given: string[], env: Env): ClusterRef[] {
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

function ledgerRefused(err: unknown, table: string, env: Env): Check {
  if (isNoCredential(err))
    return { check: 'function', subject: 'the delivery ledger', ok: false, detail: describeNoCredential(err) };
  const status =
    (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
  // Contributor: the ledger's client makes sure its table exists before it reads, which a Reader may not.
  const role = 'Storage Table Data Contributor';
  return {
    check: 'function',
    subject: `the delivery ledger (table ${table})`,
    ok: false,
    detail: `the answer could not be read: ${(err as Error).message.split('\n')[0]}`,
    ...(status === 403
      ? {
          fix: `reading the ledger needs ${role} on the table: az role assignment create --role "${role}" --assignee <your user or principal> --scope "${tableScope(table, env)}", or list your id in OPERATOR_PRINCIPAL_IDS and run azd provision`,
        }
      : {}),
  };
}

function tableScope(table: string, env: Env): string {
  const account = env.AzureWebJobsStorage__accountName?.trim() || env.STORAGE_ACCOUNT_NAME?.trim() || '<account>';
  return `${storageAccountScope(account, env)}/tableServices/default/tables/${table}`;
}

/** No answer in time: is the doctor message still there unread, taken without an answer, or poisoned? */
async function unanswered(queue: ProducerQueue, id: string, waited: number, env: Env): Promise<Check> {
  const subject = 'the function app';
  const app = env.AZURE_FUNCTION_APP_NAME?.trim();
  const rg = env.AZURE_RESOURCE_GROUP?.trim();
  const state = app
    ? `az functionapp show --resource-group ${rg ?? '<resource group>'} --name ${app} --query state`
    : 'az functionapp show --resource-group <resource group> --name <app> --query state';
  const seconds = Math.round(waited);
  let waiting: { dequeueCount: number } | undefined;
  let poisoned = false;
  let backlog = 0;
  try {
    const visible = await queue.peek('queue');
    waiting = visible.find((m) => m.text.includes(id));
    if (!waiting) poisoned = (await queue.peek('poison')).some((m) => m.text.includes(id));
    // A peek sees the first 32 visible messages: behind a backlog the doctor message is out of its sight.
    if (!waiting && !poisoned && visible.length >= 32) backlog = await queue.depth();
  } catch {
    return {
      check: 'function',
      subject,
      ok: false,
      detail: `no answer in ${seconds}s (and the queue could not be peeked to tell why: that needs Storage Queue Data Reader)`,
      fix: `check that the function app runs (${state}) and reads queue ${queue.name}`,
    };
  }
  if (waiting && waiting.dequeueCount === 0)
    return {
      check: 'function',
      subject,
      ok: false,
      detail: `nothing reads the queue ${queue.name}: the doctor message is still there, unread, after ${seconds}s`,
      fix: `start the function app (${state}), and check that its storage (AzureWebJobsStorage) and COMMAND_QUEUE_NAME are this queue's`,
    };
  if (waiting)
    return {
      check: 'function',
      subject,
      ok: false,
      detail: `the function took the doctor message ${waiting.dequeueCount} time(s) without answering within ${seconds}s`,
      fix: 'read its logs (Application Insights traces, or az webapp log tail): a setting it refuses at start-up stops every message',
    };
  if (poisoned)
    return {
      check: 'function',
      subject,
      ok: false,
      detail: `the function put the doctor message on ${queue.name}-poison`,
      fix: 'aks-command-notifier status shows why (a version before doctor refuses the message: deploy this one)',
    };
  if (backlog > 0)
    return {
      check: 'function',
      subject,
      ok: false,
      detail: `no answer in ${seconds}s, and ${backlog} messages wait on ${queue.name}: the doctor message is behind them, unread`,
      fix: `nothing may read the queue, or the function is far behind: check that it runs (${state}) and what it is doing (aks-command-notifier status)`,
    };
  return {
    check: 'function',
    subject,
    ok: false,
    detail: `the doctor message was taken but not answered within ${seconds}s`,
    fix: 'a cold start can take longer: run doctor again with --wait-seconds 120',
  };
}

function clusterCheck(c: DoctorAnswer['clusters'][number], env: Env): Check {
  const when = c.readAt ? ` (read at ${c.readAt}: a cluster is read at most once a minute)` : '';
  if (c.result === 'readable')
    return { check: 'cluster', subject: c.id, ok: true, detail: `readable by the function's identity${when}` };
  if (c.result === 'forbidden') {
    const principal = env.IDENTITY_PRINCIPAL_ID?.trim() || '<IDENTITY_PRINCIPAL_ID from azd env get-values>';
    const role = env.CLUSTER_ROLE_DEFINITION_ID?.trim() || `<a role with ${REQUIRED_PERMISSION}>`;
    return {
      check: 'cluster',
      subject: c.id,
      ok: false,
      detail: `the function's identity may not read command results: ${c.detail}${when}`,
      fix: `add the cluster to AKS_CLUSTERS (or its group or subscription to AKS_CLUSTER_SCOPES) and run azd provision; or assign the role yourself: az role assignment create --assignee-object-id ${principal} --assignee-principal-type ServicePrincipal --role "${role}" --scope ${c.id}`,
    };
  }
  if (c.result === 'clusterNotFound')
    return {
      check: 'cluster',
      subject: c.id,
      ok: false,
      detail: `no such cluster: ${c.detail}`,
      fix: 'check the subscription, resource group and name',
    };
  return { check: 'cluster', subject: c.id, ok: false, detail: `${c.detail}${when}` };
}

/** Waits until the ledger says, for each target tested, delivered, skipped or failed (or the bound passes). */
async function notifyChecks(
  answer: DoctorAnswer,
  ledger: ReturnType<typeof openOperatorStores>['ledger'],
  waitSeconds: number,
  checks: Check[],
  clock: { sleep: (ms: number) => Promise<void>; now: () => number },
): Promise<void> {
  const deadline = clock.now() + waitSeconds * 1000;
  const done = (t: TargetState) => t.state === 'delivered' || t.state === 'skipped' || t.state === 'failed';
  let rows: TargetState[] = [];
  for (;;) {
    rows = (await ledger.load(doctorKey(answer.id))).targets;
    if (answer.notify.every((n) => rows.some((r) => r.name === n && done(r)))) break;
    if (clock.now() >= deadline) break;
    await clock.sleep(1000);
  }
  for (const name of answer.notify) {
    const row = rows.find((r) => r.name === name);
    if (row?.state === 'delivered')
      checks.push({
        check: 'notify',
        subject: name,
        ok: true,
        detail: `test notification delivered (doctor run ${doctorRunTag(answer.id)})${row.form === 'minimal' ? ', in the minimal form: the channel refused the full one' : ''}`,
      });
    else if (row?.state === 'skipped')
      checks.push({
        check: 'notify',
        subject: name,
        ok: null,
        detail: 'not sent (the function did not send it: a version that skips failure-only targets?)',
      });
    else if (row?.state === 'failed')
      checks.push({ check: 'notify', subject: name, ok: false, detail: `not delivered: ${row.lastError ?? 'failed'}` });
    else
      checks.push({
        check: 'notify',
        subject: name,
        ok: false,
        detail: `not delivered within ${waitSeconds}s${row?.lastError ? `: ${row.lastError}` : ''} (the function goes on trying for 10 minutes)`,
      });
  }
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
