// The function's side of `aks-command-notifier doctor` (core/doctorMessage.ts): a probe is dropped with a
// logged reason; a doctor message is answered in the ledger — the targets this app has and their checks
// (never a setting's value), and whether its identity may read each named cluster (a random command id:
// 404 means readable, 403 names the permission) — and, with `notify`, the fixed test notification goes
// to every target asked for through the one delivery path (claims, pacing, the minimal form, records), so
// that the ledger says for each whether it was delivered or why not.
import { randomBytes } from 'node:crypto';
import { clusterResourceId, subscriptionKey, type ClusterRef } from '../core/cluster';
import { clusterRead, testReport, type DoctorAnswer, type DoctorCluster, type DoctorTarget } from '../core/doctor';
import type { DoctorRequest, ProbeRequest } from '../core/doctorMessage';
import { serializeDoctor } from '../core/doctorMessage';
import { cappedRetryAfterSeconds, firstPollLeaseMs } from '../core/schedule';
import { escapeForLog } from '../core/text';
import type { Log } from '../log';
import type { Target } from '../notify/provider';
import { boundedClusterRead, doctorKey, writeDoctorAnswer } from '../store/doctorRows';
import type { CommandEntries } from '../store/ledgerRows';
import type { Journey, MessageMeta, MessageOutcome, PipelineDeps } from './context';
import { deliverAll } from './deliverAll';
import { endOnStoreError } from './requeue';

/** A doctor run's test notification is tried for this long, then given up (the CLI says why). */
const DOCTOR_DELIVERY_MS = 10 * 60_000;
/** Clusters are read this many at a time, and the answer is written after this long at most. */
const PARALLEL_READS = 5;
const CLUSTER_READS_MS = 20_000;

export function dropProbe(req: ProbeRequest, log: Log): MessageOutcome {
  const reason = `probe ${req.probe}: a producer checked that it may enqueue here; dropped`;
  log.info(reason);
  return { kind: 'recorded', reason };
}

export async function handleDoctor(
  req: DoctorRequest,
  raw: unknown,
  meta: MessageMeta,
  deps: PipelineDeps,
  log: Log,
): Promise<MessageOutcome> {
  const label = `doctor ${req.id}`;
  const book = req.bookkeeping ?? { attempt: 0 };
  const firstSeenMs = Math.min(deps.now(), Date.parse(book.firstSeenAt ?? '') || deps.now());
  // "default" stands for the default targets, as in a command's message.
  const named = [
    ...new Set((req.targets ?? [...deps.targets.keys()]).flatMap((n) => (n === 'default' ? deps.defaultTargets : [n]))),
  ];
  const known = named.filter((n) => deps.targets.has(n));
  const ctx: Journey = {
    raw,
    meta,
    deps,
    log,
    label,
    key: doctorKey(req.id),
    targets: known.map((n) => deps.targets.get(n)!),
    book,
    firstSeenMs,
    deadlineMs: firstSeenMs + DOCTOR_DELIVERY_MS,
    serialize: (bookkeeping) => serializeDoctor({ ...req, bookkeeping }),
  };
  try {
    // A delivery round (the message came back for targets not done yet) has answered already.
    if (book.stage !== 'deliver') {
      const answer = await answerOf(req, ctx, named, known);
      await writeDoctorAnswer(deps.ledger.store, answer);
      const unreadable = answer.clusters.filter((c) => c.result !== 'readable').length;
      log.info(
        `${label}: answered (${answer.targets.length} target(s), ${answer.clusters.length} cluster(s)${unreadable ? `, ${unreadable} not readable` : ''})`,
      );
    }
    if (!req.notify || known.length === 0) return { kind: 'recorded', reason: `${label}: answered` };
    return await notify(ctx, req);
  } catch (err) {
    return endOnStoreError(ctx, err);
  }
}

async function answerOf(req: DoctorRequest, ctx: Journey, named: string[], known: string[]): Promise<DoctorAnswer> {
  const { deps } = ctx;
  const targets = await Promise.all([...deps.targets.values()].map((t) => describeTarget(t, deps)));
  // A few at a time, all within one bound: the answer comes in time for the CLI whatever ARM does.
  const clusters: DoctorCluster[] = req.clusters.map((c) => ({
    id: clusterResourceId(c),
    result: 'error',
    detail: `not read within ${CLUSTER_READS_MS / 1000}s (ARM answers slowly); try again`,
  }));
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < req.clusters.length; i = next++) clusters[i] = await readCluster(req.clusters[i]!, deps);
  };
  await withinMs(Promise.all(Array.from({ length: PARALLEL_READS }, worker)), CLUSTER_READS_MS);
  return {
    v: 1,
    id: req.id,
    at: new Date(deps.now()).toISOString(),
    targets,
    defaultTargets: [...deps.defaultTargets],
    unknownTargets: named.filter((n) => !known.includes(n)),
    clusters: clusters.map((c) => ({ ...c })),
    notify: req.notify ? known : [],
  };
}

