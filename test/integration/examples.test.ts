// The CLI where pipelines run it: the examples parse as YAML, every `aks-command-notifier` command line in
// them parses with the CLI's own option parser, and they install the CLI from npm by the name the packed
// artefact has (the release workflow publishes that artefact), the artefact itself kept as a commented
// alternative; and the packed artefact, installed into an empty folder with no other packages, runs against
// the stand-ins.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { buildAll } from '../../scripts/build';
import { packCli } from '../../scripts/pack-cli';
import { cliWords, parseWithCli, shellCommands } from '../support/commandLines';
import { CLUSTER, commandId, harness, setUpStack, stack, tearDownStack } from '../support/stack';

const ROOT = resolve(__dirname, '../..');

/** Every string in a YAML document (scripts live in run:, script: and inlineScript:). */
function strings(node: unknown, out: string[] = []): string[] {
  if (typeof node === 'string') out.push(node);
  else if (Array.isArray(node)) node.forEach((n) => strings(n, out));
  else if (node && typeof node === 'object') Object.values(node).forEach((n) => strings(n, out));
  return out;
}

/** The words after `aks-command-notifier` of each command line in a script. */
function commandLines(script: string): string[][] {
  return shellCommands(script).flatMap((words) => {
    const cli = cliWords(words);
    return cli ? [cli] : [];
  });
}

describe('examples', () => {
  for (const file of ['github-actions.yml', 'azure-pipelines.yml']) {
    it(`${file}: valid YAML, command lines the CLI accepts, the published CLI installed`, async () => {
      const text = readFileSync(join(ROOT, 'examples', file), 'utf8');
      const doc = parse(text) as unknown;
      const scripts = strings(doc);
      const lines = scripts.flatMap(commandLines);
      assert.ok(lines.length >= 1, 'a run command line');
      for (const words of lines) {
        const opts = await parseWithCli(words);
        assert.equal(opts.subcommand, 'run');
        assert.ok(opts.cluster && typeof opts.command === 'string');
        assert.ok(Array.isArray(opts.target) && (opts.target as string[]).includes('ops'));
        assert.ok((opts.context as string[]).some((c) => c.startsWith('link=')));
      }
      installsTheCli(scripts, text);
    });
  }

  it('github-actions-fleet.yml: lists the clusters, then runs on all of them and waits (the step fails with a member)', async () => {
    const text = readFileSync(join(ROOT, 'examples', 'github-actions-fleet.yml'), 'utf8');
    const doc = parse(text) as unknown;
    const scripts = strings(doc);
    const runs = await Promise.all(scripts.flatMap(commandLines).map(parseWithCli));
    assert.equal(runs.length, 2);
    const [list, run] = runs as [Record<string, unknown>, Record<string, unknown>];
    assert.ok(list.dryRun && typeof list.graphQuery === 'string', 'a dry run first');
    assert.equal(run.graphQuery, list.graphQuery, 'the same clusters');
    assert.ok(run.yes && run.wait && !run.dryRun, 'runs without a terminal and waits for the group');
    assert.ok((run.target as string[]).includes('ops'));
    assert.ok((run.context as string[]).some((c) => c.startsWith('link=')));
    installsTheCli(scripts, text);
  });

  it('the CLI refuses an option it does not know', async () => {
    await assert.rejects(
      parseWithCli(['run', '--cluster', 'x', '--command', 'y', '--no-such-option']),
      /unknown option/,
    );
  });
});

/** The name scripts/pack-cli.ts gives the packed CLI, which `npm publish` publishes it under. */
const CLI_PACKAGE = 'aks-command-notifier-cli';

