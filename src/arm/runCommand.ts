// Starting a command as the *caller* (the CLI's `run`): GET the managed cluster (is it AKS-managed Entra
// ID?), POST runCommand, take the command id from the 202's Location. Same pipeline rules as the poller:
// https only, URLs from their templates only, no redirect followed, the token sent to ARM alone.
import type { TokenCredential } from '@azure/identity';
import { createDefaultHttpClient, createPipelineRequest, type HttpClient } from '@azure/core-rest-pipeline';
import { commandIdFromLocation, managedClusterUrl, runCommandUrl } from '../core/armUrl';
import type { ClusterRef } from '../core/message';
import { createArmPipeline } from './commandResults';

/** The AKS server application: a clusterToken for an Entra-ID cluster is minted for it, in every cloud. */
export const AKS_SERVER_APP_ID = '6dae42f8-4368-4678-94ff-3960e28e3630';
export const RUN_COMMAND_ACTION = 'Microsoft.ContainerService/managedClusters/runcommand/action';

export interface RunCommandBody {
  command: string;
  /** Base64 of a zip of the attached files. */
  context?: string;
  clusterToken?: string;
}

export type ArmFailure = { ok: false; kind: 'forbidden' | 'notFound' | 'conflict' | 'error'; status?: number; code?: string; message: string };

export interface RunCommandClient {
  /** Whether the cluster uses AKS-managed Entra ID (properties.aadProfile.managed), as the Azure CLI decides. */
  isEntraManaged(cluster: ClusterRef): Promise<{ ok: true; managed: boolean } | ArmFailure>;
  start(cluster: ClusterRef, body: RunCommandBody): Promise<{ ok: true; commandId: string } | ArmFailure>;
}

function cloudError(text: string): { code?: string; message?: string } {
  try {
    const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    return { ...(typeof e?.code === 'string' ? { code: e.code } : {}), ...(typeof e?.message === 'string' ? { message: e.message.slice(0, 500) } : {}) };
  } catch {
    return {};
  }
}

function failure(status: number, body: string, what: 'read the cluster' | 'start the command'): ArmFailure {
  const { code, message } = cloudError(body);
  const said = `${status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`;
  if (status === 401 || status === 403) return { ok: false, kind: 'forbidden', status, ...(code ? { code } : {}), message: `ARM answered ${said}` };
  if (status === 404) return { ok: false, kind: 'notFound', status, ...(code ? { code } : {}), message: `ARM answered ${said}` };
  if (status === 409) return { ok: false, kind: 'conflict', status, ...(code ? { code } : {}), message: `ARM answered ${said}` };
  return { ok: false, kind: 'error', status, ...(code ? { code } : {}), message: `could not ${what}: ARM answered ${said}` };
}

export function createRunCommandClient(options: { endpoint: string; scope: string; apiVersion: string; credential: TokenCredential; timeoutMs: number; httpClient?: HttpClient }): RunCommandClient {
  const pipeline = createArmPipeline(options.credential, options.scope);
  const httpClient = options.httpClient ?? createDefaultHttpClient();
  const origin = new URL(options.endpoint).origin;
  const send = async (url: string, method: 'GET' | 'POST', body?: unknown) => {
    if (new URL(url).origin !== origin) throw new Error('ARM URL left the ARM endpoint');
    const request = createPipelineRequest({ url, method, timeout: options.timeoutMs, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    request.headers.set('accept', 'application/json');
    if (body !== undefined) request.headers.set('content-type', 'application/json');
    return pipeline.sendRequest(httpClient, request);
  };
  return {
    async isEntraManaged(cluster) {
      const res = await send(managedClusterUrl(options.endpoint, cluster, options.apiVersion), 'GET');
      if (res.status !== 200) return failure(res.status, res.bodyAsText ?? '', 'read the cluster');
      try {
        const body = JSON.parse(res.bodyAsText ?? '{}') as { properties?: { aadProfile?: { managed?: unknown } } };
        return { ok: true, managed: body.properties?.aadProfile?.managed === true };
      } catch {
        return { ok: false, kind: 'error', status: res.status, message: 'ARM answered 200 with a cluster that is not JSON' };
      }
    },
    async start(cluster, body) {
      const res = await send(runCommandUrl(options.endpoint, cluster, options.apiVersion), 'POST', body);
      if (res.status !== 202 && res.status !== 200) return failure(res.status, res.bodyAsText ?? '', 'start the command');
      const commandId = commandIdFromLocation(res.headers.get('location') ?? res.headers.get('azure-asyncoperation'));
      if (!commandId) return { ok: false, kind: 'error', status: res.status, message: `ARM answered ${res.status} without a Location naming the command` };
      return { ok: true, commandId };
    },
  };
}

/** Who the caller is, from the ARM token's claims: upn, else unique_name, else the application (appid/azp). */
export function callerName(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    for (const claim of ['upn', 'unique_name', 'appid', 'azp']) {
      const v = claims[claim];
      if (typeof v === 'string' && v.trim()) return v.trim().slice(0, 256);
    }
  } catch {
    /* not a JWT */
  }
  return undefined;
}
