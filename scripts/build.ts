// Bundles the deployable function app (dist/function/index.js) and the CLI (dist/cli.js) with esbuild.
// One file loads far faster than hundreds of node_modules files on a cold start (see docs/performance.md).
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');

// What each bundle may assume of the Node that runs it: the function app runs on the Node the lockfile pins
// (the npm package `node`, the major infra deploys), the CLI on a caller's Node, as old as `engines` allows.
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } }>;
};
export const APP_NODE_MAJOR = Number(lock.packages['node_modules/node']!.version!.split('.')[0]);
export const CLI_NODE_MAJOR = Number(/>=\s*(\d+)/.exec(lock.packages['']!.engines!.node!)![1]);
const APP_TARGET = `node${APP_NODE_MAJOR}`;
const CLI_TARGET = `node${CLI_NODE_MAJOR}`;

const common: BuildOptions = {
  absWorkingDir: ROOT,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  legalComments: 'none',
  sourcemap: 'linked',
  // storage-common reads import.meta.url; a CommonJS bundle must provide it.
  define: { 'import.meta.url': '__bundleImportMetaUrl' },
  banner: { js: "const __bundleImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
};

// The function app loads in steps: index.js registers the functions (small, fast to compile); what they run
// (src/functions/bundle.ts, with the Azure SDKs: handler.js) are required on the first invocation; the telemetry SDK (telemetry.js)
// only when Application Insights is configured; a channel's SDK (slack-sdk.js, teams-sdk.js) on its first send.
const lazyBundles: Plugin = {
  name: 'lazy-bundles',
  setup(b) {
    b.onResolve({ filter: /^\.\/bundle$/ }, (args) =>
      args.importer.includes('/src/functions/') ? { path: './handler.js', external: true } : undefined,
    );
    b.onResolve({ filter: /\/telemetry\/setup$/ }, (args) =>
      args.importer.endsWith('/src/functions/bundle.ts') ? { path: './telemetry.js', external: true } : undefined,
    );
  },
};

// The channels' SDKs are loaded by their providers' sends only (a dynamic import), on the first send to
// such a channel: each is a bundle of its own, required by handler.js then, so that a deployment without
// that channel never compiles it. The start-up file reads the same providers for their settings and never
// sends: there each SDK is a stub.
const CHANNEL_SDKS: Record<string, string> = {
  '@slack/web-api': 'slack-sdk.js',
  '@microsoft/teams.api': 'teams-sdk.js',
};
const CHANNEL_SDK = /^(@slack\/web-api|@microsoft\/teams\.api)$/;
const channelSdks = (where: 'index' | 'handler'): Plugin => ({
  name: 'channel-sdks',
  setup(b) {
    b.onResolve({ filter: CHANNEL_SDK }, (args) =>
      args.kind === 'dynamic-import' ? { path: args.path, namespace: `sdk-${where}` } : undefined,
    );
    // A require of the SDK's bundle (a dynamic import of a CommonJS file would not see its named exports).
    b.onLoad({ filter: /.*/, namespace: 'sdk-handler' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(`./${CHANNEL_SDKS[args.path]!}`)});`,
      loader: 'js',
    }));
    b.onResolve({ filter: /^\.\/(slack|teams)-sdk\.js$/ }, (args) => ({ path: args.path, external: true }));
    b.onLoad({ filter: /.*/, namespace: 'sdk-index' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is loaded by handler.js only`)});`,
      loader: 'js',
    }));
  },
});

/**
 * Writes the bundles under `<out>/dist` (out: the repository by default). Tests build into folders of
 * their own, so that two test files running at once never delete each other's dist.
 */
export async function buildAll(out = ROOT): Promise<void> {
  const dist = join(out, 'dist');
  // Only what this build writes: a stale bundle must not reach the package, but the zip and the CLI
  // tarball that other scripts left in dist/ stay (CI runs package, then pack:cli, then lists both).
  for (const path of ['function', 'cli.js', 'cli.js.map']) rmSync(join(dist, path), { recursive: true, force: true });
  await Promise.all([
    build({
      ...common,
      entryPoints: ['src/index.ts'],
      outfile: join(dist, 'function/index.js'),
      target: APP_TARGET,
      minify: true,
      plugins: [lazyBundles, channelSdks('index')],
      // Provided by the Functions host at run time.
      external: ['@azure/functions-core'],
    }),
    build({
      ...common,
      entryPoints: ['src/functions/bundle.ts'],
      outfile: join(dist, 'function/handler.js'),
      target: APP_TARGET,
      minify: true,
      plugins: [lazyBundles, channelSdks('handler')],
      external: ['@azure/functions-core'],
    }),
    build({
      ...common,
      entryPoints: ['src/telemetry/setup.ts'],
      outfile: join(dist, 'function/telemetry.js'),
      target: APP_TARGET,
      minify: true,
      external: ['@azure/functions-core'],
    }),
    ...Object.entries(CHANNEL_SDKS).map(([sdk, file]) =>
      build({
        ...common,
        entryPoints: [sdk],
        outfile: join(dist, 'function', file),
        target: APP_TARGET,
        minify: true,
        external: ['@azure/functions-core'],
      }),
    ),
    build({
      ...common,
      entryPoints: ['src/cli/main.ts'],
      outfile: join(dist, 'cli.js'),
      target: CLI_TARGET,
      external: ['@azure/functions-core'],
    }),
  ]);
}

if (require.main === module) {
  const at = process.argv.indexOf('--out');
  buildAll(at > 0 ? resolve(process.argv[at + 1]!) : ROOT).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
