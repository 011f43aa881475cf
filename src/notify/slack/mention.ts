// Who a Slack message may mention, for both Slack kinds (webhook and app): a group or a person by id, or the
// channel — what the settings check before any message is rendered.
import type { SettingsContext } from '../provider';

export function validateSlackMention(ctx: SettingsContext, mention: string): void {
  if (!/^<(?:!here|!channel|!subteam\^[A-Z0-9]+|@[A-Z0-9]+)>$/.test(mention))
    ctx.fail('MENTION', 'must be <!here>, <!channel>, <!subteam^ID> or <@USERID>');
}
