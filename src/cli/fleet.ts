// `run` on a fleet: one command on many clusters (--cluster more than once, --clusters <file>,
// --graph-query), reported as one group (core/group.ts, docs/fleet.md).
//
// Everything that can be checked is checked before anything starts: the clusters (at most 200), the
// command, the targets, the confirmation (more than 10 from a file or a query, on a terminal; --yes
// without one). Then the group is declared — one queue message naming every planned member — before any
// start; the starts run with the caller's identity, at most --max-parallel at once, never sent twice (a
// 429 is waited out, a start in doubt is "start unknown"); each started member gets its tracking message,
// each other one a message saying why it did not start. A cluster that cannot start never stops the others.
//
// --wait follows every member within the caller's read budget and prints the group's table; exit codes,
// first match wins: 1 a member failed or exited non-zero, 3 some could not start (or their start is
// unknown), 124 some were still running at their deadline, 0 all succeeded; 2 the CLI's own errors before
// anything started, 130 interrupted.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { createCommandResultReader, type CommandResultReader } from '../arm/commandResults';
import { queryManagedClusterIds } from '../arm/resourceGraph';
import { AKS_SERVER_APP_ID, callerName, createRunCommandClient, type RunCommandClient } from '../arm/runCommand';
import { describeRead, type ArmRead } from '../core/armAnswer';
import { clusterResourceId, subscriptionKey, type ClusterRef } from '../core/cluster';
import {
  groupExitCode,
  groupSummary,
  MAX_GROUP_MEMBERS,
  memberId,
  memberResult,
  notStartedLine,
  type GroupReport,
  type MemberState,
} from '../core/group';
import { memberRow, progressKey, progressLine, TABLE_HEADER } from '../core/groupWords';
import { formatTable } from '../core/text';
import { parseQueueMessage, serializeGroupRequest, serializeNotStarted } from '../core/groupMessage';
import { contextStrings, MessageError, parseClusterResourceId, type PollRequest } from '../core/message';
import { buildReport, finalAnswer, timedOutAnswer, type FinalAnswer } from '../core/report';
import {
  CALLER_READ_RATE,
  CONFIRM_ABOVE_CLUSTERS,
  DEFAULT_MAX_PARALLEL_STARTS,
  pollDelaySeconds,
  pollWindow,
} from '../core/schedule';
import { TokenBuckets } from '../core/tokenBucket';
import { loadCallerSettings, type CallerSettings, type Env } from '../config';
import { attachFiles } from './attach';
import { buildMessage, enqueueCommandLine } from './enqueue';
import { EXIT, RunError, type Io } from './io';
import { explainSendFailure, openProducerQueue, type ProducerQueue } from './producer';
import { describeNoCredential } from './credentials';
import { explainStartFailure, type RunInput } from './run';

export interface FleetInput extends Omit<RunInput, 'cluster'> {
  /** --cluster, as often as given. */
  clusters?: string[];
  clustersFile?: string;
  graphQuery?: string;
  dryRun?: boolean;
  yes?: boolean;
  maxParallel?: number;
}

/** Where the CLI runs: whether a person can answer, and how to ask. */
export interface Terminal {
  interactive: boolean;
  confirm(question: string): Promise<boolean>;
}

export interface FleetMember {
  cluster: ClusterRef;
  index: number;
  start: 'started' | 'couldNotStart' | 'startUnknown';
  commandId?: string;
  /** Why it did not start (the whole explanation), or that its tracking message could not be sent. */
  error?: string;
  startedAtMs?: number;
  /** Started, but its tracking message could not be sent: the notifier's summary shows it as "start unknown". */
  untracked?: boolean;
  answer?: FinalAnswer;
  waitedSeconds?: number;
}

/** Whether these options make a fleet run (one --cluster alone keeps `run` as it was). */
export function isFleet(input: { clusters?: string[]; clustersFile?: string; graphQuery?: string }): boolean {
  return (input.clusters?.length ?? 0) > 1 || input.clustersFile !== undefined || input.graphQuery !== undefined;
}

/** One resource id a line; blank lines and lines starting with # are skipped. */
export function parseClustersFile(text: string, name: string): ClusterRef[] {
  const out: ClusterRef[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    try {
      out.push(parseClusterResourceId(line));
    } catch (err) {
      throw new RunError(`${name}, line ${i + 1}: ${(err as Error).message}`);
    }
  });
  return out;
}

