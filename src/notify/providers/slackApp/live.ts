// The Slack app's channel for the live-message engine (notify/live): chat.postMessage, chat.update and one
// files.uploadV2 into the thread, through @slack/web-api's WebClient (whose fetch hook keeps the token to
// SLACK_API_URL's origin), and a lookup of the channel's history for our own post after an attempt in
// doubt. Slack can be read back, so it records no checkpoints (a dead attempt's post is found), and a
// redelivery updates the same message again.
import type { WebClient } from '@slack/web-api';
import type { LiveChannel, Step } from '../../live/engine';
import { classifySlackAppError } from './answers';
import { LOOKUP_PAGE_SIZE, LOOKUP_PAGES, lookup } from './history';
import { liveStateCodec, type SlackAppPayload, type SlackAppSettings } from './state';

/** Without a recorded doubt, a message Slack will not let us update is looked for this far before it. */
const LOOKUP_WINDOW_MS = 3600_000;

const STEP_NAMES: Record<Step, string> = {
  lookup: 'lookup',
  create: 'chat.postMessage',
  update: 'chat.update',
  reply: 'files.uploadV2',
};

export function slackChannel(web: WebClient, settings: SlackAppSettings, p: SlackAppPayload): LiveChannel<string> {
  const channel = settings.channel;
  const message = { ...p.message, metadata: p.metadata };
  return {
    state: liveStateCodec(channel),
    checkpoints: false,
    redelivery: 'same-message',
    words: {
      noun: 'message',
      reply: () => "the logs' file",
      replyRefused: 'the full logs could not be attached',
    },
    stepName: (step) => STEP_NAMES[step],
    classify: (err) => classifySlackAppError(err, settings.tokenSetting),

    async create() {
      const res = await web.chat.postMessage({ channel, ...message });
      return typeof res.ts === 'string' ? { ref: res.ts } : { unnamed: 'Slack answered chat.postMessage without a ts' };
    },

    async update(ts) {
      try {
        await web.chat.update({ channel, ts, ...message });
        return 'updated';
      } catch (err) {
        const code = (err as { data?: { error?: string } }).data?.error;
        if (code === 'message_not_found') return 'gone';
        // Not ours to edit, whatever its metadata says.
        if (code === 'cant_update_message') return 'not-ours';
        throw err;
      }
    },

    async reply(ts) {
      await web.filesUploadV2({
        channel_id: channel,
        thread_ts: ts,
        file: Buffer.from(p.file!.content, 'utf8'),
        filename: p.file!.name,
        title: p.file!.name,
      });
    },

    async findOurs(sinceMs, exclude, budgetLeft) {
      const found = await lookup(web, settings, p, sinceMs, budgetLeft, exclude);
      return {
        ...(found.ts !== undefined ? { ref: found.ts } : {}),
        complete: found.complete,
        notes:
          found.foreign > 0
            ? [
                `${found.foreign} message(s) in the channel carry this command's metadata but were not posted by this app; they were left alone`,
              ]
            : [],
        reach: `read ${LOOKUP_PAGES * LOOKUP_PAGE_SIZE} messages without reaching the time of the doubt`,
      };
    },

    lookBackFrom: (ts) => Number(ts) * 1000 - LOOKUP_WINDOW_MS,
  };
}
