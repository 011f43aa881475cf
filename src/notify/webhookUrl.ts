// What every webhook kind of channel shares: one secret URL is the whole target. Its setting, its
// validation (https, or http on loopback for local receivers; never credentials) and how it is named in
// the settings reference and in errors.
import { parseHttpsUrl } from '../core/settingUrls';
import type { Provider, SettingsContext } from './provider';

export interface WebhookSettings {
  url: string;
  urlSetting: string;
}

/**
 * The parts of a webhook provider that are the same for every such kind: a zero-config target named after
 * the kind (<KIND>_WEBHOOK_URL, <KIND>_CLUSTERS), one secret URL option, its docs page.
 */
export function webhookChannel(
  kind: string,
  urlDoc: string,
  example: string,
): Pick<
  Provider<WebhookSettings>,
  'kind' | 'zeroConfig' | 'docs' | 'options' | 'readSettings' | 'describe' | 'identity'
> {
  const prefix = kind.toUpperCase().replace(/-/g, '_');
  return {
    kind,
    zeroConfig: { name: kind, settings: { URL: `${prefix}_WEBHOOK_URL`, CLUSTERS: `${prefix}_CLUSTERS` } },
    docs: `docs/channels/${kind}.md`,
    options: { URL: { doc: urlDoc, secret: true, example } },
    readSettings: readWebhookUrl,
    describe: (s) => `the URL in ${s.urlSetting}`,
    identity: (s) => s.url,
  };
}

function readWebhookUrl(ctx: SettingsContext): WebhookSettings {
  const url = ctx.get('URL');
  if (!url) ctx.fail('URL', 'is required');
  try {
    parseHttpsUrl(ctx.nameOf('URL'), url, true);
  } catch (err) {
    ctx.fail('URL', (err as Error).message.replace(/^[^:]*: /, ''));
  }
  return { url, urlSetting: ctx.nameOf('URL') };
}
