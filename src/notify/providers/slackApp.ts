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
import type { WebAPICallResult, WebClient } from '@slack/web-api';
import { ConfigError, parseHttpsUrl } from '../../settings/rules';
import type { CommandReport } from '../../core/report';
import { formatBytes } from '../../core/text';
import { describeRequestError, mayHaveArrived } from '../http';
import type { Form, Provider, RenderOptions, SendResult, SettingsContext } from '../provider';
import { renderSlackMessage, slackAsText, type SlackPayload } from '../slack/blocks';
import { slackWebhook } from './slack';

export const METADATA_EVENT = 'aks_command_result';
const FULL_LOGS_NOTE = 'full logs in thread';
/** A lookup reads at most this many pages of history (the window starts shortly before the doubt). */
const LOOKUP_PAGES = 2;
const LOOKUP_PAGE_SIZE = 200;
/** Slack's clock and the ledger's may differ: look a little before the doubt began. */
const CLOCK_SKEW_MS = 60_000;
/** Without a recorded doubt, a message Slack will not let us update is looked for this far before it. */
const LOOKUP_WINDOW_MS = 3600_000;

type PollFailure = Extract<SendResult, { ok: false }>;

export interface SlackAppSettings {
  channel: string;
  token: string;
  apiUrl: string;
  channelSetting: string;
  tokenSetting: string;
}

export interface SlackAppPayload {
  message: SlackPayload;
  metadata: { event_type: string; event_payload: { command_id: string; cluster: string; target: string } };
  /** The running message is posted once and updated; the final one also gets its file. */
  final: boolean;
  /** The whole of ARM's logs, as ARM gave them, for the thread. */
  file?: { name: string; content: string };
}

/** Where the live message is; kept in the ledger between attempts. */
interface LiveState {
  channel: string;
  ts?: string;
  /** The full-logs file is in the thread. */
  filed?: boolean;
  /** Our message is to be looked for from this time (ms) before anything is posted: a lookup not yet done. */
  lookFrom?: number;
}

function readState(text: string | undefined, channel: string): LiveState {
  try {
    const s = JSON.parse(text ?? '') as Partial<LiveState>;
    // A target moved to another channel starts a new message there.
    if (s && s.channel === channel) {
      return {
        channel,
        ...(typeof s.ts === 'string' && /^\d+\.\d+$/.test(s.ts) ? { ts: s.ts } : {}),
        ...(s.filed === true ? { filed: true } : {}),
        ...(typeof s.lookFrom === 'number' && Number.isFinite(s.lookFrom) ? { lookFrom: s.lookFrom } : {}),
      };
    }
  } catch {
    // none yet
  }
  return { channel };
}

const PERMANENT: Record<string, string> = {
  channel_not_found:
    'check that the channel setting holds the channel id (C…, from the channel details) and that the bot can see it (private channels: invite it)',
  not_in_channel: 'invite the bot to the channel (/invite @<app name>)',
  is_archived: 'the channel is archived: unarchive it or choose another',
  channel_is_archived: 'the channel is archived: unarchive it or choose another',
  invalid_auth: 'the bot token is not valid: reinstall the app and store its bot token (xoxb-…)',
  not_authed: 'no bot token was sent: set the token setting',
  account_inactive: 'the token belongs to a deactivated app or user: reinstall the app and store its new bot token',
  token_revoked: 'the bot token was revoked: reinstall the app and store its new bot token',
  token_expired: 'the bot token expired: turn off token rotation or store a fresh bot token',
  no_permission: 'the app may not post here: check the workspace admin settings',
  restricted_action: 'a workspace setting forbids this app from posting in this channel',
  ekm_access_denied: 'the workspace administrator suspended the ability to post',
  not_allowed_token_type: 'use the bot token (xoxb-…), not a user or app-level token',
  team_access_not_granted: 'the token has no access to this workspace: install the app there',
};
const REFUSED = new Set([
  'invalid_blocks',
  'invalid_blocks_format',
  'msg_too_long',
  'msg_blocks_too_long',
  'no_text',
  'too_many_attachments',
  'invalid_attachments',
  'invalid_metadata_format',
  'invalid_metadata_schema',
  'metadata_too_large',
  'metadata_must_be_sent_from_app',
  'invalid_arguments',
]);
const TRANSIENT = new Set([
  'ratelimited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'team_added_to_org',
]);

