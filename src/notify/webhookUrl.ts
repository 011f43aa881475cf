// What every webhook kind of channel shares: one secret URL is the whole target. Its setting, its
// validation (https, or http on loopback for local receivers; never credentials) and how it is named in
// the settings reference and in errors.
import { parseHttpsUrl } from '../settings/rules';
import type { OptionSpec, SettingsContext } from './provider';

export interface WebhookSettings {
  url: string;
  urlSetting: string;
}

export function webhookUrlOption(doc: string, example: string): Record<'URL', OptionSpec> {
  return { URL: { doc, secret: true, example } };
}

export function readWebhookUrl(ctx: SettingsContext): WebhookSettings {
  const url = ctx.get('URL');
  if (!url) ctx.fail('URL', 'is required');
  try {
    parseHttpsUrl(ctx.nameOf('URL'), url, true);
  } catch (err) {
    ctx.fail('URL', (err as Error).message.replace(/^[^:]*: /, ''));
  }
  return { url, urlSetting: ctx.nameOf('URL') };
}
