// The test runner: makes the stand-ins' TLS certificate before any test process starts (Node reads
// NODE_EXTRA_CA_CERTS only at start-up), then runs node's test runner over every suite on the app's runtime,
// Node 24 (the npm package `node` pinned in the lockfile, the major infra deploys), and at the same time
// runs the suites that drive the CLI as a caller would (CLI_SUITES) again on Node 22 (the lockfile's
// `node22`, an alias of the npm package `node`): the CLI runs on a caller's Node, `engines` says >= 22,
// and nothing else ever runs on a caller's Node. Both runtimes come from the lockfile, none from the
// machine. TEST_RUNTIMES=current leaves the Node 22 pass out (a quicker loop while developing).
//
// Why the passes are shaped so: most integration and fault files wait on sockets, timers and queue
// visibility, not on a core (872 s of wall for 346 s of CPU, each file alone), so all the passes run at
// once, and files several at a time (see main). Only the integration pass prints as it goes; the others
// print when they end, so that no two passes' lines interleave.
//
// Where a test goes: the unit test of src/<path>/<module>.ts is test/unit/<path>/<module>.test.ts, and it
// tests that module (a test that exercises several goes to the one whose behaviour it asserts; helpers go to
// test/support). Suites that prove a behaviour across modules, against the stand-ins, are in
// test/integration and test/faults, named for that behaviour. The runner refuses to start while a file under
// test/unit names no module of src/.
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { delimiter, dirname, join, relative, resolve, sep } from 'node:path';
import { createDevTls } from '../dev/tls';
import { buildAll, CLI_NODE_MAJOR } from '../scripts/build';

/** The suites that run the CLI as a caller would: run, fleet, enqueue and result, status, the packed CLI. */
const CLI_SUITES = [
  'test/integration/run.test.ts',
  'test/integration/fleet.test.ts',
  'test/integration/status.test.ts',
  'test/integration/examples.test.ts',
];

/** A Node from the lockfile: the npm package `node` (or an alias of it) ships the binary as bin/node. */
function pinnedNode(pkg: 'node' | 'node22'): { path: string; version: string } {
  const path = join(dirname(require.resolve(`${pkg}/package.json`)), 'bin', 'node');
  return { path, version: execFileSync(path, ['--version'], { encoding: 'utf8' }).trim() };
}

// A file whose tests are done but whose process cannot exit (a failed set-up that left a stand-in or a
// child running) would hang the run. Node's --test-force-exit is not the answer: with files run in
// parallel it drops a file's last results and still exits 0 (nodejs/node#64833, seen here: 19 tests
// missing from a green run). So the suite runs in a process group of its own under a time limit, and
// the whole group is killed when it passes: red, and no orphan left holding CI's output open.
const SUITE_LIMIT_SECONDS = Number(process.env.TEST_SUITE_LIMIT_SECONDS ?? 1500);

/** The process groups of the passes still running: an interrupted run takes every one of them down. */
const groups = new Set<number>();
const killGroup = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
};
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    for (const pid of groups) killGroup(pid, signal);
    process.exit(1);
  });

