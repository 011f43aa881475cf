// Microsoft Teams as an app: a bot that posts through the Bot Connector API (the Teams SDK's client) with a
// token from the app's identity, no secret. One live card per command and target: posted as a new thread in
// the channel when the command is first seen running (or final, if it already is), updated in place with
// the result; the card keeps the end of the logs within the webhook card's 24 KB, and when that cuts them
// the whole logs follow as replies in the card's thread. The card's conversation and activity ids, and each
// reply, are recorded in the ledger as soon as they are known (ctx.record), so a worker killed after a call
// leaves the next attempt to go on from there.
//
// What can repeat: the Bot Connector has no idempotency key and no list of a bot's messages, and Graph's
// read-back needs an app registration (see docs/channels/teams-app.md): a create (or a reply) whose answer
// never came — the worker killed while it was in flight, or a timeout — is made again, and says so.
import { clip, formatBytes } from '../../../core/text';
import { ConfigError, parseHttpsUrl } from '../../../core/settingUrls';
import type { Notification } from '../../notification';
import type { ChatProvider, Form, RenderOptions, SendResult, SettingsContext } from '../../provider';
import { logsWanted } from '../../render';
import { validateTeamsMention } from '../../teams/mention';
import { renderTeams, showsAllLogs, teamsAsText } from '../../teams/card';
import { classifyBotError, OUTSIDE_SERVICE, type Step } from './answers';
import { BOT_CLOUDS, PUBLIC_SERVICE_URL } from './clouds';
import { replyActivity, splitLogs } from './replies';
import { readState, type TeamsAppPayload, type TeamsAppSettings } from './state';

export type { TeamsAppPayload } from './state';

/** Between two calls in one thread: Teams allows 7 per second and 8 per 2 s per bot and thread. */
export const THREAD_SPACING_MS = 300;
const FULL_LOGS_NOTE = 'The full logs follow in this thread.';
const CHANNEL_ID = /^19:[^@\s]+@thread\.(tacv2|skype)$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Failure = Extract<SendResult, { ok: false }>;

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** The tenant a token was issued in (its `tid`), read without verifying: the bot service verifies it. */
function tenantOf(token: string): string | undefined {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      tid?: unknown;
    };
    return typeof claims.tid === 'string' && GUID.test(claims.tid) ? claims.tid : undefined;
  } catch {
    return undefined;
  }
}

async function botClient(settings: TeamsAppSettings, token: string, timeoutMs: number) {
  // Loaded on the first send: a deployment without a Teams app target never pays for it at start-up.
  const { Client } = await import('@microsoft/teams.api');
  const silent = { debug() {}, info() {}, warn() {}, error() {}, log() {}, trace() {}, child: () => silent };
  return new Client(settings.serviceUrl, {
    token,
    timeout: timeoutMs,
    logger: silent as never,
    middlewares: [
      {
        // The token goes to the bot service only, and no redirect takes it elsewhere.
        async invoke(context, next) {
          const url = String(context.config.url ?? '');
          if (!url.startsWith(`${settings.serviceUrl}/v3/`))
            throw Object.assign(new Error('a call outside the bot service'), { code: OUTSIDE_SERVICE });
          context.config.maxRedirects = 0;
          context.config.proxy = false;
          return next();
        },
      },
    ],
  });
}

