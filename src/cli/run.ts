// `aks-command-notifier run`: start a command on a cluster as the caller, and have the notifier track it.
// The caller's own identity starts it (so the cluster's audit trail names the person or pipeline); the
// notifier's identity stays read-only. Then the tracking message goes on the queue, and with --wait the
// CLI also follows the result here, with the notifier's schedule and deadline (no 300-second cap).
//
// Before the start, a probe message proves the caller may enqueue (nothing starts when the queue refuses).
// The start itself (the caller's identity, ARM's runCommand, the tracking message) is start.ts's, shared
// with a fleet run's members.
//
// Exit codes: the command's exit code when it ran (capped at 255), 1 when it failed or was canceled (or
// its result could not be read), 124 when waiting gave up, 2 when nothing was enqueued (the CLI's own
// errors, a refused start, or a start whose outcome is unknown: it may run, untracked), 130 when following
// was interrupted (the notifier keeps tracking).
import { randomBytes } from 'node:crypto';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { loadCallerSettings, type Env } from '../config';
import { clusterResourceId } from '../core/cluster';
import { CHECK_MESSAGE_TTL_SECONDS, serializeProbe } from '../core/doctorMessage';
import { parseClusterResourceId } from '../core/message';
import { callerName } from '../arm/runCommand';
import { buildMessage } from './enqueue';
import { follow, printResult, resultJson } from './follow';
import { EXIT, RunError, type Io } from './io';
import { describeNoCredential, isNoCredential } from './credentials';
import { explainSendFailure, openProducerQueue } from './producer';
import {
  aksServerToken,
  attachedFiles,
  callerIdentity,
  callerResultReader,
  checkCommandInput,
  runCommandClient,
  startOnCluster,
  trackingMessages,
  type CommandRequest,
} from './start';

export interface RunInput extends CommandRequest {
  cluster: string;
  files?: string[];
  wait?: boolean;
  output?: 'text' | 'json';
  raw?: boolean;
  queueUrl?: string;
}

export async function run(
  input: RunInput,
  env: Env,
  io: Io,
  credentialFactory: () => TokenCredential = () => new DefaultAzureCredential(),
): Promise<number> {
  // Everything that can be checked is checked before anything is sent.
  const settings = loadCallerSettings(env);
  const cluster = parseClusterResourceId(input.cluster);
  const clusterId = clusterResourceId(cluster);
  checkCommandInput(input, settings);
  // Validates cluster, targets and context as the function will (with a placeholder id).
  buildMessage({
    cluster: input.cluster,
    commandId: 'x',
    command: input.command,
    ...(input.targets ? { targets: input.targets } : {}),
    ...(input.context ? { context: input.context } : {}),
  });
  const attached = attachedFiles(input.files ?? [], io);
  const caller = callerIdentity(settings, credentialFactory);
  const queue = openProducerQueue(env, caller.credential, input.queueUrl);

  const armToken = await caller.armToken();
  // Before anything starts: a probe (the function drops it) proves this caller may enqueue, so that a queue
  // that refuses never leaves a started command that nobody tracks.
  try {
    await queue.send(serializeProbe({ probe: randomBytes(12).toString('hex') }), 0, CHECK_MESSAGE_TTL_SECONDS);
  } catch (err) {
    if (isNoCredential(err)) throw new RunError(describeNoCredential(err));
    throw new RunError(`nothing was started: ${explainSendFailure(err, queue, env)}`);
  }
  const requestedBy = callerName(armToken);
  const arm = runCommandClient(settings, caller.credential(), io);
  const started = await startOnCluster(arm, cluster, {
    command: input.command,
    ...(attached ? { context: attached.base64 } : {}),
    aksToken: aksServerToken(caller.credential),
    tracking: trackingMessages(input, requestedBy),
    queue,
  });
  if (!started.started)
    throw new RunError(
      started.step === 'aksToken'
        ? `the cluster uses AKS-managed Entra ID, and no token for the AKS server application could be had: ${started.detail}`
        : started.reason,
    );
  const commandId = started.commandId;
  if (started.notEnqueued) {
    io.err(
      `command ${commandId} started on ${cluster.resourceName}, but it could not be enqueued for notification: ${started.notEnqueued.error}`,
    );
    io.err(`enqueue it by hand: ${started.notEnqueued.byHand}`);
    if (input.output === 'json') io.out(JSON.stringify({ commandId, clusterResourceId: clusterId, enqueued: false }));
    return EXIT.failed;
  }
  const json = input.output === 'json';
  if (!json) {
    io.out(`command id: ${commandId}, cluster: ${clusterId}`);
    io.err(
      `started${attached ? ` with ${attached.files.length} file(s)` : ''}${requestedBy ? ` as ${requestedBy}` : ''}; the notifier tracks it on queue ${queue.name}`,
    );
  }
  if (!input.wait) {
    if (json) io.out(JSON.stringify({ commandId, clusterResourceId: clusterId, enqueued: true }));
    return 0;
  }
  const reader = callerResultReader(settings, caller.credential());
  const followed = await follow(reader, settings, cluster, commandId, io);
  if (followed === 'interrupted') {
    io.err(
      `stopped following command ${commandId}; the notifier still tracks it and will post the result. Follow it again with: aks-command-notifier result --cluster ${clusterId} --command-id ${commandId}`,
    );
    if (json) io.out(JSON.stringify({ commandId, clusterResourceId: clusterId, enqueued: true, result: null }));
    return EXIT.interrupted;
  }
  if (json) {
    const lines: string[] = [];
    const code = printResult(
      followed.answer,
      cluster,
      commandId,
      followed.waitedSeconds,
      { out: (l) => lines.push(l), err: () => undefined },
      input.raw,
    );
    io.out(
      JSON.stringify({
        commandId,
        clusterResourceId: clusterId,
        enqueued: true,
        result: { ...resultJson(followed.answer, input.raw), exitCodeOfCli: code },
      }),
    );
    return code;
  }
  return printResult(followed.answer, cluster, commandId, followed.waitedSeconds, io, input.raw);
}

/** The command id in what `az aks command invoke --no-wait` printed (or its "failed to fetch" line). */
export function commandIdFromAzOutput(text: string): string | undefined {
  const m = /command id:\s*([A-Za-z0-9_-]+)/i.exec(text);
  return m?.[1];
}
