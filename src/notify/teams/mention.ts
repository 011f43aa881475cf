// Who a Teams card may mention, for both Teams kinds (webhook and app): one person, as "user@domain|Display
// Name" — what the settings check before any card is rendered.
import type { SettingsContext } from '../provider';

export function validateTeamsMention(ctx: SettingsContext, mention: string): void {
  if (!/^[^|<>\s]+@[^|<>\s]+\|[^<>|]{1,100}$/.test(mention)) ctx.fail('MENTION', 'must be "user@domain|Display Name"');
}
