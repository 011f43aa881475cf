// Slack incoming-webhook and Teams Workflows receivers on loopback. They check payloads the way the
// services do (Slack: 400 invalid_blocks beyond its limits; Teams: 413 beyond ~28 KB, 202 otherwise)
// and record what a channel would show.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from './listen';

export interface Received {
  kind: 'slack' | 'teams';
  channel: string;
  body: unknown;
  bytes: number;
  at: number;
  /** Any Authorization header that reached a webhook (there must be none). */
  authorization?: string;
}

export interface Reply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Wait before answering; the post is recorded only if the client is still there. */
  delayMs?: number;
  reset?: boolean;
}

export interface WebhookReceivers {
  baseUrl: string;
  urlFor(kind: 'slack' | 'teams', channel: string): string;
  received: Received[];
  /** Attempts, including refused ones. */
  attempts: { kind: string; channel: string; status: number; at: number }[];
  /** Replies to use, in order, before the normal answer. */
  script(kind: 'slack' | 'teams', channel: string, replies: Reply[]): void;
  /** Applied to every request without a scripted reply. */
  fault: ((kind: 'slack' | 'teams', channel: string) => Reply | undefined) | undefined;
  /** A fault for one channel only (tests running side by side each break their own channel). */
  faultOn(kind: 'slack' | 'teams', channel: string, fault: (() => Reply | undefined) | undefined): void;
  /** A smaller request limit for one channel (Teams answers 413 beyond it, Slack 400 msg_too_long). */
  limit(kind: 'slack' | 'teams', channel: string, bytes: number): void;
  for(kind: 'slack' | 'teams', channel: string): Received[];
  close(): Promise<void>;
}

export const TEAMS_MAX_REQUEST_BYTES = 28 * 1024;

/** What Slack would refuse, or undefined. */
export function slackPayloadProblem(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return 'invalid_payload';
  const p = body as { text?: unknown; blocks?: unknown };
  if (p.blocks === undefined) return typeof p.text === 'string' && p.text ? undefined : 'no_text';
  if (!Array.isArray(p.blocks) || p.blocks.length > 50) return 'invalid_blocks';
  for (const b of p.blocks as Record<string, unknown>[]) {
    const text = (b.text as { text?: string } | undefined)?.text;
    if (b.type === 'header' && (text?.length ?? 0) > 150) return 'invalid_blocks';
    if (b.type === 'section') {
      if (text !== undefined && text.length > 3000) return 'invalid_blocks';
      const fields = b.fields as { text: string }[] | undefined;
      if (fields && (fields.length > 10 || fields.some((f) => f.text.length > 2000))) return 'invalid_blocks';
    }
  }
  if (JSON.stringify(p.blocks).length > 13_000) return 'msg_blocks_too_long';
  return undefined;
}

export async function startWebhookReceivers(): Promise<WebhookReceivers> {
  const scripts = new Map<string, Reply[]>();
  const limits = new Map<string, number>();
  const channelFaults = new Map<string, () => Reply | undefined>();
  const received: Received[] = [];
  const attempts: WebhookReceivers['attempts'] = [];
  let baseUrl = '';

  const receivers: WebhookReceivers = {
    baseUrl: '',
    urlFor: (kind, channel) => `${baseUrl}/${kind}/${channel}`,
    received,
    attempts,
    script: (kind, channel, replies) => scripts.set(`${kind}/${channel}`, [...replies]),
    fault: undefined,
    limit: (kind, channel, bytes) => limits.set(`${kind}/${channel}`, bytes),
    faultOn: (kind, channel, fault) =>
      fault ? channelFaults.set(`${kind}/${channel}`, fault) : channelFaults.delete(`${kind}/${channel}`),
    for: (kind, channel) => received.filter((r) => r.kind === kind && r.channel === channel),
    close: async () => undefined,
  };

  function handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): void {
    const m = /^\/(slack|teams)\/([\w-]+)$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
    if (!m || req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no_service');
      return;
    }
    const kind = m[1] as 'slack' | 'teams';
    const channel = m[2]!;
    const queued = scripts.get(`${kind}/${channel}`);
    const reply =
      (queued && queued.length > 0 ? queued.shift() : undefined) ??
      channelFaults.get(`${kind}/${channel}`)?.() ??
      receivers.fault?.(kind, channel);
    const finish = () => {
      if (reply?.reset) {
        attempts.push({ kind, channel, status: 0, at: Date.now() });
        req.socket.destroy();
        return;
      }
      if (req.socket.destroyed) return; // the client gave up: nothing was accepted
      let status = reply?.status ?? (kind === 'slack' ? 200 : 202);
      let text = reply?.body ?? (kind === 'slack' ? 'ok' : '');
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        body = undefined;
      }
      const limit = limits.get(`${kind}/${channel}`);
      if (status < 300 && limit !== undefined && raw.length > limit) {
        [status, text] = kind === 'teams' ? [413, 'Request Entity Too Large'] : [400, 'msg_too_long'];
      } else if (status < 300) {
        if (kind === 'slack') {
          const problem = slackPayloadProblem(body);
          if (problem) [status, text] = [400, problem];
        } else if (raw.length > TEAMS_MAX_REQUEST_BYTES) {
          [status, text] = [413, 'Request Entity Too Large'];
        } else if ((body as { type?: string } | undefined)?.type !== 'message') {
          [status, text] = [400, 'Bad Request'];
        }
      }
      attempts.push({ kind, channel, status, at: Date.now() });
      if (status < 300) {
        received.push({
          kind,
          channel,
          body,
          bytes: raw.length,
          at: Date.now(),
          ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        });
      }
      res.writeHead(status, { 'content-type': 'text/plain', ...(reply?.headers ?? {}) }).end(text);
    };
    if (reply?.delayMs) setTimeout(finish, reply.delayMs);
    else finish();
  }

  const listening = await listenOnLoopback(
    createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => handle(req, res, Buffer.concat(chunks)));
    }),
  );
  baseUrl = `http://127.0.0.1:${listening.port}`;
  receivers.close = listening.close;
  receivers.baseUrl = baseUrl;
  return receivers;
}
