// Starting a command as the *caller* (the CLI's `run`): GET the managed cluster (is it AKS-managed Entra
// ID?), POST runCommand, take the command id from the 202's Location. As for the poller: https only, URLs
// from their templates only, no redirect followed, the token sent to ARM alone.
//
// The GET is a read and is retried like the poller's reads. The POST is not idempotent: a second one
// starts a second command. So it is sent without the retry policy, and tried again only when it provably
// never ran: it never reached the HTTP client (no token), its connection was never made (refused, no DNS
// answer), or ARM refused it with a 429 (after its Retry-After). Anything else without an answer — a
// reset, a timeout, a 5xx or 408 from a gateway — is reported as unknown, with the request's
// x-ms-client-request-id, and never sent again.
import { createDefaultHttpClient, createPipelineRequest, isRestError } from '@azure/core-rest-pipeline';
import { retryAfterSeconds } from '../core/armAnswer';
import { commandIdFromLocation, managedClusterUrl, runCommandUrl } from '../core/armUrl';
import type { ClusterRef } from '../core/cluster';
import { startRetryDelaySeconds } from '../core/schedule';
import { createArmPipeline, headersOf, type ArmClientOptions } from './commandResults';

/** The AKS server application: a clusterToken for an Entra-ID cluster is minted for it, in every cloud. */
export const AKS_SERVER_APP_ID = '6dae42f8-4368-4678-94ff-3960e28e3630';
export const RUN_COMMAND_ACTION = 'Microsoft.ContainerService/managedClusters/runcommand/action';

interface RunCommandBody {
  command: string;
  /** Base64 of a zip of the attached files. */
  context?: string;
  clusterToken?: string;
}

export type ArmFailure = {
  ok: false;
  /** `unknown`: the POST may have started the command (no answer, or a gateway's 5xx); never retried. */
  kind: 'forbidden' | 'notFound' | 'conflict' | 'error' | 'unknown';
  status?: number;
  code?: string;
  message: string;
  /** The x-ms-client-request-id of the request in doubt (the cluster's Activity Log names it). */
  requestId?: string;
};

export interface RunCommandClient {
  /** Whether the cluster uses AKS-managed Entra ID (properties.aadProfile.managed), as the Azure CLI decides. */
  isEntraManaged(cluster: ClusterRef): Promise<{ ok: true; managed: boolean } | ArmFailure>;
  start(cluster: ClusterRef, body: RunCommandBody): Promise<{ ok: true; commandId: string } | ArmFailure>;
}

function cloudError(text: string): { code?: string; message?: string } {
  try {
    const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    return {
      ...(typeof e?.code === 'string' ? { code: e.code } : {}),
      ...(typeof e?.message === 'string' ? { message: e.message.slice(0, 500) } : {}),
    };
  } catch {
    return {};
  }
}

function failure(status: number, body: string, what: 'read the cluster' | 'start the command'): ArmFailure {
  const { code, message } = cloudError(body);
  const said = `${status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`;
  if (status === 401 || status === 403)
    return { ok: false, kind: 'forbidden', status, ...(code ? { code } : {}), message: `ARM answered ${said}` };
  if (status === 404)
    return { ok: false, kind: 'notFound', status, ...(code ? { code } : {}), message: `ARM answered ${said}` };
  if (status === 409)
    return { ok: false, kind: 'conflict', status, ...(code ? { code } : {}), message: `ARM answered ${said}` };
  return {
    ok: false,
    kind: 'error',
    status,
    ...(code ? { code } : {}),
    message: `could not ${what}: ARM answered ${said}`,
  };
}

