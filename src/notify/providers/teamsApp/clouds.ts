// Where a Teams bot may send: the bot service of each cloud, as Microsoft lists its proactive-messaging
// endpoints (Agents SDK TeamsServiceEndpoints), and the audience of that cloud's tokens (the Teams SDK's
// cloud environments, botScope). GCC runs on the public bot service's tokens. Teams operated by 21Vianet
// lists no proactive endpoint: not offered. A loopback address (a local stand-in) takes the public audience.
export interface BotCloud {
  name: string;
  host: string;
  defaultServiceUrl: string;
  audience: string;
}

export const BOT_CLOUDS: readonly BotCloud[] = [
  {
    name: 'public',
    host: 'smba.trafficmanager.net',
    defaultServiceUrl: 'https://smba.trafficmanager.net/teams/',
    audience: 'https://api.botframework.com',
  },
  {
    name: 'GCC',
    host: 'smba.infra.gcc.teams.microsoft.com',
    defaultServiceUrl: 'https://smba.infra.gcc.teams.microsoft.com/teams',
    audience: 'https://api.botframework.com',
  },
  {
    name: 'GCC High',
    host: 'smba.infra.gov.teams.microsoft.us',
    defaultServiceUrl: 'https://smba.infra.gov.teams.microsoft.us/teams',
    audience: 'https://api.botframework.us',
  },
  {
    name: 'DoD',
    host: 'smba.infra.dod.teams.microsoft.us',
    defaultServiceUrl: 'https://smba.infra.dod.teams.microsoft.us/teams',
    audience: 'https://api.botframework.us',
  },
];

export const PUBLIC_SERVICE_URL = BOT_CLOUDS[0]!.defaultServiceUrl;
