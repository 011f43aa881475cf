// What each of doctor's checks found, and the fix when it failed: the function's targets, each cluster as
// the function's identity reads it, the test notification, and why the function did not answer (the
// ledger refused, the doctor message unread, taken, poisoned or behind a backlog). doctor.ts runs the
// checks in order and prints them.
import type { Env } from '../config';
import { doctorRunTag, type DoctorAnswer } from '../core/doctor';
import { REQUIRED_PERMISSION } from '../core/report';
import { doctorKey } from '../store/doctorRows';
import type { TargetState } from '../store/ledgerRows';
import { describeNoCredential, isNoCredential } from './credentials';
import type { openOperatorStores } from './operator';
import { storageAccountScope, type ProducerQueue } from './producer';

export interface Check {
  check: 'queue' | 'function' | 'target' | 'cluster' | 'notify';
  subject: string;
  /** null: not checked (an earlier check failed), or nothing to check. */
  ok: boolean | null;
  detail: string;
  fix?: string;
}

/** The function's targets (those asked about, or all), each with its checks, and those it does not know. */
export function targetChecks(first: DoctorAnswer, asked: string[] | undefined): Check[] {
  const out: Check[] = [];
  const shown = first.targets.filter((t) => !asked || asked.includes(t.name));
  if (first.targets.length === 0) {
    out.push({
      check: 'target',
      subject: '(none)',
      ok: false,
      detail: 'the function has no notification target',
      fix: 'set SLACK_WEBHOOK_URL or TEAMS_WEBHOOK_URL (azd env set, then azd provision), or NOTIFY_TARGETS (docs/settings.md)',
    });
  }
  for (const t of shown) {
    const failed = t.checks.filter((c) => !c.ok);
    out.push({
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
    out.push({
      check: 'target',
      subject: name,
      ok: false,
      detail: `not configured in the function app (it has: ${first.targets.map((t) => t.name).join(', ') || 'none'})`,
    });

  if (first.truncated)
    out.push({
      check: 'target',
      subject: '(more)',
      ok: null,
      detail: 'the answer was shortened to fit the ledger: some targets are not listed',
    });
  return out;
}

/** The ledger refused the read of doctor's answer: why, and for a 403 the role and its scope. */
export function ledgerRefused(err: unknown, table: string, env: Env): Check {
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
export async function unanswered(queue: ProducerQueue, id: string, waited: number, env: Env): Promise<Check> {
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

/** A cluster as the function's identity read it, and for a 403 the role to assign. */
export function clusterCheck(c: DoctorAnswer['clusters'][number], env: Env): Check {
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
export async function notifyChecks(
  answer: DoctorAnswer,
  ledger: ReturnType<typeof openOperatorStores>['ledger'],
  waitSeconds: number,
  checks: Check[],
  clock: { sleep: (ms: number) => Promise<void>; now: () => number },
): Promise<void> {
  const deadline = clock.now() + waitSeconds * 1000;
  const settled = (t: TargetState) => t.state === 'delivered' || t.state === 'skipped' || t.state === 'failed';
  let rows: TargetState[] = [];
  for (;;) {
    rows = (await ledger.load(doctorKey(answer.id))).targets;
    if (answer.notify.every((n) => rows.some((r) => r.name === n && settled(r)))) break;
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
