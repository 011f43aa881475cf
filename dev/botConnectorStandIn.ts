// The Bot Connector API on loopback, over HTTPS, speaking what the Teams app target uses as the service
// does: a bearer token for the bot service's audience (checked against the identity endpoint that issued
// it), POST /v3/conversations with channelData.channel and tenant (a new thread in the channel: its
// conversation id is the channel's with ;messageid=, answered 201 {id, activityId}), PUT …/activities/{id}
// (an update in place), POST …/activities with replyToId (a reply in the thread). Refusals as Teams gives
// them: 403 BotNotInConversationRoster when the app is not installed in the team, 404 for an unknown
// conversation or a deleted message, 413 MessageSizeTooBig beyond 100 KB, and 429 with Retry-After beyond
// the per-thread limits (7 per second, 8 per 2 s). `fault` injects the rest (429, 5xx, slow answers).
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IdentityEndpoint } from './identityEndpoint';
import { listenOnLoopback } from './listen';

export const BOT_SERVICE_AUDIENCE = 'https://api.botframework.com';
export const BOT_MESSAGE_MAX_BYTES = 100 * 1024;

export interface TeamsActivity {
  type?: string;
  text?: string;
  attachments?: { contentType?: string; content?: Record<string, any> }[];
  replyToId?: string;
  [key: string]: unknown;
}

export interface TeamsThreadMessage {
  channel: string;
  tenant: string;
  conversationId: string;
  activityId: string;
  /** Every version of the card, oldest first (an update adds one). */
  versions: TeamsActivity[];
  replies: TeamsActivity[];
  deleted: boolean;
}

export interface BotCall {
  op: 'create' | 'update' | 'reply' | 'other';
  channel?: string;
  status: number;
  code?: string;
  at: number;
  authorization?: string;
}

export interface BotFault {
  status?: number;
  code?: string;
  retryAfter?: number;
  /** The call is carried out, but the answer comes after this delay (a client may give up first). */
  answerDelayMs?: number;
  /** With `status`: the call is carried out, then answered with that status (a gateway that gave up). */
  carriedOut?: boolean;
  /** Answered 302 to this URL instead (a client must not follow it with its token). */
  redirectTo?: string;
}

export interface BotConnectorStandIn {
  /** The service URL (https://127.0.0.1:<port>/teams/). */
  url: string;
  /** A channel of a team, in a tenant; the app installed there or not. */
  addChannel(channel: string, options?: { tenant?: string; installed?: boolean }): void;
  /** Installs or uninstalls the app in the channel's team. */
  install(channel: string, installed: boolean): void;
  /** A member deletes the card. */
  deleteMessage(conversationId: string): void;
  messages: TeamsThreadMessage[];
  inChannel(channel: string): TeamsThreadMessage[];
  calls: BotCall[];
  fault: ((op: BotCall['op'], channel: string | undefined, body: TeamsActivity) => BotFault | undefined) | undefined;
  /** The longest request body taken (413 beyond). */
  maxBytes: number;
  close(): Promise<void>;
}

const DEFAULT_TENANT = '00000000-0000-0000-0000-000000000000';

