// Application Insights' ingestion endpoint over HTTPS, as the Azure Monitor exporter speaks to it
// (POST <IngestionEndpoint>/v2.1/track, a JSON array of envelopes, gzip or not). With local
// authentication off, it takes only bearer tokens the identity stand-in issued for Azure Monitor.
import { createServer } from 'node:https';
import { gunzipSync } from 'node:zlib';
import type { IdentityEndpoint } from './identityEndpoint';
import { listenOnLoopback } from './listen';

export interface Envelope {
  name: string;
  iKey?: string;
  time?: string;
  tags?: Record<string, string>;
  data?: { baseType?: string; baseData?: Record<string, unknown> };
}

export interface AppInsightsStandIn {
  endpoint: string;
  connectionString: string;
  envelopes: Envelope[];
  /** Requests refused for a missing or wrong token. */
  refused: number;
  /** Raw request bodies (decoded), for secret checks. */
  bodies: string[];
  close(): Promise<void>;
}

export async function startAppInsightsStandIn(options: {
  key: string;
  cert: string;
  identity: IdentityEndpoint;
}): Promise<AppInsightsStandIn> {
  const state = { envelopes: [] as Envelope[], bodies: [] as string[], refused: 0 };
  const listening = await listenOnLoopback(
    createServer({ key: options.key, cert: options.cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        const issued = token ? options.identity.tokens.get(token) : undefined;
        const authorized =
          !!issued && /^https:\/\/monitor\.azure\.com\/*$/.test(issued.resource) && issued.expiresOnMs > Date.now();
        if (!authorized) {
          state.refused++;
          res
            .writeHead(401, { 'content-type': 'application/json' })
            .end(
              '{"itemsReceived":0,"itemsAccepted":0,"errors":[{"index":0,"statusCode":401,"message":"Authentication required"}]}',
            );
          return;
        }
        let raw = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
        const text = raw.toString('utf8');
        state.bodies.push(text);
        let items: Envelope[] = [];
        try {
          const parsed = JSON.parse(text) as Envelope[] | Envelope;
          items = Array.isArray(parsed) ? parsed : [parsed];
        } catch {
          items = text
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Envelope);
        }
        state.envelopes.push(...items);
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }));
      });
    }),
  );
  const endpoint = `https://127.0.0.1:${listening.port}/`;
  return Object.assign(state, {
    endpoint,
    connectionString: `InstrumentationKey=00000000-0000-0000-0000-00000000a1a1;IngestionEndpoint=${endpoint}`,
    close: listening.close,
  });
}
