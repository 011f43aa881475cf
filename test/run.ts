// The test runner: makes the stand-ins' TLS certificate before any test process starts (Node reads
// NODE_EXTRA_CA_CERTS only at start-up), then runs node's test runner over unit, infra, integration and
// fault tests — once on each runtime: Node 22 (the runtime Azure uses, pinned in the lockfile through
// the npm package `node`, which npm scripts find first on PATH) and the machine's own Node, when it differs.
// TEST_RUNTIMES=current runs only the first (a quicker loop while developing).
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createDevTls } from '../src/dev/tls';

function runtimes(): { path: string; version: string }[] {
  const candidates = [process.execPath, process.env.npm_node_execpath].filter((p): p is string => !!p);
  const seen = new Map<string, string>();
  for (const path of candidates) {
    const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
    if (![...seen.values()].includes(version)) seen.set(path, version);
  }
  const all = [...seen].map(([path, version]) => ({ path, version }));
  return process.env.TEST_RUNTIMES === 'current' ? all.slice(0, 1) : all;
}

async function main(): Promise<number> {
  const root = resolve(__dirname, '..');
  const tlsDir = join(root, '.tmp', 'test-tls');
  const tls = await createDevTls(tlsDir);
  const only = process.argv.slice(2);
  const files =
    only.length > 0
      ? only
      : ['unit', 'infra', 'integration', 'faults'].flatMap((d) =>
          readdirSync(join(root, 'test', d))
            .filter((f) => f.endsWith('.test.ts'))
            .sort()
            .map((f) => join('test', d, f)),
        );
  const summary: string[] = [];
  let failed = false;
  for (const node of runtimes()) {
    console.log(`\n=== the suite on Node ${node.version} (${node.path}) ===\n`);
    const started = Date.now();
    // Two files at a time: the integration and fault tests mostly wait on sockets and timers. A test or
    // hook that hangs fails after 10 minutes, and a file whose tests are done exits even when a failed
    // set-up left a stand-in or a child process running: a broken test must end red, never hang CI.
    const flags = ['--test-concurrency=2', '--test-timeout=600000', '--test-force-exit', '--test-reporter=spec'];
    const result = spawnSync(node.path, ['--expose-gc', '--import', 'tsx', '--test', ...flags, ...files], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.certPath, AKS_NOTIFIER_TEST_TLS_DIR: tlsDir },
    });
    const ok = result.status === 0;
    failed ||= !ok;
    summary.push(`Node ${node.version}: ${ok ? 'passed' : `FAILED (exit ${result.status ?? result.signal})`} in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  console.log(`\n${summary.join('\n')}`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
