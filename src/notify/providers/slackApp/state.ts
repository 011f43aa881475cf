// What the Slack app provider keeps between attempts and hands between its parts: its settings, the
// payload it renders (the message, its metadata, the logs for the thread) and where the live message is —
// in the JSON every version of the app has kept in the ledger, read into the live engine's neutral view.
import type { StateCodec } from '../../live/engine';
import type { SlackPayload } from '../../slack/blocks';

export const METADATA_EVENT = 'aks_command_result';

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

/** The ledger's JSON as the live engine sees it: the message is its ts; the file, its one reply. */
export function liveStateCodec(channel: string): StateCodec<string> {
  return {
    read(text) {
      const s = readState(text, channel);
      return {
        ...(s.ts !== undefined ? { ref: s.ts } : {}),
        replied: s.filed ? 1 : 0,
        ...(s.lookFrom !== undefined ? { lookFrom: s.lookFrom } : {}),
      };
    },
    write(live) {
      const s: LiveState = {
        channel,
        ...(live.ref !== undefined ? { ts: live.ref } : {}),
        ...(live.replied > 0 ? { filed: true } : {}),
        ...(live.lookFrom !== undefined ? { lookFrom: live.lookFrom } : {}),
      };
      return JSON.stringify(s);
    },
  };
}