function runSuite(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; output?: string },
): Promise<number | string> {
  return new Promise((done) => {
    const out = options.output ? createWriteStream(options.output) : undefined;
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: out ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      detached: true,
    });
    const pid = child.pid!;
    groups.add(pid);
    if (out) for (const stream of [child.stdout!, child.stderr!]) stream.pipe(out, { end: false });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`\nthe suite did not end within ${SUITE_LIMIT_SECONDS} s: killing it and every process it started`);
      killGroup(pid, 'SIGKILL');
    }, SUITE_LIMIT_SECONDS * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      groups.delete(pid);
      // Whatever a test file left behind goes with the suite.
      killGroup(pid, 'SIGKILL');
      const status = timedOut ? `timed out after ${SUITE_LIMIT_SECONDS} s` : code === 0 ? 0 : `exit ${code ?? signal}`;
      if (!out) return done(status);
      // The captured lines: all of them once the pipes close, and no wait on a process that escaped the group.
      let ended = false;
      const end = () => void (ended || ((ended = true), out.end(() => done(status))));
      const late = setTimeout(end, 5000);
      child.once('close', () => (clearTimeout(late), end()));
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
  const suites = (...dirs: string[]) =>
    dirs.flatMap((d) =>
      readdirSync(join(root, 'test', d), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.test.ts'))
        .sort()
        .map((f) => join('test', d, f)),
    );
  const app = pinnedNode('node');
  type Pass = { node: typeof app; what: string; files: string[]; flags: string[]; output?: string };
  const passes: Pass[] = [];
  // Each file in a process of its own, several at once: the fault and scale runs (worker processes,
  // kills, leases waited out; the longest files) two at a time, beside the integration and infra files
  // four at a time. More fault and scale runs at once, each starting its workers, starved one another
  // of the 2 cores (clean-clone runs: with six, a worker took over 20 s to post; with three, a test's own
  // read of the ledger timed out). The unit and docs files share one process: they start no server and no
  // child, and a process each cost more than their tests.
  const concurrency = `--test-concurrency=${Number(process.env.TEST_CONCURRENCY ?? 4)}`;
  if (only.length > 0) passes.push({ node: app, what: 'the files named', files: only, flags: [concurrency] });
  else
    passes.push(
      {
        node: app,
        what: 'the integration and infra suites',
        files: suites('integration', 'infra'),
        flags: [concurrency],
      },
      {
        node: app,
        what: 'the fault and scale runs',
        files: suites('faults', 'scale'),
        flags: ['--test-concurrency=2'],
        output: join(tlsDir, 'fault-pass.log'),
      },
      {
        node: app,
        what: 'the unit and docs suites, in one process',
        files: suites('unit', 'docs'),
        flags: ['--test-isolation=none'],
        output: join(tlsDir, 'unit-pass.log'),
      },
    );
  const missing = CLI_SUITES.filter((f) => !existsSync(join(root, f)));
  if (missing.length > 0) {
    console.error(`test/run.ts names CLI suites that do not exist: ${missing.join(', ')}`);
    return 1;
  }
  const asNamed = (f: string) => relative(root, resolve(root, f)).split(sep).join('/');
  const cliFiles = passes.flatMap((p) => p.files).filter((f) => CLI_SUITES.includes(asNamed(f)));
  // The CLI's suites run on the oldest Node `engines` allows: the alias must pin that major.
  const oldest = pinnedNode('node22');
  if (Number(/^v(\d+)/.exec(oldest.version)![1]) !== CLI_NODE_MAJOR) {
    console.error(`node22 in the lockfile is ${oldest.version}, but engines says >=${CLI_NODE_MAJOR}: pin that major`);
    return 1;
  }
  if (process.env.TEST_RUNTIMES !== 'current' && cliFiles.length > 0)
    passes.push({
      node: oldest,
      what: `the CLI's suites (${cliFiles.length} files)`,
      files: cliFiles,
      flags: ['--test-concurrency=1'],
      output: join(tlsDir, 'cli-pass.log'),
    });
  // The CLI as callers run it (test/support/builtCli.ts): one build for every file of every pass.
  const buildDir = join(tlsDir, 'build');
  await buildAll(buildDir);
  const results = await Promise.all(
    passes.map(async ({ node, what, files, flags, output }) => {
      console.log(`=== ${what} on Node ${node.version} (${node.path})${output ? ', printed when it ends' : ''} ===`);
      const started = Date.now();
      // A test or hook that hangs fails after 10 minutes.
      const args = ['--expose-gc', '--import', 'tsx', '--test', ...flags, '--test-timeout=600000'];
      const status = await runSuite(node.path, [...args, '--test-reporter=spec', ...files], {
        cwd: root,
        env: {
          ...process.env,
          // A child that finds `node` on PATH (an installed CLI's `#!/usr/bin/env node`) gets this pass's.
          PATH: `${dirname(node.path)}${delimiter}${process.env.PATH ?? ''}`,
          NODE_EXTRA_CA_CERTS: tls.certPath,
          AKS_NOTIFIER_TEST_TLS_DIR: tlsDir,
          AKS_NOTIFIER_TEST_BUILD_DIR: buildDir,
        },
        ...(output ? { output } : {}),
      });
      return { node, what, output, status, seconds: Math.round((Date.now() - started) / 1000) };
    }),
  );
  for (const r of results.filter((r) => r.output)) {
    console.log(`\n=== ${r.what} on Node ${r.node.version} ===\n`);
    process.stdout.write(readFileSync(r.output!, 'utf8'));
  }
  console.log('');
  for (const r of results)
    console.log(
      `Node ${r.node.version}, ${r.what}: ${r.status === 0 ? 'passed' : `FAILED (${r.status})`} in ${r.seconds} s`,
    );
  return results.every((r) => r.status === 0) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