function unique(clusters: ClusterRef[]): ClusterRef[] {
  const seen = new Set<string>();
  return clusters.filter((c) => (seen.has(memberId(c)) ? false : (seen.add(memberId(c)), true)));
}

export async function runFleet(
  input: FleetInput,
  env: Env,
  io: Io,
  terminal: Terminal,
  credentialFactory: () => TokenCredential = () => new DefaultAzureCredential(),
): Promise<number> {
  const settings = loadCallerSettings(env);
  if (!input.command.trim()) throw new RunError('--command is empty');
  if ((input.context ?? []).some((pair) => /^requestedBy=/.test(pair)))
    throw new RunError('--context requestedBy is set from your login (who ran the command) and cannot be given');
  if (settings.knownTargets && input.targets) {
    const unknown = input.targets.filter((t) => t !== 'default' && !settings.knownTargets!.includes(t));
    if (unknown.length > 0)
      throw new RunError(
        `unknown --target ${unknown.join(', ')}; configured here: ${settings.knownTargets.join(', ')}`,
      );
  }
  let credential: TokenCredential | undefined;
  const caller = () => (credential ??= credentialFactory());
  let armToken: string | undefined;
  const tokenForArm = async () => {
    if (armToken) return armToken;
    try {
      const token = await caller().getToken(settings.armScope);
      if (!token) throw new Error('the credential returned no token');
      return (armToken = token.token);
    } catch (err) {
      throw new RunError(describeNoCredential(err));
    }
  };

  // Which clusters: every way given, in order, each once.
  const chosen: ClusterRef[] = [];
  for (const id of input.clusters ?? []) {
    try {
      chosen.push(parseClusterResourceId(id));
    } catch (err) {
      throw new RunError(`--cluster ${id.slice(0, 200)}: ${(err as Error).message}`);
    }
  }
  if (input.clustersFile !== undefined) {
    let text: string;
    try {
      text = input.clustersFile === '-' ? readFileSync(0, 'utf8') : readFileSync(input.clustersFile, 'utf8');
    } catch (err) {
      throw new RunError(`--clusters ${input.clustersFile}: ${(err as Error).message}`);
    }
    chosen.push(...parseClustersFile(text, input.clustersFile));
  }
  if (input.graphQuery !== undefined) {
    if (!input.graphQuery.trim()) throw new RunError('--graph-query is empty');
    await tokenForArm();
    let ids: string[];
    try {
      ids = await queryManagedClusterIds(
        {
          endpoint: settings.armEndpoint,
          scope: settings.armScope,
          credential: caller(),
          timeoutMs: settings.armTimeoutMs,
        },
        input.graphQuery,
      );
    } catch (err) {
      throw new RunError(`--graph-query: ${(err as Error).message}`);
    }
    for (const id of ids) {
      try {
        chosen.push(parseClusterResourceId(id));
      } catch {
        io.err(`--graph-query: left out ${id.slice(0, 300)} (not a managed cluster id)`);
      }
    }
  }
  const clusters = unique(chosen);
  if (clusters.length === 0) throw new RunError('no clusters were selected: nothing was started');
  if (clusters.length > MAX_GROUP_MEMBERS)
    throw new RunError(
      `${clusters.length} clusters selected; a fleet run takes at most ${MAX_GROUP_MEMBERS}: nothing was started`,
    );

  if (input.dryRun) {
    if (input.output === 'json') io.out(JSON.stringify({ clusters: clusters.map(clusterResourceId) }));
    else for (const c of clusters) io.out(clusterResourceId(c));
    io.err(`${clusters.length} cluster(s); --dry-run: nothing was started`);
    return 0;
  }
  const fromSelection = input.clustersFile !== undefined || input.graphQuery !== undefined;
  if (fromSelection && clusters.length > CONFIRM_ABOVE_CLUSTERS && !input.yes) {
    if (!terminal.interactive)
      throw new RunError(
        `${clusters.length} clusters selected (more than ${CONFIRM_ABOVE_CLUSTERS} from a file or a query): pass --yes to run on all of them, or --dry-run to list them; nothing was started`,
      );
    if (!(await terminal.confirm(`Run the command on ${clusters.length} clusters? [y/N] `)))
      throw new RunError('not confirmed: nothing was started');
  }

  // The messages, built (and so validated) before anything is sent.
  const groupId = randomUUID();
  const token = await tokenForArm();
  const requestedBy = callerName(token);
  const contextPairs = [...(input.context ?? []), ...(requestedBy ? [`requestedBy=${requestedBy}`] : [])];
  const tracking = (cluster: ClusterRef, commandId: string) =>
    buildMessage({
      cluster: clusterResourceId(cluster),
      commandId,
      command: input.command,
      ...(input.targets ? { targets: input.targets } : {}),
      context: contextPairs,
      groupId,
    });
  let declaration: string;
  try {
    const probe = buildMessage({
      cluster: clusterResourceId(clusters[0]!),
      commandId: 'x',
      command: input.command,
      ...(input.targets ? { targets: input.targets } : {}),
      context: contextPairs,
    }).request;
    const context = contextStrings(probe.context);
    declaration = serializeGroupRequest({
      groupId,
      members: clusters,
      command: input.command,
      ...(input.targets ? { targets: input.targets } : {}),
      ...(context ? { context } : {}),
    });
    // Read back as the function will: a declaration it would refuse (too large for a queue message, with
    // long ids and a long command) is refused here, before anything is started.
    parseQueueMessage(declaration);
  } catch (err) {
    if (err instanceof MessageError)
      throw new RunError(`the fleet run's declaration: ${err.message}; nothing was started`);
    throw err;
  }
  const attached = attachFiles(input.files ?? []);
  for (const line of attached?.skipped ?? []) io.err(`--file .: left out ${line}`);
  const queue = openProducerQueue(env, caller, input.queueUrl);
  try {
    await queue.send(declaration);
  } catch (err) {
    // The declaration is the fleet run's proof that it may enqueue: nothing starts without it.
    throw new RunError(
      `the fleet run could not be declared on the queue: ${explainSendFailure(err, queue, env)}; nothing was started`,
    );
  }
  io.err(
    `fleet run ${groupId}: ${clusters.length} clusters, declared on queue ${queue.name}${requestedBy ? `, as ${requestedBy}` : ''}`,
  );

  const arm = createRunCommandClient({
    endpoint: settings.armEndpoint,
    scope: settings.armScope,
    apiVersion: settings.aksApiVersion,
    credential: caller(),
    timeoutMs: settings.armTimeoutMs,
    onRetry: (line) => io.err(line),
  });
  const members = await startAll(arm, caller, clusters, {
    command: input.command,
    ...(attached ? { context: attached.base64 } : {}),
    maxParallel: input.maxParallel ?? DEFAULT_MAX_PARALLEL_STARTS,
    queue,
    tracking,
    notStarted: (cluster, outcome, reason) =>
      serializeNotStarted({ groupId, cluster, outcome, reason: reason.split('\n')[0]! }),
    io,
  });
  const started = members.filter((m) => m.start === 'started').length;
  io.err(`fleet run ${groupId}: ${started} of ${members.length} started; the notifier reports the group`);

  if (!input.wait) {
    if (input.output === 'json') io.out(JSON.stringify(fleetJson(groupId, members, undefined)));
    else io.out(`fleet run: ${groupId}, ${started} of ${members.length} started`);
    // A member whose tracking message could not be sent is "start unknown" to the notifier: so it is here.
    return members.some((m) => m.start !== 'started' || m.untracked) ? 3 : 0;
  }
  const reader = createCommandResultReader({
    endpoint: settings.armEndpoint,
    scope: settings.armScope,
    apiVersion: settings.aksApiVersion,
    credential: caller(),
    timeoutMs: settings.armTimeoutMs,
  });
  const followed = await followFleet(reader, settings, members, io);
  const report = fleetReport(groupId, members, input.command);
  if (input.output === 'json') io.out(JSON.stringify(fleetJson(groupId, members, report)));
  else printFleet(report, io);
  if (followed === 'interrupted') {
    io.err(`stopped following fleet run ${groupId}; the notifier still tracks it and will post its summary`);
    return EXIT.interrupted;
  }
  return groupExitCode(report.members);
}

