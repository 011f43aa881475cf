// Another app in our Slack channels, with history and chat:write: it can read the metadata of our messages
// and post a copy of one (its text, blocks and metadata), which the Slack app target must never take for its
// own. The Slack app target's integration suite and its fault run both put one in the channel.
import { randomBytes } from 'node:crypto';
import { WebClient, type ChatPostMessageResponse } from '@slack/web-api';
import type { SlackBot } from '../../dev/slackApiStandIn';
import { stack } from './stack';

export interface OtherApp {
  bot: SlackBot;
  /** Posts a copy of one of our messages: the arguments of our chat.postMessage call, or the message read back. */
  copy(channel: string, message: Record<string, unknown>): Promise<ChatPostMessageResponse>;
}

/** `client` adds to the app's WebClient options (it never retries; the fault run also rejects rate-limited calls). */
export function otherApp(channels: string[], client: { rejectRateLimitedCalls?: boolean } = {}): OtherApp {
  const token = `xoxb-${randomBytes(6).toString('hex')}-${randomBytes(10).toString('hex')}`;
  const bot = stack().slackApi.addBot(token, channels);
  const web = new WebClient(token, { slackApiUrl: stack().slackApi.url, retryConfig: { retries: 0 }, ...client });
  return {
    bot,
    copy: (channel, message) =>
      web.chat.postMessage({
        channel,
        text: String(message.text ?? ''),
        ...(message.blocks ? { blocks: message.blocks as never } : {}),
        ...(message.metadata ? { metadata: message.metadata as never } : {}),
      }),
  };
}
