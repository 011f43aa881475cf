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
//
// The start on each member is start.ts's, as `run`'s on one cluster; the clusters are chosen in
// fleetClusters.ts, followed in fleetFollow.ts and shown in fleetReport.ts.
import { randomUUID } from 'node:crypto';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { callerName, type RunCommandClient } from '../arm/runCommand';
import { clusterResourceId, type ClusterRef } from '../core/cluster';
import { groupExitCode } from '../core/group';
import { parseQueueMessage, serializeGroupRequest, serializeNotStarted } from '../core/groupMessage';
import { contextStrings, MessageError } from '../core/message';
import { DEFAULT_MAX_PARALLEL_STARTS } from '../core/schedule';
import { loadCallerSettings, type Env } from '../config';
import { confirmSelection, selectClusters, type ClusterSelection, type Terminal } from './fleetClusters';
import { followFleet } from './fleetFollow';
import type { FleetMember } from './fleetMember';
import { fleetJson, fleetReport, printFleet } from './fleetReport';
import { EXIT, RunError, type Io } from './io';
import { explainSendFailure, openProducerQueue, type ProducerQueue } from './producer';
import type { RunInput } from './run';
import {
  aksServerToken,
  attachedFiles,
  callerIdentity,
  callerResultReader,
  checkCommandInput,
  firstLine,
  runCommandClient,
  startOnCluster,
  trackingMessages,
  type TrackingMessage,
} from './start';

export interface FleetInput extends Omit<RunInput, 'cluster'>, ClusterSelection {
  dryRun?: boolean;
  maxParallel?: number;
}

export async function runFleet(
  input: FleetInput,
  env: Env,
  io: Io,
  terminal: Terminal,
  credentialFactory: () => TokenCredential = () => new DefaultAzureCredential(),
): Promise<number> {
  const settings = loadCallerSettings(env);
  checkCommandInput(input, settings);
  const caller = callerIdentity(settings, credentialFactory);
  const clusters = await selectClusters(input, settings, caller, io);

  if (input.dryRun) {
    if (input.output === 'json') io.out(JSON.stringify({ clusters: clusters.map(clusterResourceId) }));
    else for (const c of clusters) io.out(clusterResourceId(c));
    io.err(`${clusters.length} cluster(s); --dry-run: nothing was started`);
    return 0;
  }
  await confirmSelection(input, clusters.length, terminal);

  // The messages, built (and so validated) before anything is sent.
  const groupId = randomUUID();
  const requestedBy = callerName(await caller.armToken());
  const tracking = trackingMessages(input, requestedBy, groupId);
  let declaration: string;
  try {
    const context = contextStrings(tracking(clusters[0]!, 'x').request.context);
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
  const attached = attachedFiles(input.files ?? [], io);
  const queue = openProducerQueue(env, caller.credential, input.queueUrl);
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

  const members = await startAll(runCommandClient(settings, caller.credential(), io), clusters, {
    command: input.command,
    ...(attached ? { context: attached.base64 } : {}),
    aksToken: aksServerToken(caller.credential),
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
  const followed = await followFleet(callerResultReader(settings, caller.credential()), settings, members, io);
  const report = fleetReport(groupId, members, input.command);
  if (input.output === 'json') io.out(JSON.stringify(fleetJson(groupId, members, report)));
  else printFleet(report, io);
  if (followed === 'interrupted') {
    io.err(`stopped following fleet run ${groupId}; the notifier still tracks it and will post its summary`);
    return EXIT.interrupted;
  }
  return groupExitCode(report.members);
}

/** Starts every member (start.ts), at most `maxParallel` at once; each start is one POST, never sent twice. */
async function startAll(
  arm: RunCommandClient,
  clusters: ClusterRef[],
  how: {
    command: string;
    context?: string;
    aksToken: () => Promise<string | undefined>;
    maxParallel: number;
    queue: ProducerQueue;
    tracking: (cluster: ClusterRef, commandId: string) => TrackingMessage;
    notStarted: (cluster: ClusterRef, outcome: 'couldNotStart' | 'startUnknown', reason: string) => string;
    io: Io;
  },
): Promise<FleetMember[]> {
  const members: FleetMember[] = clusters.map((cluster, index) => ({ cluster, index, start: 'couldNotStart' }));
  const recordNotStarted = async (m: FleetMember, outcome: 'couldNotStart' | 'startUnknown', reason: string) => {
    m.start = outcome;
    m.error = reason;
    how.io.err(
      `${m.cluster.resourceName}: ${outcome === 'startUnknown' ? 'start unknown' : 'could not start'}: ${reason}`,
    );
    await how.queue
      .send(how.notStarted(m.cluster, outcome, reason))
      .catch((err: unknown) =>
        how.io.err(
          `${m.cluster.resourceName}: the group could not be told (${firstLine(err)}); it shows this member as "start unknown"`,
        ),
      );
  };
  let next = 0;
  const startInTurn = async () => {
    for (let i = next++; i < members.length; i = next++) {
      const m = members[i]!;
      const started = await startOnCluster(arm, m.cluster, how);
      if (!started.started) {
        await recordNotStarted(m, started.outcome, started.reason);
        continue;
      }
      m.start = 'started';
      m.commandId = started.commandId;
      m.startedAtMs = started.startedAtMs;
      if (started.notEnqueued) {
        m.untracked = true;
        m.error = `started, but its tracking message could not be sent (${started.notEnqueued.error}); enqueue it by hand: ${started.notEnqueued.byHand}`;
        how.io.err(`${m.cluster.resourceName}: ${m.error}`);
      } else how.io.err(`${m.cluster.resourceName}: started ${started.commandId}`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(how.maxParallel, members.length)) }, startInTurn));
  return members;
}
