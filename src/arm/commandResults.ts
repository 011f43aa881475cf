// Reads commandResults from ARM with a bearer token from the managed identity. One pipeline per
// process (keep-alive, token cache). No redirect policy: a Location or 3xx never carries the token
// elsewhere. Retries inside one call stay short; long waits are re-enqueues, decided by the caller.
import type { TokenCredential } from '@azure/identity';
import { version } from '../../package.json';
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createEmptyPipeline,
  createPipelineRequest,
  exponentialRetryPolicy,
  setClientRequestIdPolicy,
  userAgentPolicy,
  type HttpClient,
  type Pipeline,
} from '@azure/core-rest-pipeline';
import { classifyArmResponse, remainingReads, type ArmRead } from '../core/armAnswer';
import { commandResultUrl } from '../core/armUrl';
import type { ClusterRef } from '../core/cluster';

export interface CommandResultReader {
  read(cluster: ClusterRef, commandId: string): Promise<ArmRead>;
}

export interface ArmClientOptions {
  endpoint: string;
  scope: string;
  apiVersion: string;
  credential: TokenCredential;
  timeoutMs: number;
  httpClient?: HttpClient;
  now?: () => number;
}

/** Who asks, in ARM's logs: this app and its version, one source (package.json). */
const USER_AGENT = `aks-command-notifier/${version}`;

/** `retry: false` for requests that are not idempotent (a runCommand POST): their caller decides. */
export function createArmPipeline(
  credential: TokenCredential,
  scope: string,
  options: { retry?: boolean } = {},
): Pipeline {
  const pipeline = createEmptyPipeline();
  pipeline.addPolicy(userAgentPolicy({ userAgentPrefix: USER_AGENT }));
  pipeline.addPolicy(setClientRequestIdPolicy());
  // Reads: 5xx/408 and network errors get two quick retries. 429 comes back to us and becomes a delayed re-enqueue.
  if (options.retry !== false)
    pipeline.addPolicy(exponentialRetryPolicy({ maxRetries: 2, retryDelayInMs: 500, maxRetryDelayInMs: 2000 }), {
      phase: 'Retry',
    });
  pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential, scopes: scope }), { phase: 'Sign' });
  return pipeline;
}

/** A response's headers by lower-case name. */
export function headersOf(res: { headers: Iterable<[string, string]> }): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of res.headers) headers[name.toLowerCase()] = value;
  return headers;
}

function describeError(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string };
  if (e?.name === 'AbortError') return 'ARM did not answer in time';
  if (e?.name === 'CredentialUnavailableError' || e?.name === 'AuthenticationError' || /token/i.test(e?.name ?? '')) {
    return `could not get a token from the managed identity (${e.name})`;
  }
  const code = e?.code ? ` ${e.code}` : '';
  return `ARM request failed:${code} ${(e?.message ?? String(err)).replace(/https?:\/\/\S+/g, '<url>').slice(0, 300)}`;
}

export function createCommandResultReader(options: ArmClientOptions): CommandResultReader {
  const pipeline = createArmPipeline(options.credential, options.scope);
  const httpClient = options.httpClient ?? createDefaultHttpClient();
  const now = options.now ?? Date.now;
  const armOrigin = new URL(options.endpoint).origin;
  return {
    async read(cluster, commandId) {
      const url = commandResultUrl(options.endpoint, cluster, commandId, options.apiVersion);
      if (new URL(url).origin !== armOrigin) throw new Error('ARM URL left the ARM endpoint');
      const request = createPipelineRequest({ url, method: 'GET', timeout: options.timeoutMs });
      request.headers.set('accept', 'application/json');
      try {
        const res = await pipeline.sendRequest(httpClient, request);
        const headers = headersOf(res);
        const answer: ArmRead = classifyArmResponse(
          { status: res.status, headers, bodyText: res.bodyAsText ?? '' },
          now(),
        );
        const remaining = remainingReads(headers);
        if (remaining !== undefined) answer.remainingReads = remaining;
        else if (res.status === 429) answer.remainingReads = 0;
        return answer;
      } catch (err) {
        return { kind: 'transient', detail: describeError(err), throttled: false };
      }
    },
  };
}
