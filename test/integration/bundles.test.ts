// Nothing of the tests in what ships (issue 17): the function app's bundles, the CLI bundle and the packed
// CLI, built as `npm run package` and `npm run pack:cli` build them, are searched for the stand-ins, the
// in-memory stores, the demo and anything else from dev/, test/, bench/ or scripts/, two ways: by the files
// their source maps say they were made from, and by strings only those files hold. A stray import (the
// demo's, once, pulled every stand-in into the CLI) would otherwise only show as a bigger tarball.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildAll } from '../../scripts/build';
import { packCli } from '../../scripts/pack-cli';

const ROOT = resolve(__dirname, '../..');

/**
 * A string each stand-in holds and the production code does not; `bundled` when the bundle spells it
 * otherwise (esbuild prints numbers in decimal). String literals, module names and numbers survive
 * minification, which renames every identifier. The first test checks that each is in its file and in none
 * of src/, so a marker that drifts away from its stand-in is reported instead of proving nothing.
 */
const MARKERS: { file: string; text: string; bundled?: string }[] = [
  { file: 'dev/armStandIn.ts', text: 'The request content was invalid.' },
  { file: 'dev/identityEndpoint.ts', text: 'invalid identity header' },
  { file: 'dev/slackApiStandIn.ts', text: 'unknown_method' },
  { file: 'dev/webhookReceivers.ts', text: 'Request Entity Too Large' },
  { file: 'dev/appInsightsStandIn.ts', text: '00000000a1a1' },
  { file: 'dev/azurite.ts', text: '--inMemoryPersistence' },
  { file: 'dev/tls.ts', text: 'selfsigned' },
  { file: 'dev/standIns.ts', text: 'aks-notifier-' },
  { file: 'dev/prng.ts', text: '0x6d2b79f5', bundled: '1831565813' },
  { file: 'dev/demo.ts', text: 'xoxb-demo-0000-not-a-real-token' },
  // No string of their own: their class names, which the unminified CLI keeps; the source maps cover the rest.
  { file: 'dev/memoryStores.ts', text: 'class MemoryEntityStore', bundled: 'MemoryEntityStore' },
  { file: 'dev/memoryStores.ts', text: 'class MemoryResultStore', bundled: 'MemoryResultStore' },
];

/** Where what ships must not come from: the repository's own non-production folders. */
const NOT_SHIPPED = ['dev/', 'test/', 'bench/', 'scripts/'];

let work: string | undefined;
let bundles: string[];
let packed: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'bundles-'));
  await buildAll(work);
  const dist = join(work, 'dist');
  bundles = [
    join(dist, 'cli.js'),
    ...readdirSync(join(dist, 'function'))
      .filter((f) => f.endsWith('.js'))
      .map((f) => join(dist, 'function', f)),
  ];
  packed = join(work, 'packed');
  mkdirSync(packed);
  execFileSync('tar', ['-xzf', packCli(work), '-C', packed]);
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The files under `dir`, relative to it. */
function filesIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** The sources of a bundle's map, relative to the repository (a dependency's own map may add pseudo-paths). */
function sourcesOf(bundle: string): string[] {
  const map = JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as { sources: string[]; sourceRoot?: string };
  return map.sources.map((s) => relative(ROOT, resolve(dirname(bundle), map.sourceRoot ?? '', s)));
}

const devDependencies = Object.keys(
  (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> })
    .devDependencies,
);

function foundIn(text: string): string[] {
  return MARKERS.filter((m) => text.includes(m.bundled ?? m.text)).map((m) => `${m.file} (${m.bundled ?? m.text})`);
}

describe('what ships', () => {
  it("searches for markers that are each stand-in's own: in its file, in none of src/", () => {
    const production = filesIn(join(ROOT, 'src'))
      .map((f) => readFileSync(join(ROOT, 'src', f), 'utf8'))
      .join('\n');
    for (const m of MARKERS) {
      assert.ok(readFileSync(join(ROOT, m.file), 'utf8').includes(m.text), `${m.file} no longer holds ${m.text}`);
      for (const s of new Set([m.text, m.bundled ?? m.text]))
        assert.ok(!production.includes(s), `src/ holds ${s} too: choose a string only ${m.file} has`);
    }
  });

  it('builds the function app and the CLI from src/ and runtime dependencies only', () => {
    assert.deepEqual(
      bundles.map((b) => relative(work!, b)),
      [
        'dist/cli.js',
        'dist/function/handler.js',
        'dist/function/index.js',
        'dist/function/slack-sdk.js',
        'dist/function/teams-sdk.js',
        'dist/function/telemetry.js',
      ],
    );
    for (const bundle of bundles) {
      const name = relative(work!, bundle);
      const sources = sourcesOf(bundle);
      // The map's paths do resolve to this repository's files (or, for a channel's SDK, to that SDK's).
      assert.ok(
        sources.some((s) =>
          /^src\/(cli\/main|index|functions\/bundle|telemetry\/setup)\.ts$|^node_modules\/(@slack\/web-api|@microsoft\/teams\.api)\//.test(
            s,
          ),
        ),
        `${name}: no entry point among the map's sources (${sources.slice(0, 3).join(', ')}…)`,
      );
      const local = sources.filter((s) => NOT_SHIPPED.some((dir) => s.startsWith(dir)));
      assert.deepEqual(local, [], `${name} is made from files that must not ship`);
      // Anywhere in the path: a dependency's own node_modules, or a node_modules linked from elsewhere.
      const fromDevDependencies = sources.filter((s) =>
        devDependencies.some((d) => `/${s}`.includes(`/node_modules/${d}/`)),
      );
      assert.deepEqual(fromDevDependencies, [], `${name} bundles a devDependency`);
    }
  });

  it("holds no stand-in's, in-memory store's or demo's strings in any bundle", () => {
    for (const bundle of bundles)
      assert.deepEqual(foundIn(readFileSync(bundle, 'utf8')), [], `${relative(work!, bundle)} holds`);
  });

  it('packs the CLI bundle, its bin, package.json and README only, none with a stand-in, and no dependency', () => {
    assert.deepEqual(filesIn(packed), [
      'package/README.md',
      'package/bin/aks-command-notifier.js',
      'package/dist/cli.js',
      'package/package.json',
    ]);
    // The very bundle whose map the test above read.
    assert.ok(readFileSync(join(packed, 'package/dist/cli.js')).equals(readFileSync(join(work!, 'dist/cli.js'))));
    for (const f of filesIn(packed))
      assert.deepEqual(foundIn(readFileSync(join(packed, f), 'utf8')), [], `the packed ${f} holds`);
    const manifest = JSON.parse(readFileSync(join(packed, 'package/package.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(
      ['dependencies', 'optionalDependencies', 'peerDependencies'].filter((k) => k in manifest),
      [],
      'the packed CLI installs nothing',
    );
  });
});