/** Installs the published CLI at a version the pipeline sets; the packed artefact stays, commented. */
function installsTheCli(scripts: string[], text: string): void {
  assert.ok(
    scripts.some((s) => new RegExp(`npm install --global "${CLI_PACKAGE}@\\$\\{NOTIFIER_VERSION:\\?`).test(s)),
    `installs ${CLI_PACKAGE}@<NOTIFIER_VERSION> from npm, and fails when the version is not set`,
  );
  assert.match(
    text,
    new RegExp(`^\\s*#.*npm install --global \\S*${CLI_PACKAGE}-\\*\\.tgz`, 'm'),
    'the packed artefact, commented, for those who cannot reach npm',
  );
}

describe('the packed CLI', () => {
  let build: string | undefined;
  let dir: string;
  before(async () => {
    await setUpStack();
    // Built and packed in a folder of this test's own, as npm run pack:cli does in the repository.
    build = mkdtempSync(join(tmpdir(), 'cli-build-'));
    await buildAll(build);
    const tgz = packCli(build);
    dir = mkdtempSync(join(tmpdir(), 'cli-install-'));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', tgz], { cwd: dir, stdio: 'pipe' });
  });
  after(async () => {
    for (const d of [dir, build]) if (d) rmSync(d, { recursive: true, force: true });
    await tearDownStack();
  });

  it('installs with no dependencies and runs where no repository is', async () => {
    const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, unknown>;
    };
    assert.deepEqual(
      Object.keys(lock.packages).sort(),
      ['', `node_modules/${CLI_PACKAGE}`],
      'nothing but itself, under the name the examples install',
    );
    const engines = (path: string) => (JSON.parse(readFileSync(path, 'utf8')) as { engines: unknown }).engines;
    assert.deepEqual(
      engines(join(dir, 'node_modules', CLI_PACKAGE, 'package.json')),
      engines(join(__dirname, '..', '..', 'package.json')),
      "the Node versions the packed CLI claims are the repository's",
    );
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, {
      result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'from the packed CLI' },
    });
    const clusterId = `/subscriptions/${CLUSTER.subscriptionId}/resourceGroups/${CLUSTER.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${CLUSTER.resourceName}`;
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
      const child = spawn(
        join(dir, 'node_modules', '.bin', 'aks-command-notifier'),
        ['result', '--cluster', clusterId, '--command-id', id],
        { cwd: dir, env: { ...process.env, ...h.env } },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (status) => done({ status, stdout, stderr }));
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /with exitcode=0\nfrom the packed CLI/);
    // The installed command starts with `#!/usr/bin/env node`: the Node it finds is this pass's (test/run.ts
    // puts it first on PATH), so that the Node 22 pass runs the packed CLI on Node 22.
    assert.equal(execFileSync('node', ['--version'], { encoding: 'utf8' }).trim(), process.version);
    const help = execFileSync(join(dir, 'node_modules', '.bin', 'aks-command-notifier'), ['run', '--help'], {
      encoding: 'utf8',
    });
    assert.match(help, /--file <path>[\s\S]*--wait[\s\S]*--output <format>/);
  });

  it('installed globally into an empty --prefix, offline: --version and doctor --help, no repository near', () => {
    const prefix = mkdtempSync(join(tmpdir(), 'cli-prefix-'));
    try {
      const tgz = readdirSync(join(build!, 'dist')).find((f) => f.startsWith(`${CLI_PACKAGE}-`) && f.endsWith('.tgz'))!;
      execFileSync(
        'npm',
        ['install', '--global', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', join(build!, 'dist', tgz)],
        {
          cwd: prefix,
          stdio: 'pipe',
        },
      );
      const bin = join(prefix, 'bin', 'aks-command-notifier');
      const run = (args: string[]) =>
        execFileSync(bin, args, {
          cwd: prefix,
          encoding: 'utf8',
          env: { ...process.env, AKS_NOTIFIER_NO_AZD_ENV: '1' },
        });
      const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
        version: string;
      };
      assert.equal(run(['--version']).trim(), version);
      assert.match(
        run(['doctor', '--help']),
        /--notify[\s\S]*--target <name>[\s\S]*--cluster <resourceId>[\s\S]*-o, --output <format>/,
      );
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  });
});