/** Error codes of a connection that was never made (refused, or no address): the request cannot have reached ARM. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

function describeSendError(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string };
  if (e?.name === 'AbortError') return 'ARM did not answer in time';
  return `${e?.code ?? e?.name ?? 'error'}: ${(e?.message ?? String(err))
    .replace(/https?:\/\/\S+/g, '<url>')
    .split('\n')[0]!
    .slice(0, 200)}`;
}

export function createRunCommandClient(
  options: Omit<ArmClientOptions, 'now'> & {
    sleep?: (ms: number) => Promise<void>;
    /** Told of each wait before a retry. */ onRetry?: (line: string) => void;
  },
): RunCommandClient {
  const reads = createArmPipeline(options.credential, options.scope);
  const writes = createArmPipeline(options.credential, options.scope, { retry: false });
  // Requests signed and handed to the HTTP client: from here on, a failure may come after ARM took it.
  const handedOver = new Set<string>();
  writes.addPolicy(
    { name: 'handedOver', sendRequest: (req, next) => (handedOver.add(req.requestId), next(req)) },
    { afterPhase: 'Sign' },
  );
  const httpClient = options.httpClient ?? createDefaultHttpClient();
  const nap = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const origin = new URL(options.endpoint).origin;
  const request = (url: string, method: 'GET' | 'POST', body?: unknown) => {
    if (new URL(url).origin !== origin) throw new Error('ARM URL left the ARM endpoint');
    const req = createPipelineRequest({
      url,
      method,
      timeout: options.timeoutMs,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    req.headers.set('accept', 'application/json');
    if (body !== undefined) req.headers.set('content-type', 'application/json');
    return req;
  };
  const send = (url: string, method: 'GET') => reads.sendRequest(httpClient, request(url, method));
  return {
    async isEntraManaged(cluster) {
      let res;
      try {
        res = await send(managedClusterUrl(options.endpoint, cluster, options.apiVersion), 'GET');
      } catch (err) {
        return { ok: false, kind: 'error', message: `could not read the cluster: ${describeSendError(err)}` };
      }
      if (res.status !== 200) return failure(res.status, res.bodyAsText ?? '', 'read the cluster');
      try {
        const body = JSON.parse(res.bodyAsText ?? '{}') as { properties?: { aadProfile?: { managed?: unknown } } };
        return { ok: true, managed: body.properties?.aadProfile?.managed === true };
      } catch {
        return {
          ok: false,
          kind: 'error',
          status: res.status,
          message: 'ARM answered 200 with a cluster that is not JSON',
        };
      }
    },
    async start(cluster, body) {
      const url = runCommandUrl(options.endpoint, cluster, options.apiVersion);
      for (let attempt = 1; ; attempt++) {
        // A new request id each try: each is its own request in ARM's logs.
        const req = request(url, 'POST', body);
        const requestId = req.requestId;
        let res;
        try {
          res = await writes.sendRequest(httpClient, req);
        } catch (err) {
          const why = describeSendError(err);
          // Never handed over: no token, so nothing was sent.
          if (!handedOver.delete(requestId))
            return { ok: false, kind: 'error', message: `could not start the command: no token for ARM (${why})` };
          if (!isRestError(err) || !NOT_CONNECTED.has(err.code ?? '')) {
            return { ok: false, kind: 'unknown', requestId, message: `the runCommand request got no answer (${why})` };
          }
          const wait = startRetryDelaySeconds({ attempt, refusal: 'not-connected' });
          if (wait === undefined)
            return {
              ok: false,
              kind: 'error',
              message: `could not start the command: ARM could not be reached (${why})`,
            };
          options.onRetry?.(`ARM could not be reached (${why}); nothing was sent, trying again in ${wait}s`);
          await nap(wait * 1000);
          continue;
        }
        handedOver.delete(requestId);
        if (res.status === 202 || res.status === 200) {
          const commandId = commandIdFromLocation(
            res.headers.get('location') ?? res.headers.get('azure-asyncoperation'),
          );
          // ARM took it, but we cannot tell which command it started.
          if (!commandId)
            return {
              ok: false,
              kind: 'unknown',
              status: res.status,
              requestId,
              message: `ARM answered ${res.status} without a Location naming the command`,
            };
          return { ok: true, commandId };
        }
        if (res.status === 429) {
          const asked = retryAfterSeconds(headersOf(res), Date.now());
          const wait = startRetryDelaySeconds({
            attempt,
            refusal: 'throttled',
            ...(asked !== undefined ? { retryAfterSeconds: asked } : {}),
          });
          if (wait === undefined) {
            const f = failure(res.status, res.bodyAsText ?? '', 'start the command');
            return {
              ...f,
              message: `${f.message}${asked === undefined ? '' : Number.isFinite(asked) ? `; try again in ${Math.ceil(asked)}s` : '; try again later'} (nothing was started)`,
            };
          }
          options.onRetry?.(`ARM refused the start with 429 (nothing was started); trying again in ${wait}s`);
          await nap(wait * 1000);
          continue;
        }
        if (res.status >= 500 || res.status === 408) {
          // A gateway's answer: ARM may have taken the request behind it.
          const { code } = cloudError(res.bodyAsText ?? '');
          return {
            ok: false,
            kind: 'unknown',
            status: res.status,
            ...(code ? { code } : {}),
            requestId,
            message: `the runCommand request was answered ${res.status}${code ? ` ${code}` : ''}, which a gateway may send after ARM took it`,
          };
        }
        return failure(res.status, res.bodyAsText ?? '', 'start the command');
      }
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
