// The channel seam, from the text's side: a chat channel (everything under src/notify/providers/,
// src/notify/slack/ and src/notify/teams/) renders the neutral message and nothing else, so none of its files
// names a report type, and the contract keeps no per-kind render. What a channel may import is a layering
// rule (.dependency-cruiser.cjs: channels-know-no-report, notify-is-stateless), tested in test/infra/.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { PROVIDERS } from '../../../src/notify/registry';

const ROOT = resolve(__dirname, '../../..');
const CHANNELS = ['src/notify/providers', 'src/notify/slack', 'src/notify/teams'];
const REPORT_TYPES = /\b(CommandReport|GroupReport|MemberLine|MemberState|Report|StructuredReport|Outcome)\b/;

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('the channel seam', () => {
  const files = CHANNELS.flatMap(filesUnder);

  it('finds the channels', () => {
    assert.ok(files.length >= 15, `${files.length} files`);
    assert.ok(files.includes('src/notify/providers/teamsApp/index.ts'));
  });

  it('no chat channel names a report type', () => {
    const found = files.filter((f) => REPORT_TYPES.test(readFileSync(join(ROOT, f), 'utf8')));
    assert.deepEqual(found, []);
  });

  it('renders by what it takes, never by the kind of report: no renderGroup anywhere in notify/', () => {
    const found = filesUnder('src/notify').filter((f) => /renderGroup/.test(readFileSync(join(ROOT, f), 'utf8')));
    assert.deepEqual(found, []);
    for (const p of PROVIDERS) assert.ok(!('renderGroup' in p), p.kind);
  });
});
