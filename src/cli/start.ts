// How a command is started on a cluster as the caller, written once for `run` on one cluster and for each
// member of a fleet run: the checks of what the caller asked for, the caller's identity (its credential and
// ARM token, hence requestedBy), ARM's clients, the tracking message, and the start itself — the cluster read
// (is it AKS-managed Entra ID?), the AKS server token, runCommand's POST (never sent twice) and the tracking
// message enqueued once the command id is known. What each outcome means to the person is said by the caller
// (run.ts, fleet.ts); what a refused or doubtful start means is said here, the same for both.
import type { TokenCredential } from '@azure/identity';
import { createCommandResultReader, type CommandResultReader } from '../arm/commandResults';
import {
  AKS_SERVER_APP_ID,
  createRunCommandClient,
  RUN_COMMAND_ACTION,
  type ArmFailure,
  type RunCommandClient,
} from '../arm/runCommand';
import type { CallerSettings } from '../config';
import { clusterResourceId, type ClusterRef } from '../core/cluster';
import type { PollRequest } from '../core/message';
import { REQUIRED_PERMISSION } from '../core/report';
import { attachFiles } from './attach';
import { describeNoCredential } from './credentials';
import { buildMessage, enqueueCommandLine } from './enqueue';
import { RunError, type Io } from './io';
import type { ProducerQueue } from './producer';

/** What is started, on one cluster or on each of many: the command, and what its tracking message carries. */
export interface CommandRequest {
  command: string;
  targets?: string[];
  context?: string[];
}

/** The tracking message of one started command, as sent (or as a person would send it by hand). */
export interface TrackingMessage {
  request: PollRequest;
  text: string;
}

/** The command, its context and its targets, refused before anything is sent when the function would refuse them. */
export function checkCommandInput(input: CommandRequest, settings: CallerSettings): void {
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
}

/** The caller's identity: its credential, made when first needed, and its ARM token, asked for once. */
export interface Caller {
  credential(): TokenCredential;
  /** The caller's ARM token (whose name is requestedBy); no credential is a RunError saying which were tried. */
  armToken(): Promise<string>;
}

export function callerIdentity(settings: CallerSettings, credentialFactory: () => TokenCredential): Caller {
  let credential: TokenCredential | undefined;
  let armToken: string | undefined;
  const caller: Caller = {
    credential: () => (credential ??= credentialFactory()),
    async armToken() {
      if (armToken) return armToken;
      try {
        const token = await caller.credential().getToken(settings.armScope);
        if (!token) throw new Error('the credential returned no token');
        return (armToken = token.token);
      } catch (err) {
        throw new RunError(describeNoCredential(err));
      }
    },
  };
  return caller;
}

/** --file, zipped for runCommand's context; what it leaves out is said on stderr. */
export function attachedFiles(files: string[], io: Io): ReturnType<typeof attachFiles> {
  const attached = attachFiles(files);
  for (const line of attached?.skipped ?? []) io.err(`--file .: left out ${line}`);
  return attached;
}

/** ARM's runCommand as the caller (its retries said on stderr). */
export function runCommandClient(settings: CallerSettings, credential: TokenCredential, io: Io): RunCommandClient {
  return createRunCommandClient({
    endpoint: settings.armEndpoint,
    scope: settings.armScope,
    apiVersion: settings.aksApiVersion,
    credential,
    timeoutMs: settings.armTimeoutMs,
    onRetry: (line) => io.err(line),
  });
}

/** ARM's command results as the caller (--wait, `result`). */
export function callerResultReader(settings: CallerSettings, credential: TokenCredential): CommandResultReader {
  return createCommandResultReader({
    endpoint: settings.armEndpoint,
    scope: settings.armScope,
    apiVersion: settings.aksApiVersion,
    credential,
    timeoutMs: settings.armTimeoutMs,
  });
}

/**
 * The tracking message of a command started on a cluster: its command, targets and context, with requestedBy
 * from the caller's login, and the fleet run it belongs to, if any.
 */
export function trackingMessages(
  input: CommandRequest,
  requestedBy: string | undefined,
  groupId?: string,
): (cluster: ClusterRef, commandId: string) => TrackingMessage {
  const context = [...(input.context ?? []), ...(requestedBy ? [`requestedBy=${requestedBy}`] : [])];
  return (cluster, commandId) =>
    buildMessage({
      cluster: clusterResourceId(cluster),
      commandId,
      command: input.command,
      ...(input.targets ? { targets: input.targets } : {}),
      context,
      ...(groupId ? { groupId } : {}),
    });
}