/** Starts every member, at most `maxParallel` at once; each start is one POST, never sent twice. */
async function startAll(
  arm: RunCommandClient,
  caller: () => TokenCredential,
  clusters: ClusterRef[],
  how: {
    command: string;
    context?: string;
    maxParallel: number;
    queue: ProducerQueue;
    tracking: (cluster: ClusterRef, commandId: string) => { request: PollRequest; text: string };
    notStarted: (cluster: ClusterRef, outcome: 'couldNotStart' | 'startUnknown', reason: string) => string;
    io: Io;
  },
): Promise<FleetMember[]> {
  const members: FleetMember[] = clusters.map((cluster, index) => ({ cluster, index, start: 'couldNotStart' }));
  // One token for the AKS server application serves every Entra-ID cluster.
  let clusterToken: Promise<string | undefined> | undefined;
  const aksToken = () =>
    (clusterToken ??= caller()
      .getToken(`${AKS_SERVER_APP_ID}/.default`)
      .then((t) => t?.token));
  const tell = async (m: FleetMember, outcome: 'couldNotStart' | 'startUnknown', reason: string) => {
    m.start = outcome;
    m.error = reason;
    how.io.err(
      `${m.cluster.resourceName}: ${outcome === 'startUnknown' ? 'start unknown' : 'could not start'}: ${reason}`,
    );
    await how.queue
      .send(how.notStarted(m.cluster, outcome, reason))
      .catch((err: unknown) =>
        how.io.err(
          `${m.cluster.resourceName}: the group could not be told (${(err as Error).message.split('\n')[0]}); it shows this member as "start unknown"`,
        ),
      );
  };
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < members.length; i = next++) {
      const m = members[i]!;
      const id = clusterResourceId(m.cluster);
      const managed = await arm.isEntraManaged(m.cluster);
      if (!managed.ok) {
        await tell(m, 'couldNotStart', explainStartFailure(managed, id, 'read'));
        continue;
      }
      let token: string | undefined;
      if (managed.managed) {
        try {
          token = await aksToken();
        } catch (err) {
          clusterToken = undefined;
          await tell(
            m,
            'couldNotStart',
            `no token for the AKS server application: ${(err as Error).message.split('\n')[0]}`,
          );
          continue;
        }
      }
      const started = await arm.start(m.cluster, {
        command: how.command,
        ...(how.context ? { context: how.context } : {}),
        ...(token ? { clusterToken: token } : {}),
      });
      if (!started.ok) {
        const trackWith = enqueueCommandLine({ ...how.tracking(m.cluster, 'x').request, commandId: '<command id>' });
        await tell(
          m,
          started.kind === 'unknown' ? 'startUnknown' : 'couldNotStart',
          explainStartFailure(started, id, 'start', trackWith),
        );
        continue;
      }
      m.start = 'started';
      m.commandId = started.commandId;
      m.startedAtMs = Date.now();
      const tracking = how.tracking(m.cluster, started.commandId);
      try {
        await how.queue.send(tracking.text);
        how.io.err(`${m.cluster.resourceName}: started ${started.commandId}`);
      } catch (err) {
        m.untracked = true;
        m.error = `started, but its tracking message could not be sent (${(err as Error).message.split('\n')[0]}); enqueue it by hand: ${enqueueCommandLine(tracking.request)}`;
        how.io.err(`${m.cluster.resourceName}: ${m.error}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(how.maxParallel, members.length)) }, worker));
  return members;
}

/** Follows every started member with the notifier's schedule, each to its own deadline, within the caller's read budget. */
async function followFleet(
  reader: CommandResultReader,
  settings: CallerSettings,
  members: FleetMember[],
  io: Io,
): Promise<'done' | 'interrupted'> {
  const nap = io.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const budget = new TokenBuckets(CALLER_READ_RATE);
  let stop = false;
  void io.interrupted?.then(() => (stop = true));
  const state = members
    .filter((m) => m.start === 'started' && m.commandId)
    .map((m) => ({
      m,
      dueAt: m.startedAtMs!,
      deadline: pollWindow({ nowMs: m.startedAtMs!, timeoutMinutes: settings.poll.timeoutMinutes }).deadlineMs,
      lastDelay: undefined as number | undefined,
      slotPaid: false,
    }));
  let shown = '';
  for (;;) {
    const open = state.filter((s) => !s.m.answer);
    if (open.length === 0 || stop) break;
    const now = Date.now();
    const due = open.filter((s) => s.dueAt <= now);
    await Promise.all(
      due.map(async (s) => {
        // A slot beyond the burst is paid for when it is given: come back at it and read, without taking again
        // (taking at every return would put each member further back, and none would ever read).
        if (!s.slotPaid) {
          const wait = await budget.take(subscriptionKey(s.m.cluster), Date.now());
          if (wait > 0) {
            s.slotPaid = true;
            s.dueAt = Date.now() + wait;
            return;
          }
        }
        s.slotPaid = false;
        const answer: ArmRead = await reader.read(s.m.cluster, s.m.commandId!);
        const waitedSeconds = (Date.now() - s.m.startedAtMs!) / 1000;
        if (answer.kind === 'transient' && answer.status === 429 && answer.retryAfterSeconds)
          budget.refused(subscriptionKey(s.m.cluster), answer.retryAfterSeconds, Date.now());
        const final = finalAnswer(answer);
        if (final || Date.now() >= s.deadline) {
          s.m.answer = final ?? timedOutAnswer(answer);
          s.m.waitedSeconds = waitedSeconds;
          return;
        }
        const delay = pollDelaySeconds(settings.poll, answer, {
          elapsedSeconds: waitedSeconds,
          remainingSeconds: Math.max(1, (s.deadline - Date.now()) / 1000),
          random: Math.random(),
          ...(s.lastDelay !== undefined ? { lastDelaySeconds: s.lastDelay } : {}),
        });
        s.lastDelay = delay;
        s.dueAt = Date.now() + delay * 1000;
        if (answer.kind === 'transient') io.err(`${s.m.cluster.resourceName}: ${describeRead(answer)}`);
      }),
    );
    const report = fleetReport('', members, undefined, false);
    if (progressKey(report) !== shown) {
      shown = progressKey(report);
      io.err(progressLine(report));
    }
    const left = state.filter((s) => !s.m.answer);
    if (left.length === 0) break;
    const soonest = Math.min(...left.map((s) => s.dueAt));
    await Promise.race([nap(Math.max(50, soonest - Date.now())), io.interrupted ?? new Promise(() => undefined)]);
  }
  return stop ? 'interrupted' : 'done';
}

/** The members as the group's summary shows them (the same functions the notifier uses). */
export function fleetReport(groupId: string, members: FleetMember[], command?: string, final = true): GroupReport {
  const states: MemberState[] = members.map((m) => {
    if (m.start !== 'started') {
      return {
        cluster: m.cluster,
        index: m.index,
        state: 'notStarted',
        outcome: m.start,
        ...(m.error ? { error: notStartedLine(m.error) } : {}),
      };
    }
    if (!m.answer) return { cluster: m.cluster, index: m.index, state: 'tracked', commandId: m.commandId! };
    const report = buildReport(
      { cluster: m.cluster, commandId: m.commandId!, waitedSeconds: m.waitedSeconds ?? 0 },
      m.answer,
    );
    return { cluster: m.cluster, index: m.index, state: 'final', commandId: m.commandId!, ...memberResult(report) };
  });
  return groupSummary({
    groupId,
    members: states,
    ...(command !== undefined ? { command } : {}),
    startedAt: new Date(Math.min(...members.map((m) => m.startedAtMs ?? Date.now()))).toISOString(),
    final,
  });
}

function printFleet(report: GroupReport, io: Io): void {
  for (const line of formatTable([[...TABLE_HEADER], ...report.members.map(memberRow)])) io.out(line);
  io.out(progressLine(report));
}

function fleetJson(groupId: string, members: FleetMember[], report: GroupReport | undefined) {
  const byId = new Map(report?.members.map((l) => [memberId(l.cluster), l]));
  return {
    groupId,
    ...(report ? { exitCode: groupExitCode(report.members), counts: report.counts } : {}),
    members: members.map((m) => {
      const line = byId.get(memberId(m.cluster));
      return {
        clusterResourceId: clusterResourceId(m.cluster),
        start: m.start,
        ...(m.commandId ? { commandId: m.commandId } : {}),
        ...(line ? { outcome: line.outcome } : {}),
        ...(line?.exitCode !== undefined ? { exitCode: line.exitCode } : {}),
        ...(line?.durationSeconds !== undefined ? { durationSeconds: line.durationSeconds } : {}),
        ...((line?.error ?? m.error) ? { error: line?.error ?? m.error } : {}),
      };
    }),
  };
}