export const teamsApp: ChatProvider<TeamsAppSettings> = {
  kind: 'teams-app',
  docs: 'docs/channels/teams-app.md',
  options: {
    CHANNEL: {
      doc: 'The channel id (19:…@thread.tacv2, from "Get link to channel"), not its name.',
      example: '19:0123456789abcdef0123456789abcdef@thread.tacv2',
    },
    TENANT: {
      doc: "The tenant id of the team (optional: the tenant of the app identity's token).",
      example: '00000000-0000-0000-0000-000000000000',
    },
    SERVICE_URL: {
      doc: "The bot service (optional: the public cloud's, https://smba.trafficmanager.net/teams/).",
      example: PUBLIC_SERVICE_URL,
    },
  },
  liveMessage: true,
  threadAttachment: true,
  // One new thread per command: the per-thread limits (7/s, 8 per 2 s) bind within a card's thread
  // (THREAD_SPACING_MS); across threads, the bot keeps to a pace of its own in each channel.
  pace: { perSecond: 1, burst: 4 },
  appTokenAudience: (s) => s.audience,

  readSettings(ctx: SettingsContext): TeamsAppSettings {
    const channel = ctx.get('CHANNEL');
    if (!channel) ctx.fail('CHANNEL', 'is required: the channel id (19:…@thread.tacv2, from "Get link to channel")');
    if (!CHANNEL_ID.test(channel))
      ctx.fail('CHANNEL', 'must be a channel id (19:…@thread.tacv2, from "Get link to channel"), not its name');
    const tenant = ctx.get('TENANT');
    if (tenant !== undefined && !GUID.test(tenant)) ctx.fail('TENANT', 'must be a tenant id (a GUID)');
    const value = ctx.get('SERVICE_URL') ?? PUBLIC_SERVICE_URL;
    const url = parseHttpsUrl(ctx.nameOf('SERVICE_URL'), value, true);
    const cloud = BOT_CLOUDS.find((c) => c.host === url.hostname.toLowerCase());
    if (!cloud && !isLoopback(url.hostname))
      throw new ConfigError(
        ctx.nameOf('SERVICE_URL'),
        `must be a bot service of Microsoft's clouds (${BOT_CLOUDS.map((c) => `${c.name}: ${c.defaultServiceUrl}`).join(', ')}), or loopback for local use`,
      );
    if (url.search || url.hash) throw new ConfigError(ctx.nameOf('SERVICE_URL'), 'must not have a query or fragment');
    return {
      channel,
      ...(tenant ? { tenant: tenant.toLowerCase() } : {}),
      serviceUrl: url.toString().replace(/\/+$/, ''),
      audience: cloud?.audience ?? BOT_CLOUDS[0]!.audience,
      channelSetting: ctx.nameOf('CHANNEL'),
      tenantSetting: ctx.nameOf('TENANT'),
      serviceUrlSetting: ctx.nameOf('SERVICE_URL'),
    };
  },
  describe: (s) => `the channel in ${s.channelSetting} (and that the app is installed in its team)`,
  identity: (s) => [s.serviceUrl, s.channel, s.tenant ?? ''],
  validateMention: validateTeamsMention,
  // Each call may take the full timeout, each record its bound (2 × 5 s); a send that runs short goes on
  // next time. Every attempt that starts with a recorded card gets at least one reply in (for a timeout of
  // 1 s or more: the update takes at most the timeout, and a reply needs the timeout and a record).
  maxSendMs: (timeoutMs) => 4 * timeoutMs + 10_000,

  render(message: Notification, options: RenderOptions, form: Form): TeamsAppPayload {
    const { final, logs } = message;
    // Logs the card cuts (or does not show) follow whole, as replies in its thread, with the last state, and
    // a note on the card says so (room is kept for it).
    const threaded = final && logsWanted(message, options);
    const text = logs && (logs.inline ? FULL_LOGS_NOTE : `${clip(logs.title, 60)}: in this thread.`);
    const note = { type: 'TextBlock', text, isSubtle: true, wrap: true, size: 'Small' };
    const reserve = threaded ? Buffer.byteLength(JSON.stringify(note), 'utf8') + 1 : 0;
    const card = renderTeams(message, options, form, reserve);
    const subject = message.ref.name;
    if (!threaded || (logs!.inline && form === 'full' && showsAllLogs(message, card))) return { card, subject, final };
    const content = card.attachments[0].content as { body: Record<string, unknown>[] };
    content.body.push(note);
    const split = splitLogs(logs!.untrusted);
    return {
      card,
      subject,
      final,
      replies: { name: logs!.fileName, title: logs!.title, endShown: logs!.inline && form === 'full', ...split },
    };
  },

  asText(payload: unknown): string {
    const p = payload as TeamsAppPayload;
    const text = teamsAsText(p.card);
    if (!p.replies) return text;
    const bytes = p.replies.parts.reduce((n, s) => n + Buffer.byteLength(s, 'utf8'), 0);
    const left = p.replies.omittedBytes > 0 ? `, the last ${formatBytes(p.replies.omittedBytes)} left out` : '';
    return `${text}\n  ↳ thread: ${p.replies.parts.length} repl${p.replies.parts.length === 1 ? 'y' : 'ies'} with ${p.replies.name} (${formatBytes(bytes)}, whole${left})`;
  },

  async send(settings, payload, ctx): Promise<SendResult> {
    const p = payload as TeamsAppPayload;
    const state = readState(ctx.providerState, settings.channel);
    const notes: string[] = [];
    const out = () => JSON.stringify(state);
    // Every result tells the possible duplicates counted so far (some by an attempt that died before its
    // result was logged), and the state it hands back no longer counts them.
    const told = () => {
      const n = state.suspect ?? 0;
      if (n === 1)
        notes.push(
          `an earlier attempt may have posted the card for ${p.subject} without its answer reaching us; the channel may show this command twice`,
        );
      if (n > 1)
        notes.push(
          `${n} earlier attempts may have posted the card for ${p.subject} without their answers reaching us; the channel may show this command up to ${n + 1} times`,
        );
      delete state.suspect;
    };
    const tenant = settings.tenant ?? tenantOf(ctx.appToken ?? '');
    if (!tenant)
      return {
        ok: false,
        failure: 'permanent',
        detail: `the app identity's token names no tenant: set ${settings.tenantSetting}`,
      };
    const client = await botClient(settings, ctx.appToken ?? '', ctx.timeoutMs);
    const started = Date.now();
    const maxMs = teamsApp.maxSendMs(ctx.timeoutMs);
    // Start a call only if it, and the record after it, fit in what the claim allows.
    const budgetLeft = () =>
      Date.now() - started + ctx.timeoutMs + (ctx.recordMs ?? 0) + THREAD_SPACING_MS <= maxMs - 1000;
    // What this attempt did that the operator must hear of goes with a failure too.
    const noted = (detail: string) => (notes.length ? `${detail} (this attempt: ${notes.join('; ')})` : detail);
    const later = (detail: string): Failure => {
      told();
      return { ok: false, failure: 'transient', detail: noted(detail), providerState: out() };
    };
    // False: another delivery holds the target now, and this send must stop.
    const record = async () => !ctx.record || (await ctx.record(out())) !== 'lost';
    const overtaken = () => later('another delivery took this target over (this one outlived its claim)');
    let step: Step = 'create';
    let calls = 0;
    const spaced = async () => {
      if (calls++ > 0) await new Promise((r) => setTimeout(r, THREAD_SPACING_MS));
    };
    if (state.closed) {
      // Sent again on purpose: a new card, in a new thread.
      delete state.conversationId;
      delete state.activityId;
      delete state.replied;
      delete state.closed;
      delete state.suspect;
    }
    try {
      // A card known from an earlier attempt: that attempt got as far as the update or the replies.
      const known = !!state.activityId;
      if (state.activityId && state.conversationId) {
        step = 'update';
        try {
          await spaced();
          await client.conversations.activities(state.conversationId).update(state.activityId, p.card as never);
        } catch (err) {
          if ((err as { response?: { status?: number } }).response?.status !== 404) throw err;
          // A member deleted the card: the channel shows it again, once, from here on.
          delete state.conversationId;
          delete state.activityId;
          delete state.replied;
          notes.push('the card was deleted in the channel; it was posted again');
          if (!budgetLeft()) return later('no time left in this attempt to post the card again');
        }
      }
      if (!state.activityId) {
        if (ctx.unsureSinceMs !== undefined) {
          // Counted, and recorded, before the new thread: an earlier attempt may have started one unrecorded.
          state.suspect = (state.suspect ?? 0) + 1;
          if (!(await record())) return overtaken();
        }
        step = 'create';
        await spaced();
        const res = (await client.conversations.create({
          isGroup: true,
          channelData: { channel: { id: settings.channel }, tenant: { id: tenant } },
          tenantId: tenant,
          activity: p.card as never,
        })) as { id?: unknown; activityId?: unknown };
        if (typeof res.id !== 'string' || typeof res.activityId !== 'string' || !res.id || !res.activityId) {
          told();
          return {
            ok: false,
            failure: 'transient',
            detail: noted('the bot service answered the new conversation without its ids'),
            mayHaveArrived: true,
            providerState: out(),
          };
        }
        state.conversationId = res.id;
        state.activityId = res.activityId;
        if (!(await record())) return overtaken();
      }
      const replies = p.final ? p.replies : undefined;
      const from = state.replied ?? 0;
      if (replies && known && state.activityId && from < replies.parts.length && ctx.unsureSinceMs !== undefined)
        notes.push(
          `an earlier attempt stopped after the card of ${p.subject} was posted; reply ${from + 1} of the logs of ${p.subject} may show twice in the thread`,
        );
      for (let i = from; replies && i < replies.parts.length; i++) {
        if (!budgetLeft()) return later(`no time left in this attempt for reply ${i + 1} of the logs`);
        step = 'reply';
        await spaced();
        const activity = replyActivity(replies, i);
        await client.conversations.activities(state.conversationId!).reply(state.activityId!, activity as never);
        state.replied = i + 1;
        if (i + 1 < replies.parts.length && !(await record())) return overtaken();
      }
      if (p.final) state.closed = true;
      told();
      return { ok: true, providerState: out(), ...(notes.length ? { note: notes.join('; ') } : {}) };
    } catch (err) {
      const failed = classifyBotError(err, step, settings);
      told();
      if (step === 'reply' && failed.failure !== 'transient') {
        // The card is there and final; only the logs' thread is not: say so, do not fail the delivery.
        state.closed = true;
        return {
          ok: true,
          providerState: out(),
          note: [...notes, `the full logs could not be added to the thread: ${failed.detail}`].join('; '),
        };
      }
      // Doubt matters only for a new card: an update or a reply of a known card cannot make a second card.
      // A result refused for good closes the card (a running card refused is tried again at the next poll).
      if (failed.failure === 'permanent' && p.final) state.closed = true;
      const twice =
        step === 'reply' && failed.mayHaveArrived
          ? `; reply ${(state.replied ?? 0) + 1} of the logs of ${p.subject} may show twice in the thread`
          : '';
      return {
        ...failed,
        detail: noted(`${step}: ${failed.detail}${twice}`),
        mayHaveArrived: step === 'create' && !!failed.mayHaveArrived,
        providerState: out(),
      };
    }
  },
};