/**
 * A token for the AKS server application, asked for once for every AKS-managed Entra ID cluster; a failure
 * is forgotten, so that the next cluster asks again.
 */
export function aksServerToken(credential: () => TokenCredential): () => Promise<string | undefined> {
  let token: Promise<string | undefined> | undefined;
  const ask = () =>
    credential()
      .getToken(`${AKS_SERVER_APP_ID}/.default`)
      .then((t) => t?.token);
  return async () => {
    try {
      return await (token ??= ask());
    } catch (err) {
      token = undefined;
      throw err;
    }
  };
}

/**
 * What a refused or doubtful start means, and what to do. `trackWith`: the `enqueue` command that would have
 * the command tracked if it did start (its id unknown: a placeholder), with the run's group, targets,
 * command and context.
 */
function explainStartFailure(
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

/** The first line of an error's message: what the CLI shows of an SDK's answer. */
export function firstLine(err: unknown): string {
  return (err as Error).message.split('\n')[0]!;
}

/**
 * A start, and what came of it. Not started: `reason` says why and what to do (explainStartFailure), and
 * `step` which step refused (for a missing AKS server token, `detail` is the credential's first line).
 * Started: its command id, when ARM answered, its tracking message, and the first line of the queue's
 * refusal when that message could not be sent (`byHand`: the `enqueue` command that sends it).
 */
export type StartOutcome =
  | {
      started: false;
      step: 'read' | 'start';
      outcome: 'couldNotStart' | 'startUnknown';
      reason: string;
    }
  | { started: false; step: 'aksToken'; outcome: 'couldNotStart'; reason: string; detail: string }
  | {
      started: true;
      commandId: string;
      startedAtMs: number;
      tracking: TrackingMessage;
      notEnqueued?: { error: string; byHand: string };
    };

/**
 * Starts the command on one cluster as the caller: reads the cluster, gets the AKS server token when it is
 * AKS-managed Entra ID, POSTs runCommand once (never again: a start in doubt is "startUnknown"), then
 * enqueues its tracking message.
 */
export async function startOnCluster(
  arm: RunCommandClient,
  cluster: ClusterRef,
  how: {
    command: string;
    /** The attached files, zipped and base64-encoded. */
    context?: string;
    aksToken: () => Promise<string | undefined>;
    tracking: (cluster: ClusterRef, commandId: string) => TrackingMessage;
    queue: ProducerQueue;
  },
): Promise<StartOutcome> {
  const clusterId = clusterResourceId(cluster);
  const managed = await arm.isEntraManaged(cluster);
  if (!managed.ok)
    return {
      started: false,
      step: 'read',
      outcome: 'couldNotStart',
      reason: explainStartFailure(managed, clusterId, 'read'),
    };
  let clusterToken: string | undefined;
  if (managed.managed) {
    try {
      clusterToken = await how.aksToken();
    } catch (err) {
      const detail = firstLine(err);
      return {
        started: false,
        step: 'aksToken',
        outcome: 'couldNotStart',
        reason: `no token for the AKS server application: ${detail}`,
        detail,
      };
    }
  }
  const started = await arm.start(cluster, {
    command: how.command,
    ...(how.context ? { context: how.context } : {}),
    ...(clusterToken ? { clusterToken } : {}),
  });
  if (!started.ok) {
    const trackWith = enqueueCommandLine({ ...how.tracking(cluster, 'x').request, commandId: '<command id>' });
    return {
      started: false,
      step: 'start',
      outcome: started.kind === 'unknown' ? 'startUnknown' : 'couldNotStart',
      reason: explainStartFailure(started, clusterId, 'start', trackWith),
    };
  }
  const startedAtMs = Date.now();
  // From here on the command runs: a failed send says how to track it by hand.
  const tracking = how.tracking(cluster, started.commandId);
  try {
    await how.queue.send(tracking.text);
  } catch (err) {
    return {
      started: true,
      commandId: started.commandId,
      startedAtMs,
      tracking,
      notEnqueued: { error: firstLine(err), byHand: enqueueCommandLine(tracking.request) },
    };
  }
  return { started: true, commandId: started.commandId, startedAtMs, tracking };
}
