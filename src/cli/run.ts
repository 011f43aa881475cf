// `aks-command-notifier run`: start a command on a cluster as the caller, and have the notifier track it.
// The caller's own identity starts it (so the cluster's audit trail names the person or pipeline); the
// notifier's identity stays read-only. Then the tracking message goes on the queue, and with --wait the
// CLI also follows the result here, with the notifier's schedule and deadline (no 300-second cap).
//
// Before the start, a probe message proves the caller may enqueue (nothing starts when the queue refuses).
//
// Exit codes: the command's exit code when it ran (capped at 255), 1 when it failed or was canceled (or
// its result could not be read), 124 when waiting gave up, 2 when nothing was enqueued (the CLI's own
// errors, a refused start, or a start whose outcome is unknown: it may run, untracked), 130 when following
// was interrupted (the notifier keeps tracking).
import { randomBytes } from 'node:crypto';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { createCommandResultReader } from '../arm/commandResults';
import {
  AKS_SERVER_APP_ID,
  callerName,
  createRunCommandClient,
  RUN_COMMAND_ACTION,
  type ArmFailure,
} from '../arm/runCommand';
import { loadCallerSettings, type Env } from '../config';
import { clusterResourceId } from '../core/cluster';
import { REQUIRED_PERMISSION } from '../core/report';
import { CHECK_MESSAGE_TTL_SECONDS, serializeProbe } from '../core/doctorMessage';
import { parseClusterResourceId } from '../core/message';
import { attachFiles } from './attach';
import { buildMessage, enqueueCommandLine } from './enqueue';
import { follow, printResult, resultJson } from './follow';
import { EXIT, RunError, type Io } from './io';
import { describeNoCredential, isNoCredential } from './credentials';
import { explainSendFailure, openProducerQueue } from './producer';

export interface RunInput {
  cluster: string;
  command: string;
  files?: string[];
  targets?: string[];
  context?: string[];
  wait?: boolean;
  output?: 'text' | 'json';
  raw?: boolean;
  queueUrl?: string;
}

/**
 * What a refused or doubtful start means, and what to do. `trackWith`: the `enqueue` command that would have
 * the command tracked if it did start (its id unknown: a placeholder), with the run's group, targets,
 * command and context.
 */
