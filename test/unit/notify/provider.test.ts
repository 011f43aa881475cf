// The channel seam, from the imports' side: a chat channel (everything under src/notify/providers/ and
// src/notify/slack/) renders the neutral message and nothing else, so none of its files imports a report's
// module (core/report, core/group, core/doctor…), the builders (notify/compose, notify/samples) or anything
// stateful (store/, pipeline/), and none names a report type. And the contract keeps no per-kind render.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { PROVIDERS } from '../../../src/notify/registry';

const ROOT = resolve(__dirname, '../../..');
const CHANNELS = ['src/notify/providers', 'src/notify/slack'];
/** What a channel must not import: the reports and their builders, and every stateful layer. */
const FORBIDDEN = [
  /^src\/core\/(report|group|groupMessage|doctor|doctorMessage|message|armAnswer)\.ts$/,
  /^src\/notify\/(compose|samples|delivery|deliveryRecords)\.ts$/,
  /^src\/(store|pipeline|cli|functions|arm|queue)\//,
];
const REPORT_TYPES = /\b(CommandReport|GroupReport|MemberLine|MemberState|Report|StructuredReport|Outcome)\b/;

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every relative module a file imports (static, type-only and dynamic), as a path from the repository root. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*|^import\s+)'([^']+)'/gm)].map((m) => m[1]!);
  return specifiers
    .filter((s) => s.startsWith('.'))
    .map((s) => {
      const path = relative(ROOT, resolve(ROOT, dirname(file), s));
      return path.endsWith('.ts') ? path : `${path}.ts`;
    });
}

describe('the channel seam', () => {
  const files = CHANNELS.flatMap(filesUnder);

  it('finds the channels', () => {
    assert.ok(files.length >= 15, `${files.length} files`);
    assert.ok(files.includes('src/notify/providers/teamsApp/index.ts'));
  });

  it('no chat channel imports a report, a builder or a stateful layer', () => {
    const found = files.flatMap((f) =>
      importsOf(f)
        .map((target) => target.replace(/\/index\.ts$/, '.ts'))
        .filter((target) => FORBIDDEN.some((rule) => rule.test(target)))
        .map((target) => `${f} imports ${target}`),
    );
    assert.deepEqual(found, []);
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