/**
 * One cluster's read: the last one when it is under a minute old, else ARM's answer to a random command id
 * — only when the app's shared read budget has a token now (a doctor read never delays a command's poll),
 * and what ARM says of the budget is fed back as a poll's answer is.
 */
async function readCluster(cluster: ClusterRef, deps: PipelineDeps): Promise<DoctorCluster> {
  const id = clusterResourceId(cluster);
  const sub = subscriptionKey(cluster);
  const r = await boundedClusterRead(deps.ledger.store, id, async () => {
    if (deps.readBudget && !(await deps.readBudget.tryNow(sub, deps.monotonic())))
      return {
        result: 'busy' as const,
        detail: "the app's ARM read budget for this subscription is in use by commands; try again in a minute",
      };
    const answer = await deps.arm.read(cluster, `doctor-${randomBytes(8).toString('hex')}`);
    deps.readBudget?.observe(sub, answer.remainingReads, deps.monotonic());
    if (answer.kind === 'transient' && answer.status === 429) {
      const holdSeconds = cappedRetryAfterSeconds(answer.retryAfterSeconds, deps.schedule.maxDelaySeconds);
      if (holdSeconds) deps.readBudget?.refused(sub, holdSeconds, deps.monotonic());
    }
    return clusterRead(answer);
  });
  return { id, result: r.result, detail: r.detail, ...(r.cached ? { readAt: r.readAt } : {}) };
}

/** Waits for `work`, or `ms` at most (what is not done by then is left to finish on its own). */
async function withinMs(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  try {
    await Promise.race([work.then(() => undefined), bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a target is and what can be checked of it without sending: never a setting's value. */
async function describeTarget(t: Target, deps: PipelineDeps): Promise<DoctorTarget> {
  const checks: DoctorTarget['checks'] = [{ name: 'settings', ok: true, detail: 'read and checked at start-up' }];
  const declared = t.provider.appTokenAudience;
  if (declared !== undefined) {
    const audience = typeof declared === 'function' ? declared(t.settings) : declared;
    if (!deps.appToken) checks.push({ name: 'app token', ok: false, detail: `no identity to ask for ${audience}` });
    else {
      try {
        await deps.appToken(audience);
        checks.push({ name: 'app token', ok: true, detail: `the app's identity has a token for ${audience}` });
      } catch (err) {
        const why = escapeForLog((err as Error).message.split('\n')[0] ?? '', 300);
        checks.push({ name: 'app token', ok: false, detail: `no token for ${audience}: ${why}` });
      }
    }
  }
  return {
    name: t.name,
    kind: t.kind,
    where: t.provider.describe(t.settings),
    isDefault: deps.defaultTargets.includes(t.name),
    notifyOn: t.notifyOn,
    clusters: t.scope.unrestricted ? 'all' : t.scope.sources.join(', '),
    checks,
  };
}

/** The test notification to every known target asked for, through the one delivery path. */
async function notify(ctx: Journey, req: DoctorRequest): Promise<MessageOutcome> {
  const { deps } = ctx;
  const firstSeenAt = new Date(ctx.firstSeenMs).toISOString();
  let entries: CommandEntries = await deps.ledger.register(
    ctx.key,
    {
      clusterResourceId: '',
      commandId: `doctor-${req.id}`,
      firstSeenAt,
      deadlineAt: new Date(ctx.deadlineMs).toISOString(),
      ...(ctx.meta.id ? { owner: ctx.meta.id } : {}),
      pollLeaseMs: firstPollLeaseMs(deps.schedule.initialDelaySeconds),
    },
    ctx.targets.map((t) => ({ name: t.name })),
  );
  let command = entries.command!;
  if (!command.deliverBy) {
    // Marked final with its own short delivery window: a test is not tried for DELIVERY_TIMEOUT_HOURS.
    const deliverBy = new Date(ctx.deadlineMs).toISOString();
    const written = await deps.ledger.writeCommand(ctx.key, command, {
      stage: 'final',
      finalAt: firstSeenAt,
      deliverBy,
    });
    if (written) command = written;
    else {
      entries = await deps.ledger.load(ctx.key);
      command = entries.command ?? command;
    }
  }
  const report = testReport(req.id, firstSeenAt);
  return deliverAll(ctx, entries, command, {
    finalAt: firstSeenAt,
    // The test names no cluster: no target's _CLUSTERS keeps it from one.
    allows: () => true,
    report: () => report,
  });
}
