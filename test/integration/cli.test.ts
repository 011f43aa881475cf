// The CLI's conventions, as a user meets them: the built CLI in a child process. Every usage error is one line
// and exit code 2; --version; -g/-n/--subscription start exactly what --cluster starts (the subscription from
// the flag, AZURE_SUBSCRIPTION_ID, or `az account show` — a stand-in `az` on PATH, the far side of the wire);
// -o json is nothing but JSON; a missing login reads the same in every command; and the deployment's outputs
// come from the azd environment of the project folder.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { builtCli } from '../support/builtCli';
import { CLUSTER, harness, setUpStack, stack, tearDownStack } from '../support/stack';

let CLI: string;
let work: string;

before(async () => {
  CLI = await builtCli();
  await setUpStack();
  work = mkdtempSync(join(tmpdir(), 'cli-'));
});
after(async () => {
  if (work) rmSync(work, { recursive: true, force: true });
  await tearDownStack();
});

function cli(
  args: string[],
  env: Record<string, string | undefined> = {},
  cwd = work,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      env: { ...process.env, AKS_NOTIFIER_NO_AZD_ENV: '1', ...env } as NodeJS.ProcessEnv,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (status) => done({ status, stdout, stderr }));
    child.stdin.end();
  });
}

const ID = `/subscriptions/${CLUSTER.subscriptionId}/resourceGroups/${CLUSTER.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${CLUSTER.resourceName}`;

