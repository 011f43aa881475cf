// Everything the app talks to, on 127.0.0.1: Azurite, a managed identity endpoint, ARM over HTTPS and
// Slack/Teams receivers, Slack's Web API, the Bot Connector API. Used by the demo, the tests and the benchmark.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAppInsightsStandIn, type AppInsightsStandIn } from './appInsightsStandIn';
import { startArmStandIn, type ArmStandIn } from './armStandIn';
import { startAzurite, type Azurite, type AzuriteOptions } from './azurite';
import { startBotConnectorStandIn, type BotConnectorStandIn } from './botConnectorStandIn';
import { startIdentityEndpoint, type IdentityEndpoint } from './identityEndpoint';
import { startSlackApiStandIn, type SlackApiStandIn } from './slackApiStandIn';
import { createDevTls, loadDevTls, type DevTls } from './tls';
import { startWebhookReceivers, type WebhookReceivers } from './webhookReceivers';

export interface StandIns {
  dir: string;
  tls: DevTls;
  azurite: Azurite;
  identity: IdentityEndpoint;
  arm: ArmStandIn;
  appInsights: AppInsightsStandIn;
  receivers: WebhookReceivers;
  slackApi: SlackApiStandIn;
  /** The Bot Connector API (Teams as an app): its service URL goes in NOTIFY_TARGET_<NAME>_SERVICE_URL. */
  bot: BotConnectorStandIn;
  /** App settings pointing at the stand-ins (plus NODE_EXTRA_CA_CERTS for child processes). */
  env(extra?: Record<string, string>): Record<string, string>;
  stop(): Promise<void>;
}

export async function startStandIns(options: { azurite?: AzuriteOptions; tlsDir?: string } = {}): Promise<StandIns> {
  const dir = mkdtempSync(join(tmpdir(), 'aks-notifier-'));
  const [tls, azurite, identity, receivers, slackApi] = await Promise.all([
    options.tlsDir ? loadDevTls(options.tlsDir) : createDevTls(join(dir, 'tls')),
    startAzurite(options.azurite),
    startIdentityEndpoint(),
    startWebhookReceivers(),
    startSlackApiStandIn(),
  ]);
  const [arm, appInsights, bot] = await Promise.all([
    startArmStandIn({ key: tls.key, cert: tls.cert, identity }),
    startAppInsightsStandIn({ key: tls.key, cert: tls.cert, identity }),
    startBotConnectorStandIn({ key: tls.key, cert: tls.cert, identity }),
  ]);
  return {
    dir,
    tls,
    azurite,
    identity,
    arm,
    appInsights,
    receivers,
    slackApi,
    bot,
    env: (extra = {}) => ({
      AzureWebJobsStorage: azurite.connectionString,
      ARM_ENDPOINT: arm.endpoint,
      ...identity.env,
      SLACK_WEBHOOK_URL: receivers.urlFor('slack', 'alerts'),
      TEAMS_WEBHOOK_URL: receivers.urlFor('teams', 'alerts'),
      SLACK_API_URL: slackApi.url,
      NODE_EXTRA_CA_CERTS: tls.certPath,
      ...extra,
    }),
    async stop() {
      await Promise.allSettled([
        arm.close(),
        appInsights.close(),
        identity.close(),
        receivers.close(),
        slackApi.close(),
        bot.close(),
        azurite.stop(),
      ]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
