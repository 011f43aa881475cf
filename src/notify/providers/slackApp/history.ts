// Finding our own earlier message in a channel after an attempt in doubt: the Web API client (the token
// goes to SLACK_API_URL's origin only), who this token posts as, and a bounded read of the channel's history
// for a message whose metadata names this command and target and that our own bot posted.
import type { WebAPICallResult, WebClient } from '@slack/web-api';
import { parseHttpsUrl } from '../../../core/settingUrls';
import { METADATA_EVENT, type SlackAppPayload, type SlackAppSettings } from './state';

/** A lookup reads at most this many pages of history (the window starts shortly before the doubt). */
export const LOOKUP_PAGES = 2;
export const LOOKUP_PAGE_SIZE = 200;
/** Slack's clock and the ledger's may differ: look a little before the doubt began. */
const CLOCK_SKEW_MS = 60_000;

export async function client(settings: SlackAppSettings, timeoutMs: number): Promise<WebClient> {
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
export async function lookup(
  web: WebClient,
  settings: SlackAppSettings,
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
      channel: settings.channel,
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
