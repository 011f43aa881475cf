// Slack's Web API on loopback, speaking the methods the Slack app target uses as Slack does: bearer token,
// form or JSON bodies (nested values as JSON strings), HTTP 200 with {ok:false,error} for failures, 429 with
// Retry-After (`ratelimited`) beyond a per-channel rate, message metadata stored and returned by
// conversations.history with include_all_metadata, and the three-step file upload
// (files.getUploadURLExternal → POST the bytes to the upload URL → files.completeUploadExternal).
// Authorship as Slack keeps it: each bot token is its own app (auth.test answers its user_id and bot_id),
// history names each message's user, bot_id and app_id, and chat.update of another app's message answers
// cant_update_message.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from './listen';
import { slackPayloadProblem } from './webhookReceivers';

export interface SlackFile {
  id: string;
  name: string;
  title?: string;
  bytes: Buffer;
  threadTs?: string;
  channel?: string;
}

/** Who a bot token posts as. */
export interface SlackBot {
  userId: string;
  botId: string;
  appId: string;
}

export interface SlackMessage {
  ts: string;
  channel: string;
  /** The app that posted it. */
  user: string;
  botId: string;
  appId: string;
  text?: string;
  blocks?: unknown[];
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  threadTs?: string;
  /** Every version of the message, oldest first (chat.update adds one). */
  versions: { text?: string; blocks?: unknown[] }[];
  files: SlackFile[];
}

export interface SlackCall {
  method: string;
  channel?: string;
  status: number;
  error?: string;
  at: number;
  authorization?: string;
}

export interface SlackApiFault {
  /** An HTTP status instead of an answer (429 comes with Retry-After). */
  status?: number;
  /** {ok:false,error} with HTTP 200 (and the scope missing_scope names). */
  error?: string;
  needed?: string;
  retryAfter?: number;
  delayMs?: number;
  /** The call is carried out, but the answer comes after this delay (a client may give up first). */
  answerDelayMs?: number;
}