export async function startBotConnectorStandIn(options: {
  key: string;
  cert: string;
  identity: IdentityEndpoint;
}): Promise<BotConnectorStandIn> {
  const channels = new Map<string, { tenant: string; installed: boolean }>();
  const messages: TeamsThreadMessage[] = [];
  const calls: BotCall[] = [];
  const threadOps = new Map<string, number[]>();
  let seq = 0;

  const standIn: BotConnectorStandIn = {
    url: '',
    addChannel(channel, o = {}) {
      channels.set(channel, { tenant: o.tenant ?? DEFAULT_TENANT, installed: o.installed ?? true });
    },
    install(channel, installed) {
      const c = channels.get(channel);
      if (c) c.installed = installed;
    },
    deleteMessage(conversationId) {
      const m = messages.find((x) => x.conversationId === conversationId);
      if (m) m.deleted = true;
    },
    messages,
    inChannel: (channel) => messages.filter((m) => m.channel === channel && !m.deleted),
    calls,
    fault: undefined,
    maxBytes: BOT_MESSAGE_MAX_BYTES,
    close: async () => undefined,
  };

  /** Teams' per-thread limits for one bot: 7 operations a second, 8 in 2 s. */
  function limited(thread: string): boolean {
    const now = Date.now();
    const ops = (threadOps.get(thread) ?? []).filter((t) => now - t < 2000);
    const lastSecond = ops.filter((t) => now - t < 1000).length;
    if (lastSecond >= 7 || ops.length >= 8) {
      threadOps.set(thread, ops);
      return true;
    }
    ops.push(now);
    threadOps.set(thread, ops);
    return false;
  }

  function cardProblem(a: TeamsActivity): string | undefined {
    if (a?.type !== 'message') return 'the activity is not a message';
    const att = a.attachments?.[0];
    if (!att || att.contentType !== 'application/vnd.microsoft.card.adaptive') return 'no Adaptive Card attachment';
    if (att.content?.type !== 'AdaptiveCard' || !Array.isArray(att.content.body)) return 'not an Adaptive Card';
    return undefined;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    const authorization = req.headers.authorization;
    const call: BotCall = { op: 'other', status: 0, at: Date.now(), ...(authorization ? { authorization } : {}) };
    let delay = 0;
    let late: BotFault | undefined;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (late?.status && status < 300) {
        // Carried out, yet answered as a failure.
        [status, body, headers] = [
          late.status,
          { error: { code: late.code ?? 'ServiceError', message: 'injected fault' } },
          {},
        ];
      }
      call.status = status;
      const code = (body as { error?: { code?: string } })?.error?.code;
      if (code) call.code = code;
      calls.push(call);
      const write = () =>
        res
          .writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
          .end(JSON.stringify(body));
      if (delay > 0) setTimeout(write, delay);
      else write();
    };
    const error = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
      send(status, { error: { code, message } }, headers);

    const token = (authorization ?? '').replace(/^Bearer /, '');
    if (!token || !options.identity.validate(token, BOT_SERVICE_AUDIENCE))
      return error(401, 'Unauthorized', 'Authorization has been denied for this request.');
    let body: Record<string, any>;
    try {
      body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, any>;
    } catch {
      return error(400, 'BadSyntax', 'the body is not JSON');
    }
    const create = req.method === 'POST' && /^\/teams\/v3\/conversations$/.test(path);
    const activityPath = /^\/teams\/v3\/conversations\/([^/]+)\/activities(?:\/([^/]+))?$/.exec(path);
    const conversationId = activityPath ? decodeURIComponent(activityPath[1]!) : undefined;
    const op: BotCall['op'] = create
      ? 'create'
      : activityPath && req.method === 'PUT' && activityPath[2]
        ? 'update'
        : activityPath && req.method === 'POST'
          ? 'reply'
          : 'other';
    call.op = op;
    const activity = (create ? body.activity : body) as TeamsActivity;
    const channel: string | undefined = create ? body.channelData?.channel?.id : conversationId?.split(';')[0];
    if (channel) call.channel = channel;
    if (op === 'other') return error(404, 'NotFound', 'no such operation');

    const fault = standIn.fault?.(op, channel, activity);
    if (fault?.redirectTo) return send(302, {}, { location: fault.redirectTo });
    if (fault?.status && fault.carriedOut) late = fault;
    else if (fault?.status) {
      const headers: Record<string, string> =
        fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
      return error(
        fault.status,
        fault.code ?? (fault.status === 429 ? 'TooManyRequests' : 'ServiceError'),
        'injected fault',
        headers,
      );
    }
    delay = fault?.answerDelayMs ?? 0;

    const team = channel ? channels.get(channel) : undefined;
    if (!team) return error(404, 'ConversationNotFound', 'Conversation not found.');
    if (!team.installed)
      return error(403, 'BotNotInConversationRoster', 'The bot is not part of the conversation roster.');
    if (raw.length > standIn.maxBytes) return error(413, 'MessageSizeTooBig', 'Message size too large.');
    const problem = cardProblem(activity);
    if (problem) return error(400, 'BadArgument', problem);

    if (op === 'create') {
      const tenant = body.channelData?.tenant?.id;
      if (tenant !== team.tenant) return error(403, 'Forbidden', 'The tenant does not match the conversation.');
      if (body.isGroup !== true) return error(400, 'BadArgument', 'a channel conversation is a group');
      const activityId = String(Date.now() * 1000 + (++seq % 1000));
      const m: TeamsThreadMessage = {
        channel: channel!,
        tenant,
        conversationId: `${channel};messageid=${activityId}`,
        activityId,
        versions: [activity],
        replies: [],
        deleted: false,
      };
      limited(m.conversationId);
      messages.push(m);
      return send(201, { id: m.conversationId, activityId });
    }
    const m = messages.find((x) => x.conversationId === conversationId);
    if (!m || (op === 'update' && m.activityId !== decodeURIComponent(activityPath![2]!)))
      return error(404, 'ConversationNotFound', 'Conversation not found.');
    if (m.deleted) return error(404, 'ActivityNotFound', 'The activity was deleted.');
    if (limited(m.conversationId)) return error(429, 'TooManyRequests', 'Too many requests.', { 'retry-after': '1' });
    if (op === 'update') {
      m.versions.push(activity);
      return send(200, { id: m.activityId });
    }
    if (activity.replyToId !== m.activityId) return error(400, 'BadArgument', 'a reply names the thread it is in');
    m.replies.push(activity);
    return send(201, { id: `${m.activityId}-${m.replies.length}` });
  }

  const listening = await listenOnLoopback(
    createServer({ key: options.key, cert: options.cert }, (req, res) => void handle(req, res)),
  );
  standIn.url = `https://127.0.0.1:${listening.port}/teams/`;
  standIn.close = listening.close;
  return standIn;
}
