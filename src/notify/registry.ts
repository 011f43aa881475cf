// Every kind of channel this app can post to: one line each.
import type { Provider } from './provider';
import { slackWebhook } from './providers/slack';
import { slackApp } from './providers/slackApp';
import { teams } from './providers/teams';

export const PROVIDERS: readonly Provider<any>[] = [slackWebhook, slackApp, teams];

export function providerFor(kind: string): Provider<any> | undefined {
  return PROVIDERS.find((p) => p.kind === kind);
}