/** Classifies what @slack/web-api threw for one call. */
export function classifySlackAppError(
  err: unknown,
  tokenSetting = 'the token setting',
): Extract<SendResult, { ok: false }> {
  // With rejectRateLimitedCalls the SDK wraps its rate-limit error in p-retry's AbortError.
  const e = ((err as { originalError?: unknown })?.originalError ?? err) as {
    code?: string;
    retryAfter?: number;
    statusCode?: number;
    data?: { error?: string; needed?: string };
    original?: unknown;
    message?: string;
  };
  switch (e?.code) {
    case 'slack_webapi_rate_limited_error':
      return {
        ok: false,
        failure: 'transient',
        detail: 'Slack answered 429 ratelimited',
        status: 429,
        ...(typeof e.retryAfter === 'number' ? { retryAfterSeconds: e.retryAfter } : {}),
      };
    case 'slack_webapi_platform_error': {
      const code = String(e.data?.error ?? 'unknown_error')
        .replace(/[^\w.-]/g, '')
        .slice(0, 60);
      if (code === 'missing_scope') {
        const needed = String(e.data?.needed ?? '')
          .replace(/[^\w:,.-]/g, '')
          .slice(0, 100);
        return {
          ok: false,
          failure: 'permanent',
          detail: `Slack answered missing_scope: add ${needed ? `the scope${needed.includes(',') ? 's' : ''} ${needed}` : 'the scopes chat:write, files:write, channels:history and groups:history'} to the app and reinstall it`,
        };
      }
      const fix = PERMANENT[code];
      if (fix)
        return {
          ok: false,
          failure: 'permanent',
          detail: `Slack answered ${code}: ${fix.replace('the token setting', tokenSetting)}`,
        };
      if (TRANSIENT.has(code)) return { ok: false, failure: 'transient', detail: `Slack answered ${code}` };
      // A refused payload, or an error we do not know: the minimal form tells (and fails for good if it is not the payload).
      return {
        ok: false,
        failure: 'refused',
        detail: `Slack answered ${code}${REFUSED.has(code) ? '' : ' (not a known error)'}`,
      };
    }
    case 'slack_webapi_http_error': {
      const status = e.statusCode ?? 0;
      const detail = `Slack answered HTTP ${status}`;
      if (status === 429 || status === 408 || status >= 500) return { ok: false, failure: 'transient', detail, status };
      return { ok: false, failure: 'permanent', detail: `${detail} (check SLACK_API_URL)`, status };
    }
    case 'slack_webapi_request_error':
      return {
        ok: false,
        failure: 'transient',
        detail: `Slack ${describeRequestError(e.original)}`,
        mayHaveArrived: mayHaveArrived(e.original),
      };
    default:
      // The upload to Slack's file URL, or an error before any request.
      return {
        ok: false,
        failure: 'transient',
        detail: `Slack file upload failed: ${describeRequestError(err)}`,
        mayHaveArrived: true,
      };
  }
}

async function client(settings: SlackAppSettings, timeoutMs: number): Promise<WebClient> {
  // Loaded on the first send: a deployment without a Slack app target never pays for it at start-up.
  const { WebClient } = await import('@slack/web-api');
  return new WebClient(settings.token, {
    slackApiUrl: settings.apiUrl,
    timeout: timeoutMs,
    // Retries and waits are decided by the delivery stage, for every provider alike.
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    allowAbsoluteUrls: false,
    logger: {
      debug() {},
      info() {},
      warn() {},
      error() {},
      setLevel() {},
      getLevel: () => 'error' as never,
      setName() {},
    },
    fetch: async (input, init) => {
      const url = new URL(String(input instanceof Request ? input.url : input));
      const headers = new Headers(init?.headers);
      if (!url.href.startsWith(settings.apiUrl)) {
        // Slack's pre-signed upload URL: bytes only, never the token.
        parseHttpsUrl('the upload URL Slack returned', url.toString(), true);
        headers.delete('authorization');
      }
      return fetch(url, { ...init, headers, redirect: 'error' });
    },
  });
}

/** Who this token posts as (auth.test), learnt once per token: only its messages are ever adopted. */
interface BotIdentity {
  userId?: string;
  botId?: string;
}
const identities = new Map<string, Promise<BotIdentity>>();

function whoAmI(web: WebClient, token: string): Promise<BotIdentity> {
  let known = identities.get(token);
  if (!known) {
    known = web.auth.test().then((r) => {
      const id = {
        ...(typeof r.user_id === 'string' && r.user_id ? { userId: r.user_id } : {}),
        ...(typeof r.bot_id === 'string' && r.bot_id ? { botId: r.bot_id } : {}),
      };
      if (!id.userId && !id.botId)
        throw Object.assign(new Error('auth.test named neither a user nor a bot'), {
          code: 'slack_webapi_platform_error',
          data: { error: 'not_allowed_token_type' },
        });
      return id;
    });
    identities.set(token, known);
    // A failed answer is not remembered: the next attempt asks again.
    known.catch(() => identities.delete(token));
  }
  return known;
}

