// The Teams app's channel for the live-message engine (notify/live): a new conversation (the card's thread),
// an update of its activity and N reply cards, through the Teams SDK's client, whose middleware keeps the
// app's token to the bot service. The Bot Connector cannot be read back (no list of a bot's messages), so
// every call that changes the card is checkpointed in the ledger, a card posted while an earlier one may
// have been is counted and told, a redelivery starts a new card, and calls in one thread are spaced.
import type { LiveChannel } from '../../live/engine';
import { classifyBotError, OUTSIDE_SERVICE } from './answers';
import { replyActivity } from './replies';
import { liveStateCodec, type CardRef, type TeamsAppPayload, type TeamsAppSettings } from './state';

/** Between two calls in one thread: Teams allows 7 per second and 8 per 2 s per bot and thread. */
const THREAD_SPACING_MS = 300;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The tenant a token was issued in (its `tid`), read without verifying: the bot service verifies it. */
export function tenantOf(token: string): string | undefined {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      tid?: unknown;
    };
    return typeof claims.tid === 'string' && GUID.test(claims.tid) ? claims.tid : undefined;
  } catch {
    return undefined;
  }
}

export async function botClient(settings: TeamsAppSettings, token: string, timeoutMs: number) {
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

type BotClient = Awaited<ReturnType<typeof botClient>>;

export function teamsChannel(
  client: BotClient,
  settings: TeamsAppSettings,
  tenant: string,
  p: TeamsAppPayload,
): LiveChannel<CardRef> {
  return {
    state: liveStateCodec(settings.channel),
    checkpoints: true,
    redelivery: 'new-message',
    spacingMs: THREAD_SPACING_MS,
    words: {
      noun: 'card',
      reply: (index) => `reply ${index + 1} of the logs`,
      replyRefused: 'the full logs could not be added to the thread',
    },
    // Teams has no lookup step.
    classify: (err, step) => classifyBotError(err, step === 'lookup' ? 'update' : step, settings),

    async create() {
      const res = (await client.conversations.create({
        isGroup: true,
        channelData: { channel: { id: settings.channel }, tenant: { id: tenant } },
        tenantId: tenant,
        activity: p.card as never,
      })) as { id?: unknown; activityId?: unknown };
      if (typeof res.id !== 'string' || typeof res.activityId !== 'string' || !res.id || !res.activityId)
        return { unnamed: 'the bot service answered the new conversation without its ids' };
      return { ref: { conversationId: res.id, activityId: res.activityId } };
    },

    async update(ref) {
      try {
        await client.conversations.activities(ref.conversationId).update(ref.activityId, p.card as never);
        return 'updated';
      } catch (err) {
        // A member deleted the card.
        if ((err as { response?: { status?: number } }).response?.status === 404) return 'gone';
        throw err;
      }
    },

    async reply(ref, index) {
      const activity = replyActivity(p.replies!, index);
      await client.conversations.activities(ref.conversationId).reply(ref.activityId, activity as never);
    },
  };
}
