// Every kind of channel this app can post to: one line each. `registerProvider` adds one from outside
// (a test's stub channel, proving that a channel needs nothing beyond its own module and this list).
import type { Provider } from './provider';
import { slackWebhook } from './providers/slack';
import { slackApp } from './providers/slackApp';
import { teams } from './providers/teams';
import { teamsApp } from './providers/teamsApp';

const providers: Provider<any>[] = [slackWebhook, slackApp, teams, teamsApp];

export const PROVIDERS: readonly Provider<any>[] = providers;

export function providerFor(kind: string): Provider<any> | undefined {
  return PROVIDERS.find((p) => p.kind === kind);
}

export function registerProvider(provider: Provider<any>): void {
  if (providerFor(provider.kind)) throw new Error(`a provider of kind ${provider.kind} is registered already`);
  providers.push(provider);
}