describe('the CLI speaks az', () => {
  it('every usage error: exit 2, one line on stderr, no help', async () => {
    const cases = [
      ['run', '--output', 'yaml', '--cluster', ID, '--command', 'x'],
      ['run', '-o', 'yaml', '--cluster', ID, '--command', 'x'],
      ['run', '--cluster', ID, '--command', 'x', '--context', 'foo'],
      ['run', '--cluster', ID],
      ['run', '-g', 'rg', '--command', 'x'],
      ['run', '--cluster', ID, '-g', 'rg', '-n', 'aks', '--command', 'x'],
      ['run', '--cluster', 'not-an-id', '--command', 'x'],
      ['result', '--command-id', 'abc'],
      ['enqueue', '--cluster', ID],
      ['status', '--bogus'],
      ['status', '--hours', '0'],
      ['preview', '--outcome', 'nope'],
      ['preview', '--text', '-o', 'json'],
      ['doctor', '--wait-seconds', 'soon'],
      ['doctor', '--cluster', '/subscriptions/x'],
      ['redeliver', '--command-id', 'abc'],
      ['doctor', '--target', 'Bad_Name', '--queue-url', 'https://127.0.0.1:9/devstoreaccount1/q'],
      ['redeliver', '-g', 'rg', '-n', 'a', '-n', 'b', '--subscription', CLUSTER.subscriptionId, '--command-id', 'x'],
      ['nosuchcommand'],
      [],
    ];
    const results = await Promise.all(cases.map((args) => cli(args)));
    results.forEach((r, i) => {
      const what = `${cases[i]!.join(' ')}: ${r.stderr}`;
      assert.equal(r.status, 2, what);
      assert.equal(r.stderr.trim().split('\n').length, 1, what);
      assert.match(r.stderr, /^error: /, what);
      assert.doesNotMatch(r.stderr, /Usage:/, what);
      assert.equal(r.stdout, '', what);
    });
  });

  it('--version prints the version; --help is not an error', async () => {
    const { version } = JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8')) as {
      version: string;
    };
    const v = await cli(['--version']);
    assert.equal(v.status, 0);
    assert.equal(v.stdout.trim(), version);
    const help = await cli(['doctor', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--notify/);
  });

  it('run -g/-n/--subscription starts exactly what --cluster starts, the subscription from the flag, the environment or az', async () => {
    const s = stack();
    const h = await harness();
    const c = { ...CLUSTER, resourceName: 'aks-by-name' };
    s.arm.addCluster(c, {});
    const id = `/subscriptions/${c.subscriptionId}/resourceGroups/${c.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${c.resourceName}`;
    // A stand-in az: `az account show --query id -o tsv` answers the login's subscription.
    const bin = join(work, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, 'az'),
      `#!/bin/sh\n[ "$1 $2" = "account show" ] && echo ${c.subscriptionId} && exit 0\nexit 1\n`,
    );
    chmodSync(join(bin, 'az'), 0o755);
    const ways: [string, string[], Record<string, string>][] = [
      ['--cluster', ['--cluster', id], {}],
      ['--subscription', ['-g', c.resourceGroupName, '-n', c.resourceName, '--subscription', c.subscriptionId], {}],
      [
        'AZURE_SUBSCRIPTION_ID',
        ['--resource-group', c.resourceGroupName, '--name', c.resourceName],
        { AZURE_SUBSCRIPTION_ID: c.subscriptionId },
      ],
      ['az account show', ['-g', c.resourceGroupName, '-n', c.resourceName], { PATH: `${bin}:${process.env.PATH}` }],
    ];
    const started: string[] = [];
    for (const [way, args, env] of ways) {
      const r = await cli(['run', ...args, '--command', 'kubectl get nodes', '-o', 'json'], { ...h.env, ...env });
      assert.equal(r.status, 0, `${way}: ${r.stderr}`);
      const out = JSON.parse(r.stdout) as { clusterResourceId: string; commandId: string };
      started.push(out.clusterResourceId);
      const post = s.arm.requests.find((q) => q.method === 'POST' && q.commandId === out.commandId)!;
      assert.equal(post.path, `${id}/runCommand`, way);
    }
    assert.deepEqual(started, Array(4).fill(id));
    const tracked = (await h.main.peekMessages({ numberOfMessages: 32 })).peekedMessageItems
      .map((m) => JSON.parse(m.messageText) as { clusterResourceId?: string; probe?: string })
      .filter((m) => !m.probe);
    assert.deepEqual(
      tracked.map((m) => m.clusterResourceId),
      Array(4).fill(id),
    );
    const noSub = await cli(['run', '-g', 'rg', '-n', 'aks', '--command', 'x'], { ...h.env, PATH: '/nonexistent' });
    assert.equal(noSub.status, 2);
    assert.match(
      noSub.stderr,
      /no subscription: give --subscription, set AZURE_SUBSCRIPTION_ID, or log in with az login/,
    );
  });

  it('-o json: stdout is one JSON document and nothing else', async () => {
    const h = await harness();
    for (const args of [
      ['preview', '-o', 'json'],
      ['preview', '--outcome', 'failed', '--output', 'json'],
      ['status', '-o', 'json'],
      ['status', '--json'],
      ['redrive', '--dry-run', '-o', 'json'],
    ]) {
      const r = await cli(args, h.env);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.doesNotThrow(() => JSON.parse(r.stdout), `${args.join(' ')}: ${r.stdout.slice(0, 200)}`);
    }
    const preview = JSON.parse((await cli(['preview', '-o', 'json'])).stdout) as { target: string; payload: unknown }[];
    assert.ok(preview.length >= 2 && preview.every((p) => p.target && p.payload));
  });

  it('a missing login reads the same in every command', async () => {
    const none = {
      IDENTITY_ENDPOINT: undefined,
      IDENTITY_HEADER: undefined,
      MSI_ENDPOINT: undefined,
      AZURE_CLIENT_ID: undefined,
      PATH: '/nonexistent',
      AzureWebJobsStorage: undefined,
      AzureWebJobsStorage__queueServiceUri: 'https://127.0.0.1:9/devstoreaccount1',
      AzureWebJobsStorage__tableServiceUri: 'https://127.0.0.1:9/devstoreaccount1',
      AzureWebJobsStorage__blobServiceUri: 'https://127.0.0.1:9/devstoreaccount1',
    };
    const runs = await Promise.all([
      cli(['run', '--cluster', ID, '--command', 'x'], { ...stack().env(), ...none }),
      cli(
        ['enqueue', '--cluster', ID, '--command-id', 'abc', '--queue-url', 'https://127.0.0.1:9/devstoreaccount1/q'],
        none,
      ),
      cli(['status'], none),
    ]);
    for (const r of runs) {
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /^error: no Azure credential is available\. Tried:\n {2}EnvironmentCredential/);
      assert.ok(r.stderr.split('\n').length <= 12, r.stderr);
      assert.doesNotMatch(r.stderr, /at \w+ \(|CredentialUnavailableError:/);
    }
  });

  it('after azd up, in the project folder: the outputs come from the azd environment, the process environment first', async () => {
    const h = await harness();
    const project = join(work, 'project');
    mkdirSync(join(project, '.azure', 'dev'), { recursive: true });
    writeFileSync(join(project, 'azure.yaml'), 'name: x\n');
    writeFileSync(join(project, '.azure', 'config.json'), '{"version":1,"defaultEnvironment":"dev"}');
    // As azd writes it: KEY="value", quotes escaped.
    const connection = h.env.AzureWebJobsStorage!.replace(/"/g, '\\"');
    writeFileSync(
      join(project, '.azure', 'dev', '.env'),
      `AZURE_ENV_NAME="dev"\nAzureWebJobsStorage="${connection}"\nCOMMAND_QUEUE_NAME="${h.queueName}"\n`,
    );
    const sub = join(project, 'sub');
    mkdirSync(sub);
    const env = {
      ...h.env,
      AzureWebJobsStorage: undefined,
      COMMAND_QUEUE_NAME: undefined,
      AKS_NOTIFIER_NO_AZD_ENV: '',
    };
    const r = await cli(['enqueue', '--cluster', ID, '--command-id', 'from-azd-env', '-o', 'json'], env, sub);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { commandId: 'from-azd-env', queue: h.queueName, enqueued: true });
    const other = await cli(
      ['enqueue', '--cluster', ID, '--command-id', 'x', '-o', 'json'],
      {
        ...env,
        COMMAND_QUEUE_NAME: `${h.queueName}-env`,
      },
      sub,
    );
    assert.equal((JSON.parse(other.stdout) as { queue: string }).queue, `${h.queueName}-env`, 'the environment wins');
  });
});
