// What the Teams app provider keeps between attempts and hands between its parts: its settings, the payload
// it renders (the card, the logs for the thread) and where the live card is (its conversation and activity) —
// in the JSON every version of the app has kept in the ledger, read into the live engine's neutral view.
import type { StateCodec } from '../../live/engine';
import type { TeamsPayload } from '../../teams/card';

export interface TeamsAppSettings {
  /** The channel's id (19:…@thread.tacv2). */
  channel: string;
  /** The tenant's id; undefined: the tenant of the app identity's token. */
  tenant?: string;
  /** The bot service's base URL, without a trailing slash (as the Teams SDK keeps it). */
  serviceUrl: string;
  /** The audience of the bot service of the cloud the service URL is in. */
  audience: string;
  channelSetting: string;
  tenantSetting: string;
  serviceUrlSetting: string;
}

export interface TeamsAppPayload {
  card: TeamsPayload;
  /** What the card is of (`<cluster>/<command id>`, `fleet/<id>`), for what the log says of it. */
  subject: string;
  /** The running card is posted once and updated; the final one also gets the logs in its thread. */
  final: boolean;
  /** The whole of the logs, in the pieces the thread's replies carry (each within the bot message limit). */
  replies?: Replies;
}

/** Logs as replies: their file name and heading, whether the card shows their end, and the pieces. */
export interface Replies {
  name: string;
  title: string;
  endShown: boolean;
  parts: string[];
  omittedBytes: number;
}

/** Where the live card is; kept in the ledger between attempts. */
interface LiveCard {
  channel: string;
  /** The card's thread: the channel's id with `;messageid=` the card's activity id. */
  conversationId?: string;
  activityId?: string;
  /** How many of the logs' replies are in the thread. */
  replied?: number;
  /**
   * The card is finished (its result delivered, or refused for good): a send after this one is on purpose
   * (`redeliver`, a target fixed) and starts a new card.
   */
  closed?: boolean;
  /**
   * New threads started while an earlier one may have been posted (attempts in doubt) that the log has not
   * told yet: counted before each such thread and kept until a result says it, so that a worker that dies
   * first does not take the report along.
   */
  suspect?: number;
  /**
   * Replies resumed by attempts in doubt (each may show twice) that the log has not told yet, one entry per
   * such attempt: recorded before the reply, so that a worker that dies first does not take the report along.
   */
  repeats?: number[];
}

function readState(text: string | undefined, channel: string): LiveCard {
  try {
    const s = JSON.parse(text ?? '') as Partial<LiveCard>;
    // A target moved to another channel starts a new card there.
    if (s && s.channel === channel) {
      const posted =
        typeof s.conversationId === 'string' &&
        (s.conversationId === channel || s.conversationId.startsWith(`${channel};`)) &&
        typeof s.activityId === 'string' &&
        /^[\w:.@;=-]{1,200}$/.test(s.activityId);
      return {
        channel,
        ...(posted ? { conversationId: s.conversationId, activityId: s.activityId } : {}),
        ...(posted && Number.isInteger(s.replied) && s.replied! > 0 ? { replied: s.replied } : {}),
        ...(posted && s.closed === true ? { closed: true } : {}),
        ...(Number.isInteger(s.suspect) && s.suspect! > 0 ? { suspect: s.suspect } : {}),
        ...(Array.isArray(s.repeats) && s.repeats.length > 0 && s.repeats.every((i) => Number.isInteger(i) && i >= 0)
          ? { repeats: s.repeats.slice(0, 100) }
          : {}),
      };
    }
  } catch {
    // none yet
  }
  return { channel };
}

/** Where a card is: its thread and its activity. */
export interface CardRef {
  conversationId: string;
  activityId: string;
}

/** The ledger's JSON as the live engine sees it. */
export function liveStateCodec(channel: string): StateCodec<CardRef> {
  return {
    read(text) {
      const s = readState(text, channel);
      const posted = s.conversationId !== undefined && s.activityId !== undefined;
      return {
        ...(posted ? { ref: { conversationId: s.conversationId!, activityId: s.activityId! } } : {}),
        replied: s.replied ?? 0,
        ...(s.closed ? { closed: true } : {}),
        ...(s.suspect !== undefined ? { suspect: s.suspect } : {}),
        ...(s.repeats !== undefined ? { repeats: s.repeats } : {}),
      };
    },
    write(live) {
      const s: LiveCard = {
        channel,
        ...(live.ref ? { conversationId: live.ref.conversationId, activityId: live.ref.activityId } : {}),
        ...(live.replied > 0 ? { replied: live.replied } : {}),
        ...(live.closed ? { closed: true } : {}),
        ...(live.suspect ? { suspect: live.suspect } : {}),
        ...(live.repeats?.length ? { repeats: live.repeats } : {}),
      };
      return JSON.stringify(s);
    },
  };
}
