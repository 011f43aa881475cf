// A Slack app (bot token, Web API through @slack/web-api): one live message per command and channel.
// It is posted when the command is first seen running and updated in place with the result; logs cut to
// fit the message go whole, as a file, into its thread. Every message carries metadata naming the command
// and the target, so that after an attempt in doubt (a holder that died mid-post, a post without an answer)
// the message is found in the channel's history and adopted instead of posted twice.
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
import { classifySlackAppError } from './answers';
import { client, LOOKUP_PAGE_SIZE, LOOKUP_PAGES, lookup } from './history';
import { METADATA_EVENT, readState, type SlackAppPayload, type SlackAppSettings } from './state';

export { METADATA_EVENT, type SlackAppPayload } from './state';

const FULL_LOGS_NOTE = 'full logs in thread';
/** Without a recorded doubt, a message Slack will not let us update is looked for this far before it. */
const LOOKUP_WINDOW_MS = 3600_000;

type PollFailure = Extract<SendResult, { ok: false }>;

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
    const state = readState(ctx.providerState, settings.channel);
    const started = Date.now();
    // Every call may take the full timeout: start one only if it fits in what the claim allows.
    const budgetLeft = () => Date.now() - started + ctx.timeoutMs <= slackApp.maxSendMs(ctx.timeoutMs) - 1000;
    const out = () => JSON.stringify(state);
    // Not this attempt: the next one goes on from what this one learnt.
    const later = (detail: string): PollFailure => ({ ok: false, failure: 'transient', detail, providerState: out() });
    const message = { ...p.message, metadata: p.metadata };
    let step = 'lookup';
    const notes: string[] = [];
    const find = async (sinceMs: number, exclude?: string): Promise<PollFailure | undefined> => {
      step = 'lookup';
      const found = await lookup(web, settings, state, p, sinceMs, budgetLeft, exclude);
      if (found.foreign > 0)
        notes.push(
          `${found.foreign} message(s) in the channel carry this command's metadata but were not posted by this app; they were left alone`,
        );
      if (found.ts) state.ts = found.ts;
      // Out of time: the lookup still owed (lookFrom) stays in the state for the next attempt.
      else if (!found.complete && !budgetLeft()) return later("looking for an earlier post took this attempt's time");
      else if (!found.complete)
        notes.push(
          `the lookup for an earlier post read ${LOOKUP_PAGES * LOOKUP_PAGE_SIZE} messages without reaching the time of the doubt; the channel may show this command twice`,
        );
      delete state.lookFrom;
      return undefined;
    };
    try {
      const lookFrom = Math.min(ctx.unsureSinceMs ?? Infinity, state.lookFrom ?? Infinity);
      if (!state.ts && lookFrom !== Infinity) {
        const stop = await find(lookFrom);
        if (stop) return stop;
      }
      if (state.ts) {
        step = 'chat.update';
        try {
          await web.chat.update({ channel: state.channel, ts: state.ts, ...message });
        } catch (err) {
          const code = (err as { data?: { error?: string } }).data?.error;
          if (code !== 'message_not_found' && code !== 'cant_update_message') throw err;
          const gone = state.ts;
          delete state.ts;
          delete state.filed;
          if (code === 'message_not_found') {
            // A member deleted it: the channel shows it again, once, from here on.
            notes.push('the message was deleted in the channel; it was posted again');
          } else {
            // Not ours to edit, whatever its metadata says: find the one our bot posted before posting anew.
            // Recorded first, so that a lookup that fails now is made by the next attempt, not skipped.
            state.lookFrom = ctx.unsureSinceMs ?? Number(gone) * 1000 - LOOKUP_WINDOW_MS;
            const stop = await find(state.lookFrom, gone);
            if (stop) return stop;
            if (state.ts) {
              if (!budgetLeft()) return later('no time left in this attempt to update the message found');
              step = 'chat.update';
              await web.chat.update({ channel: state.channel, ts: state.ts, ...message });
            }
          }
        }
      }
      if (!state.ts) {
        if (!budgetLeft()) return later('no time left in this attempt to post');
        step = 'chat.postMessage';
        const res = await web.chat.postMessage({ channel: state.channel, ...message });
        if (typeof res.ts !== 'string')
          return {
            ok: false,
            failure: 'transient',
            detail: 'Slack answered chat.postMessage without a ts',
            mayHaveArrived: true,
            providerState: out(),
          };
        state.ts = res.ts;
      }
      if (p.final && p.file && !state.filed) {
        if (!budgetLeft()) return later('no time left in this attempt to upload the logs');
        step = 'files.uploadV2';
        await web.filesUploadV2({
          channel_id: state.channel,
          thread_ts: state.ts,
          file: Buffer.from(p.file.content, 'utf8'),
          filename: p.file.name,
          title: p.file.name,
        });
        state.filed = true;
      }
      return { ok: true, providerState: out(), ...(notes.length ? { note: notes.join('; ') } : {}) };
    } catch (err) {
      const failed = classifySlackAppError(err, settings.tokenSetting);
      if (step === 'files.uploadV2' && failed.failure !== 'transient') {
        // The message is there and final; only the file cannot be: say so, do not fail the delivery.
        return { ok: true, providerState: out(), note: `the full logs could not be attached: ${failed.detail}` };
      }
      // Doubt matters only for a post: an update or an upload of a known message cannot make a second one.
      return {
        ...failed,
        detail: `${step}: ${failed.detail}`,
        mayHaveArrived: step === 'chat.postMessage' && !!failed.mayHaveArrived,
        providerState: out(),
      };
    }
  },
};