interface HistoryMessage {
  ts?: string;
  user?: string;
  bot_id?: string;
  app_id?: string;
  metadata?: { event_type?: string; event_payload?: Record<string, unknown> };
}

/** Posted by this bot: history names the poster, and another app may post a copy of our metadata. */
function isOurs(m: HistoryMessage, self: BotIdentity): boolean {
  return (self.botId !== undefined && m.bot_id === self.botId) || (self.userId !== undefined && m.user === self.userId);
}

/**
 * Our earlier message for this command and target, if the channel has it: the metadata names both, and
 * our own bot posted it. `exclude`: a message Slack said we cannot update (not ours, whatever it claims).
 */
async function lookup(
  web: WebClient,
  settings: SlackAppSettings,
  state: LiveState,
  payload: SlackAppPayload,
  sinceMs: number,
  budgetLeft: () => boolean,
  exclude?: string,
): Promise<{ ts?: string; complete: boolean; foreign: number }> {
  const want = payload.metadata.event_payload;
  const self = await whoAmI(web, settings.token);
  let cursor: string | undefined;
  let foreign = 0;
  for (let page = 0; page < LOOKUP_PAGES && budgetLeft(); page++) {
    const res = (await web.conversations.history({
      channel: state.channel,
      oldest: ((sinceMs - CLOCK_SKEW_MS) / 1000).toFixed(6),
      include_all_metadata: true,
      limit: LOOKUP_PAGE_SIZE,
      ...(cursor ? { cursor } : {}),
    })) as WebAPICallResult & { messages?: HistoryMessage[]; has_more?: boolean };
    for (const m of res.messages ?? []) {
      const p = m.metadata?.event_payload;
      if (
        !m.ts ||
        m.metadata?.event_type !== METADATA_EVENT ||
        p?.command_id !== want.command_id ||
        p?.cluster !== want.cluster ||
        p?.target !== want.target
      )
        continue;
      if (!isOurs(m, self)) {
        foreign++;
        continue;
      }
      if (m.ts === exclude) continue;
      return { ts: m.ts, complete: true, foreign };
    }
    cursor = res.response_metadata?.next_cursor || undefined;
    if (!res.has_more || !cursor) return { complete: true, foreign };
  }
  return { complete: false, foreign };
}

function fileName(report: CommandReport): string {
  return `${report.clusterName}-${report.commandId}.log`;
}

export const slackApp: Provider<SlackAppSettings> = {
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
  validateMention: slackWebhook.validateMention!,
  maxSendMs: (timeoutMs) => 4 * timeoutMs + 1000,

  render(report: CommandReport, options: RenderOptions, form: Form): SlackAppPayload {
    const final = report.outcome !== undefined;
    const { payload, logsCut } = renderSlackMessage(report, options, form, final ? FULL_LOGS_NOTE : undefined);
    const withFile = final && logsCut && options.includeLogs && report.logs !== undefined && report.logs.trim() !== '';
    if (withFile && form === 'minimal') {
      payload.blocks.splice(-1, 0, {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `Logs: ${FULL_LOGS_NOTE}`, verbatim: true }],
      });
    }
    return {
      message: payload,
      metadata: {
        event_type: METADATA_EVENT,
        event_payload: {
          command_id: report.commandId,
          cluster: report.clusterResourceId.toLowerCase(),
          target: options.target ?? '',
        },
      },
      final,
      ...(withFile ? { file: { name: fileName(report), content: report.logs! } } : {}),
    };
  },

  asText(payload: unknown): string {
    const p = payload as SlackAppPayload;
    const text = slackAsText(p.message);
    return p.file
      ? `${text}\n  ↳ thread: ${p.file.name} (${formatBytes(Buffer.byteLength(p.file.content, 'utf8'))}, the logs as ARM returned them)`
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
      else if (!found.complete && !budgetLeft())
        return {
          ok: false,
          failure: 'transient',
          detail: "looking for an earlier post took this attempt's time",
          providerState: out(),
        };
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
              if (!budgetLeft())
                return {
                  ok: false,
                  failure: 'transient',
                  detail: 'no time left in this attempt to update the message found',
                  providerState: out(),
                };
              step = 'chat.update';
              await web.chat.update({ channel: state.channel, ts: state.ts, ...message });
            }
          }
        }
      }
      if (!state.ts) {
        if (!budgetLeft())
          return {
            ok: false,
            failure: 'transient',
            detail: 'no time left in this attempt to post',
            providerState: out(),
          };
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
        if (!budgetLeft())
          return {
            ok: false,
            failure: 'transient',
            detail: 'no time left in this attempt to upload the logs',
            providerState: out(),
          };
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
