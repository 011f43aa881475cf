// The Teams app package (`npm run teams-app`): a manifest naming the bot, team scope, notification only, no
// resource-specific permission; two icons of the sizes Teams requires; one stable app id per bot.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unzipSync } from 'fflate';
import { teamsAppPackage } from '../../scripts/teams-app';

const BOT = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';

describe('Teams app package', () => {
  it('holds the manifest and both icons', () => {
    const files = unzipSync(teamsAppPackage(BOT));
    assert.deepEqual(Object.keys(files).sort(), ['color.png', 'manifest.json', 'outline.png']);
    const manifest = JSON.parse(Buffer.from(files['manifest.json']!).toString('utf8'));
    assert.deepEqual(manifest.bots, [{ botId: BOT, scopes: ['team'], isNotificationOnly: true, supportsFiles: false }]);
    assert.equal(manifest.authorization, undefined, 'no resource-specific permission');
    assert.match(manifest.id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(JSON.parse(Buffer.from(unzipSync(teamsAppPackage(BOT))['manifest.json']!).toString()).id, manifest.id);
    for (const [name, size] of [
      ['color.png', 192],
      ['outline.png', 32],
    ] as const) {
      const png = Buffer.from(files[name]!);
      assert.equal(png.subarray(1, 4).toString('ascii'), 'PNG');
      assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [size, size], name);
    }
    assert.throws(() => teamsAppPackage('not-a-guid'), /--bot-id/);
  });
});
