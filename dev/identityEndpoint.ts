// A managed identity endpoint as App Service and Functions expose it (IDENTITY_ENDPOINT/IDENTITY_HEADER,
// api-version 2019-08-01), so the real @azure/identity code runs against it.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenOnLoopback } from './listen';

export interface IssuedToken {
  resource: string;
  clientId?: string;
  expiresOnMs: number;
}

export interface IdentityFaults {
  /** Answer the next N token requests with this status. */
  failNext?: { count: number; status: number };
  delayMs?: number;
  /** Lifetime of issued tokens (default one hour; < 5 min are not cached by the SDK). */
  lifetimeSeconds?: number;
}

/** Claims put in every token (as a user's login would have upn, a pipeline's identity appid). */
export type TokenClaims = Record<string, string>;

export interface IdentityEndpoint {
  url: string;
  header: string;
  env: { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  tokens: Map<string, IssuedToken>;
  requests: number;
  faults: IdentityFaults;
  claims: TokenClaims;
  /** Does this bearer token come from us, for this resource, unexpired? */
  validate(token: string, resource: string): boolean;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export async function startIdentityEndpoint(): Promise<IdentityEndpoint> {
  const header = randomBytes(16).toString('hex');
  const state: Omit<IdentityEndpoint, 'url' | 'env' | 'close'> = {
    header,
    tokens: new Map(),
    requests: 0,
    faults: {},
    claims: {},
    validate(token, resource) {
      const t = state.tokens.get(token);
      return !!t && t.resource.replace(/\/$/, '') === resource.replace(/\/$/, '') && t.expiresOnMs > Date.now();
    },
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      state.requests++;
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (state.faults.delayMs) await new Promise((r) => setTimeout(r, state.faults.delayMs));
      if (url.pathname !== '/msi/token' || req.method !== 'GET') return send(res, 404, { error: 'not_found' });
      if (req.headers['x-identity-header'] !== header) return send(res, 401, { error: 'invalid identity header' });
      if (url.searchParams.get('api-version') !== '2019-08-01')
        return send(res, 400, { error: 'unsupported api-version' });
      const resource = url.searchParams.get('resource');
      if (!resource) return send(res, 400, { error: 'resource is required' });
      const fail = state.faults.failNext;
      if (fail && fail.count > 0) {
        fail.count--;
        return send(res, fail.status, { error: 'temporarily_unavailable', error_description: 'injected fault' });
      }
      const lifetime = state.faults.lifetimeSeconds ?? 3600;
      const expiresOnMs = Date.now() + lifetime * 1000;
      const clientId = url.searchParams.get('client_id') ?? undefined;
      // Shaped like Entra ID's (a JWT: header.claims.signature), unsigned: only this stand-in reads it.
      const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const claims = {
        aud: resource,
        iss: 'https://sts.windows.net/00000000-0000-0000-0000-000000000000/',
        tid: '00000000-0000-0000-0000-000000000000',
        exp: Math.floor(expiresOnMs / 1000),
        appid: clientId ?? '00000000-0000-0000-0000-000000000001',
        ...state.claims,
      };
      const token = `${part({ typ: 'JWT', alg: 'none' })}.${part(claims)}.${randomBytes(24).toString('base64url')}`;
      state.tokens.set(token, { resource, ...(clientId ? { clientId } : {}), expiresOnMs });
      send(res, 200, {
        access_token: token,
        expires_on: String(Math.floor(expiresOnMs / 1000)),
        resource,
        token_type: 'Bearer',
        client_id: clientId ?? '00000000-0000-0000-0000-000000000001',
      });
    })();
  });
  const listening = await listenOnLoopback(server);
  const url = `http://127.0.0.1:${listening.port}/msi/token`;
  return Object.assign(state, {
    url,
    env: { IDENTITY_ENDPOINT: url, IDENTITY_HEADER: header },
    close: listening.close,
  }) as IdentityEndpoint;
}
