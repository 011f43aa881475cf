// Microsoft Teams as an app: a bot that posts through the Bot Connector API (the Teams SDK's client) with a
// token from the app's identity, no secret. One live card per command and target: posted as a new thread in
// the channel when the command is first seen running (or final, if it already is), updated in place with
// the result; the card keeps the end of the logs within the webhook card's 24 KB, and when that cuts them
// the whole logs follow as replies in the card's thread. The card's conversation and activity ids, and each
// reply, are recorded in the ledger as soon as they are known (ctx.record), so a worker killed after a call
// leaves the next attempt to go on from there. The live card's life is the live-message engine's
// (notify/live/engine.ts); live.ts is this channel's calls.
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
import { sendLive } from '../../live/engine';
import { BOT_CLOUDS, PUBLIC_SERVICE_URL } from './clouds';
import { botClient, teamsChannel, tenantOf } from './live';
import { splitLogs } from './replies';
import type { TeamsAppPayload, TeamsAppSettings } from './state';

export type { TeamsAppPayload } from './state';

const FULL_LOGS_NOTE = 'The full logs follow in this thread.';
const CHANNEL_ID = /^19:[^@\s]+@thread\.(tacv2|skype)$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
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
  // (live.ts spaces the calls in one thread); across threads, the bot keeps to a pace of its own in each channel.
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
    const tenant = settings.tenant ?? tenantOf(ctx.appToken ?? '');
    if (!tenant)
      return {
        ok: false,
        failure: 'permanent',
        detail: `the app identity's token names no tenant: set ${settings.tenantSetting}`,
      };
    const client = await botClient(settings, ctx.appToken ?? '', ctx.timeoutMs);
    const job = { subject: p.subject, final: p.final, replies: (p.final && p.replies?.parts.length) || 0 };
    const limits = { timeoutMs: ctx.timeoutMs, maxSendMs: teamsApp.maxSendMs(ctx.timeoutMs) };
    return sendLive(teamsChannel(client, settings, tenant, p), job, ctx, limits);
  },
};