export function explainStartFailure(
  f: ArmFailure,
  clusterId: string,
  step: 'read' | 'start',
  trackWith = `aks-command-notifier enqueue --cluster ${clusterId} --command-id '<command id>'`,
): string {
  if (f.kind === 'forbidden') {
    return step === 'read'
      ? `not allowed to read the cluster ${clusterId} (${f.message}). Starting a command needs Microsoft.ContainerService/managedClusters/read and ${RUN_COMMAND_ACTION}.`
      : `not allowed to run commands on ${clusterId} (${f.message}). Your identity needs ${RUN_COMMAND_ACTION}: built-in roles that have it are Azure Kubernetes Service Cluster Admin Role, Azure Kubernetes Service Contributor Role and Contributor (for --wait and result it also needs ${REQUIRED_PERMISSION}, which the Cluster Admin Role lacks).`;
  }
  if (f.kind === 'unknown') {
    return [
      `the command may have started on ${clusterId}: ${f.message}.`,
      `It was not sent again (a second request would start a second command), and nothing was enqueued.`,
      ...(f.requestId ? [`Request id (x-ms-client-request-id): ${f.requestId}`] : []),
      `To check: the cluster's Activity Log (az monitor activity-log list --resource-id ${clusterId} --offset 1h), or kubectl get pods -n aks-command (run command's pods, if it started).`,
      `If it started, have it tracked with: ${trackWith}`,
    ].join('\n');
  }
  if (f.kind === 'notFound')
    return `cluster ${clusterId} not found (${f.message}): check the subscription, resource group and name, and that your login sees that subscription.`;
  if (f.kind === 'conflict') {
    return `the cluster did not accept the command (${f.message}): it may be stopped (start it with az aks start), busy with another operation, or have run command disabled (apiServerAccessProfile.disableRunCommand).`;
  }
  return f.message;
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
  if (!input.command.trim()) throw new RunError('--command is empty');
  if ((input.context ?? []).some((pair) => /^requestedBy=/.test(pair))) {
    throw new RunError('--context requestedBy is set from your login (who ran the command) and cannot be given');
  }
  if (settings.knownTargets && input.targets) {
    const unknown = input.targets.filter((t) => t !== 'default' && !settings.knownTargets!.includes(t));
    if (unknown.length > 0)
      throw new RunError(
        `unknown --target ${unknown.join(', ')}; configured here: ${settings.knownTargets.join(', ')}`,
      );
  }
  // Validates cluster, targets and context as the function will (with a placeholder id).
  buildMessage({
    cluster: input.cluster,
    commandId: 'x',
    command: input.command,
    ...(input.targets ? { targets: input.targets } : {}),
    ...(input.context ? { context: input.context } : {}),
  });
  const attached = attachFiles(input.files ?? []);
  for (const line of attached?.skipped ?? []) io.err(`--file .: left out ${line}`);
  let credential: TokenCredential | undefined;
  const caller = () => (credential ??= credentialFactory());
  const queue = openProducerQueue(env, caller, input.queueUrl);

  let armToken: string;
  try {
    const token = await caller().getToken(settings.armScope);
    if (!token) throw new Error('the credential returned no token');
    armToken = token.token;
  } catch (err) {
    throw new RunError(describeNoCredential(err));
  }
  // Before anything starts: a probe (the function drops it) proves this caller may enqueue, so that a queue
  // that refuses never leaves a started command that nobody tracks.
  try {
    await queue.send(serializeProbe({ probe: randomBytes(12).toString('hex') }), 0, CHECK_MESSAGE_TTL_SECONDS);
  } catch (err) {
    if (isNoCredential(err)) throw new RunError(describeNoCredential(err));
    throw new RunError(`nothing was started: ${explainSendFailure(err, queue, env)}`);
  }
  const requestedBy = callerName(armToken);
  const arm = createRunCommandClient({
    endpoint: settings.armEndpoint,
    scope: settings.armScope,
    apiVersion: settings.aksApiVersion,
    credential: caller(),
    timeoutMs: settings.armTimeoutMs,
    onRetry: (line) => io.err(line),
  });
  const managed = await arm.isEntraManaged(cluster);
  if (!managed.ok) throw new RunError(explainStartFailure(managed, clusterId, 'read'));
  let clusterToken: string | undefined;
  if (managed.managed) {
    try {
      clusterToken = (await caller().getToken(`${AKS_SERVER_APP_ID}/.default`))?.token;
    } catch (err) {
      throw new RunError(
        `the cluster uses AKS-managed Entra ID, and no token for the AKS server application could be had: ${(err as Error).message.split('\n')[0]}`,
      );
    }
  }
  // The tracking message, as sent (or as a person would send it by hand, when a send fails).
  const context = [...(input.context ?? []), ...(requestedBy ? [`requestedBy=${requestedBy}`] : [])];
  const tracking = (commandId: string) =>
    buildMessage({
      cluster: clusterId,
      commandId,
      command: input.command,
      ...(input.targets ? { targets: input.targets } : {}),
      context,
    });
  const started = await arm.start(cluster, {
    command: input.command,
    ...(attached ? { context: attached.base64 } : {}),
    ...(clusterToken ? { clusterToken } : {}),
  });
  if (!started.ok)
    throw new RunError(
      explainStartFailure(
        started,
        clusterId,
        'start',
        enqueueCommandLine({ ...tracking('x').request, commandId: '<command id>' }),
      ),
    );
  const commandId = started.commandId;

  // From here on the command runs: failures say how to track it by hand.
  const { text, request } = tracking(commandId);
  try {
    await queue.send(text);
  } catch (err) {
    io.err(
      `command ${commandId} started on ${cluster.resourceName}, but it could not be enqueued for notification: ${(err as Error).message.split('\n')[0]}`,
    );
    io.err(`enqueue it by hand: ${enqueueCommandLine(request)}`);
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
  const reader = createCommandResultReader({
    endpoint: settings.armEndpoint,
    scope: settings.armScope,
    apiVersion: settings.aksApiVersion,
    credential: caller(),
    timeoutMs: settings.armTimeoutMs,
  });
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
