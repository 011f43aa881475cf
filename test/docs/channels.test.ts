// Each channel's docs page lives with its provider: the page the provider names exists, is in docs/channels/
// (linked as a folder from docs/notifications.md), and names the kind and every setting the provider declares (its options as
// `_<OPTION>` of a named target, its zero-config settings, its shared settings), so that a channel's
// settings cannot change without its page.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { PROVIDERS } from '../../src/notify/registry';

const ROOT = resolve(__dirname, '..', '..');

describe('channel docs', () => {
  for (const p of PROVIDERS) {
    it(`${p.kind}: ${p.docs} names the kind and every setting the provider declares`, () => {
      assert.ok(existsSync(join(ROOT, p.docs)), `${p.docs} is missing`);
      const page = readFileSync(join(ROOT, p.docs), 'utf8');
      assert.ok(page.includes(`\`${p.kind}\``), `${p.docs} does not name the kind \`${p.kind}\``);
      const names = [
        ...Object.keys(p.options).map((o) => `_${o}`),
        ...Object.values(p.zeroConfig?.settings ?? {}),
        ...Object.keys(p.shared ?? {}),
      ];
      for (const name of names) assert.ok(page.includes(name), `${p.docs} does not document ${name}`);
      // In docs/channels/, which docs/notifications.md links as a folder: a new page needs no index edit.
      assert.match(p.docs, /^docs\/channels\/[a-z0-9-]+\.md$/);
    });
  }
});
