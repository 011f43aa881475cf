// `npm run teams-app -- --bot-id <client id>`: the Teams app package a Teams admin uploads so that the bot
// of teams-app targets can post in a team (docs/channels/teams-app.md). The bot id is the app identity's
// client id (the deployment's TEAMS_BOT_ID output). The bot is notification-only and team-scoped, asks for
// no resource-specific permission (nothing is read back) and has no files; the icons are drawn here.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { zipSync } from 'fflate';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A PNG of w×h pixels, each given as [r, g, b, a]. */
export function png(w: number, h: number, pixel: (x: number, y: number) => [number, number, number, number]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(w, 0);
  header.writeUInt32BE(h, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
  const rows = Buffer.alloc(h * (1 + 4 * w));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rows.set(pixel(x, y), y * (1 + 4 * w) + 1 + 4 * x);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A ring: Azure blue on the colour icon (192×192), white on transparent for the outline (32×32). */
function ring(size: number, colour: [number, number, number], background?: [number, number, number]): Buffer {
  const c = size / 2;
  return png(size, size, (x, y) => {
    const d = Math.hypot(x + 0.5 - c, y + 0.5 - c) / c;
    if (d > 0.55 && d < 0.8) return [...colour, 255];
    return background ? [...background, 255] : [0, 0, 0, 0];
  });
}

export function teamsAppPackage(botId: string, options: { name?: string; developerUrl?: string } = {}): Uint8Array {
  if (!GUID.test(botId)) throw new Error('--bot-id must be the app identity client id (a GUID: TEAMS_BOT_ID)');
  // The Teams app's own id, stable for a bot: uploading a new version replaces the old one.
  const h = createHash('sha256').update(`aks-command-notifier/${botId.toLowerCase()}`).digest('hex');
  const appId = `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  const url = options.developerUrl ?? 'https://learn.microsoft.com/azure/aks/access-private-cluster';
  const manifest = {
    $schema: 'https://developer.microsoft.com/json-schemas/teams/v1.17/MicrosoftTeams.schema.json',
    manifestVersion: '1.17',
    version: '1.0.0',
    id: appId,
    developer: { name: 'Platform team', websiteUrl: url, privacyUrl: url, termsOfUseUrl: url },
    name: { short: options.name ?? 'AKS command notifier', full: 'AKS command notifier: run command results' },
    description: {
      short: 'Results of AKS run commands, one live card each.',
      full: 'Posts the result of each AKS run command (az aks command invoke) in a channel: a card posted while the command runs, updated in place with the result, the full logs in its thread. It only posts; it reads nothing.',
    },
    icons: { color: 'color.png', outline: 'outline.png' },
    accentColor: '#0078D4',
    bots: [{ botId, scopes: ['team'], isNotificationOnly: true, supportsFiles: false }],
    permissions: ['identity'],
    validDomains: [],
  };
  return zipSync({
    'manifest.json': Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`),
    'color.png': ring(192, [255, 255, 255], [0, 120, 212]),
    'outline.png': ring(32, [255, 255, 255]),
  });
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const botId = value('--bot-id') ?? process.env.TEAMS_BOT_ID ?? '';
  const out = resolve(value('--out') ?? 'dist/teams-app.zip');
  try {
    const zip = teamsAppPackage(botId, {
      ...(value('--name') ? { name: value('--name')! } : {}),
      ...(value('--developer-url') ? { developerUrl: value('--developer-url')! } : {}),
    });
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, zip);
    console.log(`wrote ${out} (${zip.length} bytes): upload it in Teams (Apps → Manage your apps → Upload an app)`);
  } catch (err) {
    console.error(`error: ${(err as Error).message} (npm run teams-app -- --bot-id <TEAMS_BOT_ID> [--out file])`);
    process.exitCode = 2;
  }
}
