// A Slack app (bot token, Web API through @slack/web-api): one live message per command and channel.
// It is posted when the command is first seen running and updated in place with the result; logs cut to
// fit the message go whole, as a file, into its thread. Every message carries metadata naming the command
// and the target, so that after an attempt in doubt (a holder that died mid-post, a post without an answer)
// the message is found in the channel's history and adopted instead of posted twice. The live message's life
// is the live-message engine's (notify/live/engine.ts); live.ts is this channel's calls.
//
// Answers: ok:false errors that mean the target is wrong (channel, membership, token, scope) are permanent,
// with the fix; ratelimited (429 + Retry-After), 5xx and network errors are transient; a refused payload
// (invalid_blocks, msg_too_long…) falls back to the minimal form. The token goes to SLACK_API_URL's origin
// only: the upload URL Slack hands out is pre-signed and gets no Authorization header.
import { clip, formatBytes } from '../../../core/text';
import { ConfigError, parseHttpsUrl } from '../../../core/settingUrls';
import type { Notification } from '../../notification';
import type { ChatProvider, Form, RenderOptions, SendResult, SettingsContext } from '../../provider';
import { logsWanted } from '../../render';
import { renderSlackMessage, slackAsText } from '../../slack/blocks';
import { slackEscape } from '../../slack/mrkdwn';
import { validateSlackMention } from '../../slack/mention';
import { sendLive } from '../../live/engine';
import { client } from './history';
import { slackChannel } from './live';
import { METADATA_EVENT, type SlackAppPayload, type SlackAppSettings } from './state';

export { METADATA_EVENT, type SlackAppPayload } from './state';

const FULL_LOGS_NOTE = 'full logs in thread';

export const slackApp: ChatProvider<SlackAppSettings> = {
  kind: 'slack-app',
  docs: 'docs/channels/slack-app.md',
  options: {
    CHANNEL: { doc: 'The channel id (C… or G…, in the channel details), not its name.', example: 'C0123456789' },
    TOKEN: {
      doc: "The app's bot token (xoxb-…): a Key Vault reference in Azure.",
      secret: true,
      example: 'xoxb-0000-example',
    },
  },
  shared: {
    SLACK_API_URL: {
      doc: "Slack's Web API (a proxy, or a local stand-in on loopback).",
      default: 'https://slack.com/api/',
    },
  },
  liveMessage: true,
  threadAttachment: true,
  // Slack: about one message per second per channel, short bursts allowed.
  pace: { perSecond: 1, burst: 3 },

  readSettings(ctx: SettingsContext): SlackAppSettings {
    const channel = ctx.get('CHANNEL');
    if (!channel) ctx.fail('CHANNEL', 'is required: the channel id (C…, in the channel details), not its name');
    if (!/^[CG][A-Z0-9]{6,20}$/.test(channel))
      ctx.fail('CHANNEL', 'must be a channel id (C… or G…, in the channel details), not its name');
    const token = ctx.get('TOKEN');
    if (!token) ctx.fail('TOKEN', "is required: the app's bot token (xoxb-…), as a Key Vault reference in Azure");
    if (!/^xoxb-[A-Za-z0-9-]{8,250}$/.test(token)) ctx.fail('TOKEN', 'must be a bot token (xoxb-…)');
    const apiUrl = ctx.shared('SLACK_API_URL')!;
    const parsed = parseHttpsUrl('SLACK_API_URL', apiUrl, true);
    if (!parsed.pathname.endsWith('/'))
      throw new ConfigError('SLACK_API_URL', 'must end with "/" (https://slack.com/api/)');
    return {
      channel,
      token,
      apiUrl: parsed.toString(),
      channelSetting: ctx.nameOf('CHANNEL'),
      tokenSetting: ctx.nameOf('TOKEN'),
    };
  },
  describe: (s) => `the channel in ${s.channelSetting} and the token in ${s.tokenSetting}`,
  identity: (s) => [s.apiUrl, s.channel, s.token],
  validateMention: validateSlackMention,
  maxSendMs: (timeoutMs) => 4 * timeoutMs + 1000,

  render(message: Notification, options: RenderOptions, form: Form): SlackAppPayload {
    const { final, logs } = message;
    // Logs the message cuts (or does not show) follow whole, as a file in its thread, with the last state;
    // where the message shows none of them, a note says so (room is kept for it).
    const threaded = final && logsWanted(message, options);
    const text = logs && `${slackEscape(clip(logs.title, 60))}: ${logs.inline ? FULL_LOGS_NOTE : 'in thread'}`;
    const note = { type: 'context', elements: [{ type: 'mrkdwn', text, verbatim: true }] };
    const reserve = threaded && !logs!.inline ? JSON.stringify(note).length + 1 : 0;
    const elsewhere = final ? FULL_LOGS_NOTE : undefined;
    const { payload, logsCut } = renderSlackMessage(message, options, form, elsewhere, reserve);
    const withFile = threaded && (logsCut || !logs!.inline);
    if (withFile && (form === 'minimal' || !logs!.inline)) {
      const last = payload.blocks.at(-1);
      payload.blocks.splice(last?.type === 'actions' ? -1 : payload.blocks.length, 0, note);
    }
    return {
      message: payload,
      metadata: {
        event_type: METADATA_EVENT,
        event_payload: { command_id: message.ref.id, cluster: message.ref.about, target: options.target ?? '' },
      },
      final,
      ...(withFile ? { file: { name: logs!.fileName, content: logs!.untrusted } } : {}),
    };
  },

  asText(payload: unknown): string {
    const p = payload as SlackAppPayload;
    const text = slackAsText(p.message);
    return p.file
      ? `${text}\n  ↳ thread: ${p.file.name} (${formatBytes(Buffer.byteLength(p.file.content, 'utf8'))}, whole, as recorded)`
      : text;
  },

  async send(settings, payload, ctx): Promise<SendResult> {
    const p = payload as SlackAppPayload;
    const web = await client(settings, ctx.timeoutMs);
    // Where the channel is read back for our own post, the notes need not name the command.
    const job = { subject: 'this command', final: p.final, replies: p.final && p.file ? 1 : 0 };
    const limits = { timeoutMs: ctx.timeoutMs, maxSendMs: slackApp.maxSendMs(ctx.timeoutMs) };
    return sendLive(slackChannel(web, settings, p), job, ctx, limits);
  },
};