export interface SlackApiStandIn {
  url: string;
  /** A bot token the stand-in accepts, a member of these channels: an app of its own. */
  addBot(token: string, channels: string[]): SlackBot;
  /** The bot is added to a channel (someone ran /invite there). */
  invite(token: string, channel: string): void;
  messages: SlackMessage[];
  inChannel(channel: string): SlackMessage[];
  calls: SlackCall[];
  /** Applied to each call before anything else (`call`: who makes it, with what). */
  fault:
    | ((
        method: string,
        channel: string | undefined,
        call: { token?: string; args: Record<string, unknown> },
      ) => SlackApiFault | undefined)
    | undefined;
  /** Per-channel rate for posts and updates (Slack: about 1 per second with short bursts). */
  rate: { perSecond: number; burst: number };
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Form fields (nested values arrive as JSON strings) or a JSON body. */
function parseArgs(req: IncomingMessage, raw: Buffer): Record<string, unknown> {
  const type = req.headers['content-type'] ?? '';
  if (type.includes('application/json')) return JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) {
    out[k] = /^[[{]/.test(v)
      ? (() => {
          try {
            return JSON.parse(v) as unknown;
          } catch {
            return v;
          }
        })()
      : v;
  }
  return out;
}

/** The bytes of a single-part multipart body, or the body itself. */
function uploadedBytes(req: IncomingMessage, raw: Buffer): Buffer {
  const boundary = /boundary=([^;]+)/.exec(req.headers['content-type'] ?? '')?.[1];
  if (!boundary) return raw;
  const start = raw.indexOf('\r\n\r\n') + 4;
  const end = raw.lastIndexOf(Buffer.from(`\r\n--${boundary}`));
  return raw.subarray(start, end > start ? end : raw.length);
}

export async function startSlackApiStandIn(): Promise<SlackApiStandIn> {
  const bots = new Map<string, { channels: Set<string>; who: SlackBot }>();
  const messages: SlackMessage[] = [];
  const calls: SlackCall[] = [];
  const uploads = new Map<string, { name: string; length: number; bytes?: Buffer }>();
  const buckets = new Map<string, { tokens: number; at: number }>();
  let seq = 0;
  let base = '';

  const standIn: SlackApiStandIn = {
    url: '',
    addBot: (token, channels) => {
      const tag = randomBytes(4).toString('hex').toUpperCase();
      const who = { userId: `U${tag}`, botId: `B${tag}`, appId: `A${tag}` };
      bots.set(token, { channels: new Set(channels), who });
      return who;
    },
    invite: (token, channel) => void bots.get(token)?.channels.add(channel),
    messages,
    inChannel: (channel) => messages.filter((m) => m.channel === channel),
    calls,
    fault: undefined,
    rate: { perSecond: 1, burst: 5 },
    close: async () => undefined,
  };

  function limited(channel: string): number | undefined {
    const now = Date.now();
    const b = buckets.get(channel) ?? { tokens: standIn.rate.burst, at: now };
    b.tokens = Math.min(standIn.rate.burst, b.tokens + ((now - b.at) / 1000) * standIn.rate.perSecond);
    b.at = now;
    buckets.set(channel, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / standIn.rate.perSecond));
  }

  function nextTs(): string {
    // Epoch seconds with a unique six-digit part, as Slack's message timestamps.
    return `${Math.floor(Date.now() / 1000)}.${String(++seq).padStart(6, '0')}`;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res
        .writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
        .end(JSON.stringify(body));
    };

    const upload = /^\/upload\/(F\w+)$/.exec(path);
    if (upload) {
      const u = uploads.get(upload[1]!);
      if (!u) return void res.writeHead(404).end('not found');
      u.bytes = uploadedBytes(req, raw);
      calls.push({
        method: 'upload',
        status: 200,
        at: Date.now(),
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      });
      return void res.writeHead(200, { 'content-type': 'text/plain' }).end(`OK - ${u.bytes.length}`);
    }
    const m = /^\/api\/([\w.]+)$/.exec(path);
    if (!m) return send(404, { ok: false, error: 'unknown_method' });
    const method = m[1]!;
    let args: Record<string, unknown>;
    try {
      args = parseArgs(req, raw);
    } catch {
      return send(200, { ok: false, error: 'invalid_json' });
    }
    const channel =
      typeof args.channel === 'string'
        ? args.channel
        : typeof args.channel_id === 'string'
          ? args.channel_id
          : undefined;
    const call: SlackCall = {
      method,
      ...(channel ? { channel } : {}),
      status: 200,
      at: Date.now(),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    };
    calls.push(call);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const fault = standIn.fault?.(method, channel, { ...(bearer ? { token: bearer } : {}), args });
    if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (req.socket.destroyed) return;
    if (fault?.status) {
      call.status = fault.status;
      if (fault.status === 429)
        return send(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(fault.retryAfter ?? 1) });
      return void res.writeHead(fault.status, { 'content-type': 'text/plain' }).end('upstream error');
    }
    const fail = (error: string, extra: Record<string, unknown> = {}) => {
      call.error = error;
      send(200, { ok: false, error, ...extra });
    };
    if (fault?.error) return fail(fault.error, fault.needed ? { needed: fault.needed } : {});
    const bot = bearer ? bots.get(bearer) : undefined;
    if (!bot) return fail('invalid_auth');
    if (['chat.postMessage', 'chat.update', 'conversations.history', 'files.completeUploadExternal'].includes(method)) {
      if (!channel || !/^[CGD][A-Z0-9]+$/.test(channel)) return fail('channel_not_found');
      if (!bot.channels.has(channel)) return fail('not_in_channel');
    }
    if ((method === 'chat.postMessage' || method === 'chat.update') && channel) {
      const wait = limited(channel);
      if (wait !== undefined) {
        call.status = 429;
        call.error = 'ratelimited';
        return send(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(wait) });
      }
      const problem = slackPayloadProblem({ text: args.text, blocks: args.blocks });
      if (problem) return fail(problem);
    }
    const answer = async (body: unknown) => {
      if (fault?.answerDelayMs) await new Promise((r) => setTimeout(r, fault.answerDelayMs));
      if (!req.socket.destroyed) send(200, body);
    };
    switch (method) {
      case 'chat.postMessage': {
        const msg: SlackMessage = {
          ts: nextTs(),
          channel: channel!,
          user: bot.who.userId,
          botId: bot.who.botId,
          appId: bot.who.appId,
          ...(typeof args.text === 'string' ? { text: args.text } : {}),
          ...(Array.isArray(args.blocks) ? { blocks: args.blocks } : {}),
          ...(args.metadata && typeof args.metadata === 'object'
            ? { metadata: args.metadata as SlackMessage['metadata'] }
            : {}),
          ...(typeof args.thread_ts === 'string' ? { threadTs: args.thread_ts } : {}),
          versions: [],
          files: [],
        };
        msg.versions.push({
          ...(msg.text !== undefined ? { text: msg.text } : {}),
          ...(msg.blocks ? { blocks: msg.blocks } : {}),
        });
        messages.push(msg);
        return answer({ ok: true, channel, ts: msg.ts, message: { ts: msg.ts, text: msg.text } });
      }
      case 'chat.update': {
        const msg = messages.find((x) => x.channel === channel && x.ts === args.ts);
        if (!msg) return fail('message_not_found');
        if (msg.botId !== bot.who.botId) return fail('cant_update_message');
        if (typeof args.text === 'string') msg.text = args.text;
        if (Array.isArray(args.blocks)) msg.blocks = args.blocks;
        if (args.metadata && typeof args.metadata === 'object')
          msg.metadata = args.metadata as SlackMessage['metadata'];
        msg.versions.push({
          ...(msg.text !== undefined ? { text: msg.text } : {}),
          ...(msg.blocks ? { blocks: msg.blocks } : {}),
        });
        return answer({ ok: true, channel, ts: msg.ts });
      }
      case 'conversations.history': {
        const oldest = Number(args.oldest ?? 0);
        const latest = args.latest !== undefined ? Number(args.latest) : Infinity;
        const limit = Math.min(Number(args.limit ?? 100), 999);
        const withMetadata = args.include_all_metadata === true || args.include_all_metadata === 'true';
        const found = messages
          .filter((x) => x.channel === channel && !x.threadTs && Number(x.ts) >= oldest && Number(x.ts) <= latest)
          .sort((a, b) => Number(b.ts) - Number(a.ts))
          .slice(0, limit)
          .map((x) => ({
            type: 'message',
            ts: x.ts,
            user: x.user,
            bot_id: x.botId,
            app_id: x.appId,
            text: x.text,
            ...(withMetadata && x.metadata ? { metadata: x.metadata } : {}),
          }));
        return answer({ ok: true, messages: found, has_more: false });
      }
      case 'files.getUploadURLExternal': {
        const id = `F${randomBytes(5).toString('hex').toUpperCase()}`;
        uploads.set(id, { name: String(args.filename ?? 'file'), length: Number(args.length ?? 0) });
        return answer({ ok: true, upload_url: `${base}/upload/${id}`, file_id: id });
      }
      case 'files.completeUploadExternal': {
        const files = (Array.isArray(args.files) ? args.files : []) as { id: string; title?: string }[];
        const done: SlackFile[] = [];
        for (const f of files) {
          const u = uploads.get(f.id);
          if (!u?.bytes) return fail('file_not_found');
          const file: SlackFile = {
            id: f.id,
            name: u.name,
            ...(f.title ? { title: f.title } : {}),
            bytes: u.bytes,
            ...(typeof args.thread_ts === 'string' ? { threadTs: args.thread_ts } : {}),
            channel: channel!,
          };
          const parent = messages.find((x) => x.channel === channel && x.ts === args.thread_ts);
          parent?.files.push(file);
          done.push(file);
        }
        return answer({ ok: true, files: done.map((f) => ({ id: f.id, name: f.name })) });
      }
      case 'auth.test':
        return answer({ ok: true, user_id: bot.who.userId, bot_id: bot.who.botId });
      default:
        return fail('unknown_method');
    }
  }

  const listening = await listenOnLoopback(createServer((req, res) => void handle(req, res)));
  base = `http://127.0.0.1:${listening.port}`;
  standIn.url = `${base}/api/`;
  standIn.close = listening.close;
  return standIn;
}
