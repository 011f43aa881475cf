// The test runner: makes the stand-ins' TLS certificate before any test process starts (Node reads
// NODE_EXTRA_CA_CERTS only at start-up), then runs node's test runner over unit, docs, infra and integration
// tests once on each runtime: Node 22 (the runtime Azure uses, pinned in the lockfile through the npm
// package `node`, which npm scripts find first on PATH) and the machine's own Node, when it differs.
// TEST_RUNTIMES=current runs only the first (a quicker loop while developing). The scale and fault suites
// (test/scale, test/faults: worker processes measuring rates, killed and restarted) run on the first
// runtime only, started first so that they overlap the rest.
//
// Where a test goes: the unit test of src/<path>/<module>.ts is test/unit/<path>/<module>.test.ts, and it
// tests that module (a test that exercises several goes to the one whose behaviour it asserts; helpers go to
// test/support). Suites that prove a behaviour across modules, against the stand-ins, are in
// test/integration and test/faults, named for that behaviour. The runner refuses to start while a file under
// test/unit names no module of src/.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createDevTls } from '../dev/tls';

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

// A file whose tests are done but whose process cannot exit (a failed set-up that left a stand-in or a
// child running) would hang the run. Node's --test-force-exit is not the answer: with files run in
// parallel it drops a file's last results and still exits 0 (nodejs/node#64833, seen here: 19 tests
// missing from a green run). So the suite runs in a process group of its own under a time limit, and
// the whole group is killed when it passes: red, and no orphan left holding CI's output open.
const SUITE_LIMIT_SECONDS = Number(process.env.TEST_SUITE_LIMIT_SECONDS ?? 1500);

function runSuite(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<number | string> {
  return new Promise((done) => {
    const child = spawn(command, args, { ...options, stdio: 'inherit', detached: true });
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // the group is gone already
      }
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`\nthe suite did not end within ${SUITE_LIMIT_SECONDS} s: killing it and every process it started`);
      killGroup('SIGKILL');
    }, SUITE_LIMIT_SECONDS * 1000);
    const stop = (signal: NodeJS.Signals) => {
      killGroup(signal);
      process.exit(1);
    };
    process.once('SIGINT', stop).once('SIGTERM', stop);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      process.off('SIGINT', stop).off('SIGTERM', stop);
      // Whatever a test file left behind goes with the suite.
      killGroup('SIGKILL');
      done(timedOut ? `timed out after ${SUITE_LIMIT_SECONDS} s` : code === 0 ? 0 : `exit ${code ?? signal}`);
    });
  });
}

/** Files under test/unit that are not `<module>.test.ts` for a src/<module>.ts at the same path. */
function strayUnitFiles(root: string): string[] {
  const unit = join(root, 'test', 'unit');
  return readdirSync(unit, { recursive: true, encoding: 'utf8' })
    .filter((f) => statSync(join(unit, f)).isFile())
    .filter((f) => !f.endsWith('.test.ts') || !existsSync(join(root, 'src', f.replace(/\.test\.ts$/, '.ts'))))
    .sort();
}

async function main(): Promise<number> {
  const root = resolve(__dirname, '..');
  const stray = strayUnitFiles(root);
  if (stray.length > 0) {
    console.error(
      `test/unit mirrors src/: the unit test of src/<path>/<module>.ts is test/unit/<path>/<module>.test.ts.\n` +
        `No module of src/ has the name of:\n${stray.map((f) => `  ${join('test', 'unit', f)}\n`).join('')}` +
        `Move each test to the file of the module whose behaviour it asserts, a helper to test/support/.`,
    );
    return 1;
  }
  // A certificate of this run's own: a second run started meanwhile (another terminal) must not replace the
  // one this run's processes trust.
  const tlsDir = join(root, '.tmp', `test-tls-${process.pid}`);
  const tls = await createDevTls(tlsDir);
  process.on('exit', () => rmSync(tlsDir, { recursive: true, force: true }));
  const only = process.argv.slice(2);
  const files =
    only.length > 0
      ? only
      : ['unit', 'docs', 'infra', 'integration'].flatMap((d) =>
          readdirSync(join(root, 'test', d), { recursive: true, encoding: 'utf8' })
            .filter((f) => f.endsWith('.test.ts'))
            .sort()
            .map((f) => join('test', d, f)),
        );
  // Scale suites measure rates against the stand-ins, and fault suites kill worker processes and wait out
  // their leases: what they prove is the app's, not the runtime's, so they run on the first (Node 22, the
  // runtime Azure runs) only.
  const firstOnly =
    only.length > 0
      ? []
      : ['scale', 'faults'].flatMap((d) =>
          readdirSync(join(root, 'test', d))
            .filter((f) => f.endsWith('.test.ts'))
            .sort()
            .map((f) => join('test', d, f)),
        );
  const summary: string[] = [];
  let failed = false;
  for (const [i, node] of runtimes().entries()) {
    console.log(`\n=== the suite on Node ${node.version} (${node.path}) ===\n`);
    const started = Date.now();
    // Two files at a time: the integration and fault tests mostly wait on sockets and timers. A test or
    // hook that hangs fails after 10 minutes.
    const flags = ['--test-concurrency=2', '--test-timeout=600000', '--test-reporter=spec'];
    const suite = i === 0 ? [...firstOnly, ...files] : files;
    const status = await runSuite(node.path, ['--expose-gc', '--import', 'tsx', '--test', ...flags, ...suite], {
      cwd: root,
      env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.certPath, AKS_NOTIFIER_TEST_TLS_DIR: tlsDir },
    });
    const ok = status === 0;
    failed ||= !ok;
    summary.push(
      `Node ${node.version}: ${ok ? 'passed' : `FAILED (${status})`} in ${Math.round((Date.now() - started) / 1000)} s`,
    );
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
