// `run`, `result` and `enqueue --from-az-output` as a pipeline runs them: the built CLI in a child process with the caller's
// credential (the managed identity stand-in, whose tokens carry a upn), against the ARM stand-in
// (GET managedCluster, POST runCommand, GET commandResults) and Azurite.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unzipSync } from 'fflate';
import { createDefaultHttpClient, RestError, type HttpClient } from '@azure/core-rest-pipeline';
import { ManagedIdentityCredential } from '@azure/identity';
import { AKS_SERVER_APP_ID, createRunCommandClient } from '../../src/arm/runCommand';
import { MAX_CONTEXT_ZIP_BYTES } from '../../src/cli/attachPlan';
import { builtCli } from '../support/builtCli';
import { CLUSTER, commandId, harness, setUpStack, stack, tearDownStack, type Harness } from '../support/stack';
import { version } from '../../package.json';

// The CLI as callers run it (the bundle the packed CLI ships), on this pass's Node: test/run.ts runs this
// file on Node 24 and again on Node 22, the oldest `engines` allows.
let CLI: string;
let work: string;

before(async () => {
  CLI = await builtCli();
  await setUpStack();
  stack().identity.claims.upn = 'alice@contoso.com';
  work = mkdtempSync(join(tmpdir(), 'run-'));
});
after(async () => {
  if (work) rmSync(work, { recursive: true, force: true });
  await tearDownStack();
});

function cli(
  args: string[],
  env: Record<string, string | undefined>,
  options: { cwd?: string; stdin?: string } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? work,
      env: { ...process.env, ...env } as NodeJS.ProcessEnv,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (status) => done({ status, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

let n = 0;
/** A cluster of its own, registered with the ARM stand-in. */
function cluster(script: Parameters<ReturnType<typeof stack>['arm']['addCluster']>[1] = {}) {
  const c = { ...CLUSTER, resourceName: `aks-run-${++n}` };
  stack().arm.addCluster(c, script);
  return {
    ref: c,
    id: `/subscriptions/${c.subscriptionId}/resourceGroups/${c.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${c.resourceName}`,
  };
}

/** The tracking messages on the queue (the probes `run` sends before a start, which the function drops, left out). */
async function queued(h: Harness): Promise<Record<string, unknown>[]> {
  return (await h.main.peekMessages({ numberOfMessages: 32 })).peekedMessageItems
    .map((m) => JSON.parse(m.messageText) as Record<string, unknown>)
    .filter((m) => m.probe === undefined);
}

describe('run', () => {
  it('starts the command as the caller, attaches files, and enqueues the tracking message with who ran it', async () => {
    const h = await harness();
    const c = cluster();
    const dir = join(work, 'files1');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'deployment.yaml'), 'kind: Deployment\n');
    writeFileSync(join(dir, 'values.bin'), Buffer.from([0, 1, 2, 255]));
    const r = await cli(
      [
        'run',
        '--cluster',
        c.id,
        '--command',
        'kubectl apply -f deployment.yaml',
        '--file',
        'files1/deployment.yaml',
        '--file',
        join(dir, 'values.bin'),
        '--target',
        'slack',
        '--context',
        'pipeline=release-42',
        '--output',
        'json',
      ],
      h.env,
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { commandId: string; clusterResourceId: string; enqueued: boolean };
    assert.deepEqual([out.clusterResourceId, out.enqueued], [c.id, true]);
    const body = stack().arm.started.get(out.commandId)!;
    assert.equal(body.command, 'kubectl apply -f deployment.yaml');
    assert.equal(body.clusterToken, undefined, 'no cluster token for a cluster without AKS-managed Entra ID');
    assert.equal(
      stack().identity.tokens.get(body.token!)!.resource.replace(/\/$/, ''),
      stack().arm.endpoint,
      'the token is for ARM',
    );
    const files = unzipSync(Buffer.from(body.context!, 'base64'));
    assert.deepEqual(Object.keys(files).sort(), ['deployment.yaml', 'values.bin'], 'flattened to their base names');
    assert.equal(Buffer.from(files['deployment.yaml']!).toString(), 'kind: Deployment\n');
    assert.deepEqual([...files['values.bin']!], [0, 1, 2, 255]);
    const [message] = await queued(h);
    assert.deepEqual(message, {
      clusterResourceId: c.id,
      commandId: out.commandId,
      command: 'kubectl apply -f deployment.yaml',
      targets: ['slack'],
      context: { pipeline: 'release-42', requestedBy: 'alice@contoso.com' },
    });
  });

  it('attaches the current folder with relative paths for "--file ."', async () => {
    const h = await harness();
    const c = cluster();
    const dir = join(work, 'tree');
    mkdirSync(join(dir, 'charts', 'web'), { recursive: true });
    writeFileSync(join(dir, 'a.yaml'), 'a');
    writeFileSync(join(dir, 'charts', 'web', 'values.yaml'), 'v');
    const r = await cli(['run', '--cluster', c.id, '--command', 'ls -R', '--file', '.', '--output', 'json'], h.env, {
      cwd: dir,
    });
    assert.equal(r.status, 0, r.stderr);
    const { commandId: id } = JSON.parse(r.stdout) as { commandId: string };
    assert.deepEqual(Object.keys(unzipSync(Buffer.from(stack().arm.started.get(id)!.context!, 'base64'))).sort(), [
      'a.yaml',
      'charts/web/values.yaml',
    ]);
  });

  it('gets a cluster token for the AKS server application only for an AKS-managed Entra ID cluster', async () => {
    const h = await harness();
    const c = cluster({ entraManaged: true });
    const r = await cli(['run', '--cluster', c.id, '--command', 'kubectl get nodes', '--output', 'json'], h.env);
    assert.equal(r.status, 0, r.stderr);
    const body = stack().arm.started.get((JSON.parse(r.stdout) as { commandId: string }).commandId)!;
    assert.ok(body.clusterToken);
    assert.equal(
      stack().identity.tokens.get(body.clusterToken)!.resource.replace(/\/$/, ''),
      AKS_SERVER_APP_ID,
      `minted for ${AKS_SERVER_APP_ID}/.default`,
    );
  });

  for (const [name, result, code] of [
    ['exit code 0', { provisioningState: 'Succeeded', exitCode: 0, logs: 'ok\u001b[31m red\u001b[0m\n' }, 0],
    ['exit code 3', { provisioningState: 'Succeeded', exitCode: 3, logs: 'three\n' }, 3],
    ['exit code 300, capped', { provisioningState: 'Succeeded', exitCode: 300 }, 255],
    ['Failed', { provisioningState: 'Failed', reason: 'ImagePullBackoff' }, 1],
  ] as const) {
    it(`--wait follows the command and exits with its code: ${name}`, async () => {
      const h = await harness({ POLL_INITIAL_DELAY_SECONDS: '1', POLL_MAX_DELAY_SECONDS: '1' });
      const c = cluster({ script: () => ({ runSeconds: 2, result }) });
      const r = await cli(['run', '--cluster', c.id, '--command', 'do it', '--wait'], h.env);
      assert.equal(r.status, code, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /^command id: [0-9a-f]+, cluster: /);
      if (result.provisioningState === 'Succeeded')
        assert.match(r.stdout, new RegExp(`with exitcode=${result.exitCode}`));
      else assert.match(r.stdout, /command failed with reason: ImagePullBackoff/);
      if (name === 'exit code 0') assert.match(r.stdout, /ok red/, 'escape sequences stripped');
      assert.match(r.stderr, /Running after \d+s; next look in 1s/);
      assert.equal((await queued(h)).length, 1, 'and the notifier tracks it too');
    });
  }

  it('--wait gives up at POLL_TIMEOUT_MINUTES with 124, and --raw keeps escape sequences', async () => {
    const h = await harness({
      POLL_INITIAL_DELAY_SECONDS: '1',
      POLL_MAX_DELAY_SECONDS: '1',
      POLL_TIMEOUT_MINUTES: '0.05',
    });
    const c = cluster({ script: () => ({}) });
    const r = await cli(['run', '--cluster', c.id, '--command', 'sleep infinity', '--wait'], h.env);
    assert.equal(r.status, 124, r.stderr);
    assert.match(
      r.stdout,
      /gave up waiting after \ds: it was still Running\. Follow it with: aks-command-notifier result --cluster/,
    );
    const raw = cluster({
      script: () => ({ runSeconds: 1, result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'a\u001b[31mb' } }),
    });
    const r2 = await cli(['run', '--cluster', raw.id, '--command', 'x', '--wait', '--raw'], {
      ...h.env,
      POLL_TIMEOUT_MINUTES: '1',
    });
    assert.ok(r2.stdout.includes('a\u001b[31mb'), JSON.stringify(r2.stdout));
  });

  for (const [name, script, pattern] of [
    [
      '403 on runcommand/action',
      {
        runCommandError: {
          status: 403,
          code: 'AuthorizationFailed',
          message: 'does not have authorization to perform action runcommand/action',
        },
      },
      /not allowed to run commands on .*Microsoft\.ContainerService\/managedClusters\/runcommand\/action: built-in roles that have it are Azure Kubernetes Service Cluster Admin Role, Azure Kubernetes Service Contributor Role and Contributor/,
    ],
    [
      '409 (stopped)',
      { runCommandError: { status: 409, code: 'OperationNotAllowed', message: 'cluster is in stopped state' } },
      /did not accept the command \(ARM answered 409 OperationNotAllowed: cluster is in stopped state\): it may be stopped/,
    ],
  ] as const) {
    it(`refuses clearly and enqueues nothing: ${name}`, async () => {
      const h = await harness();
      const c = cluster(script);
      const r = await cli(['run', '--cluster', c.id, '--command', 'kubectl get nodes'], h.env);
      assert.equal(r.status, 2, r.stdout);
      assert.match(r.stderr, pattern);
      assert.equal((await queued(h)).length, 0);
    });
  }

  it('refuses clearly and enqueues nothing: cluster not found, no credential, bad files', async () => {
    const h = await harness();
    const missing = `/subscriptions/${CLUSTER.subscriptionId}/resourceGroups/rg-x/providers/Microsoft.ContainerService/managedClusters/nope`;
    const r404 = await cli(['run', '--cluster', missing, '--command', 'x'], h.env);
    assert.equal(r404.status, 2);
    assert.match(r404.stderr, /cluster .*nope not found \(ARM answered 404 ResourceNotFound/);

    const c = cluster();
    const armBefore = stack().arm.requests.length;
    const noCredential = await cli(['run', '--cluster', c.id, '--command', 'x'], {
      ...h.env,
      IDENTITY_ENDPOINT: undefined,
      IDENTITY_HEADER: undefined,
      MSI_ENDPOINT: undefined,
      AZURE_CLIENT_ID: undefined,
      PATH: '/nonexistent',
    });
    assert.equal(noCredential.status, 2, noCredential.stderr);
    assert.match(
      noCredential.stderr,
      /no Azure credential is available\. Tried:[\s\S]*EnvironmentCredential[\s\S]*ManagedIdentityCredential[\s\S]*AzureCliCredential/,
    );

    const big = join(work, 'big.bin');
    writeFileSync(
      big,
      Buffer.from(Array.from({ length: MAX_CONTEXT_ZIP_BYTES + 1024 }, () => Math.floor(Math.random() * 256))),
    );
    for (const [files, pattern] of [
      [['missing.yaml'], /--file missing\.yaml: no such file/],
      [['files1'], /--file files1: not a file \(only "\." attaches a folder/],
      [['.', 'big.bin'], /cannot be combined/],
      [
        ['big.bin'],
        /zip to more than 2\.5 MiB \(from 2\.5 MiB\); at most 2\.5 MiB fits in a request .*biggest: big\.bin \(2\.5 MiB\)/,
      ],
    ] as const) {
      const r = await cli(['run', '--cluster', c.id, '--command', 'x', ...files.flatMap((f) => ['--file', f])], h.env);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, pattern);
    }
    const badContext = await cli(
      ['run', '--cluster', c.id, '--command', 'x', '--context', 'requestedBy=mallory'],
      h.env,
    );
    assert.match(badContext.stderr, /requestedBy is set from your login/);
    const badTarget = await cli(['run', '--cluster', c.id, '--command', 'x', '--target', 'nobody'], h.env);
    assert.match(badTarget.stderr, /unknown --target nobody; configured here: slack, teams/);
    assert.equal(
      stack().arm.requests.filter((q) => q.method === 'POST').length -
        stack()
          .arm.requests.slice(0, armBefore)
          .filter((q) => q.method === 'POST').length,
      0,
      'nothing was started',
    );
    assert.equal((await queued(h)).length, 0);
  });
});

describe('run --file: nothing from outside what was named', () => {
  // Names from the zip's own directory (an object of entries would lose "__proto__").
  const entriesOf = (stdout: string) => {
    const names: string[] = [];
    unzipSync(
      Buffer.from(stack().arm.started.get((JSON.parse(stdout) as { commandId: string }).commandId)!.context!, 'base64'),
      { filter: (f) => (names.push(f.name), false) },
    );
    return names.sort();
  };

  it('"--file ." attaches links inside the folder as files, leaves folder links out (no loop), and takes any file name, __proto__ included', async () => {
    const h = await harness();
    const c = cluster();
    const dir = join(work, 'links');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'a.yaml'), 'a');
    writeFileSync(join(dir, 'sub', 'b.yaml'), 'b');
    writeFileSync(join(dir, '__proto__'), 'p');
    writeFileSync(join(dir, 'constructor'), 'c');
    symlinkSync('a.yaml', join(dir, 'inner-link'));
    symlinkSync('sub', join(dir, 'dir-link'));
    symlinkSync('..', join(dir, 'sub', 'loop'));
    const r = await cli(['run', '--cluster', c.id, '--command', 'ls -R', '--file', '.', '--output', 'json'], h.env, {
      cwd: dir,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(entriesOf(r.stdout), ['__proto__', 'a.yaml', 'constructor', 'inner-link', 'sub/b.yaml']);
    assert.match(r.stderr, /left out dir-link: a link to a folder, not followed/);
    assert.match(r.stderr, /left out sub\/loop: a link to a folder, not followed/);
    for (const name of ['__proto__', 'constructor']) {
      const one = await cli(['run', '--cluster', c.id, '--command', 'cat', '--file', name, '--output', 'json'], h.env, {
        cwd: dir,
      });
      assert.equal(one.status, 0, one.stderr);
      assert.deepEqual(entriesOf(one.stdout), [name]);
    }
  });

  it('refuses, before reading or sending anything: a link out of the folder, a backslash name, a broken link, a FIFO, a tree over the raw bound', async () => {
    const h = await harness();
    const c = cluster();
    const tree = (name: string, make: (dir: string) => void) => {
      const dir = join(work, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'ok.yaml'), 'ok');
      make(dir);
      return dir;
    };
    const cases: [string, (dir: string) => void, RegExp][] = [
      [
        'out-proc',
        (d) => symlinkSync('/proc/self/environ', join(d, 'environ')),
        /--file \.: environ is a link to \/proc\/self\/environ, outside the folder: nothing outside it is attached/,
      ],
      [
        'out-parent',
        (d) => symlinkSync(join(work, 'big.bin'), join(d, 'neighbour')),
        /neighbour is a link to .*big\.bin, outside the folder/,
      ],
      [
        'backslash',
        (d) => writeFileSync(join(d, 'a\\..\\..\\evil.sh'), 'x'),
        /--file a\\\.\.\\\.\.\\evil\.sh: the name "a\\\\\.\.\\\\\.\.\\\\evil\.sh" holds a backslash, which unzip takes for a folder separator: rename it/,
      ],
      ['broken', (d) => symlinkSync('nowhere', join(d, 'dangling')), /dangling is a link to nothing/],
      ['fifo', (d) => execFileSync('mkfifo', [join(d, 'pipe')]), /pipe is not a file \(a FIFO, socket or device\)/],
      [
        'sparse',
        (d) => truncateSync((writeFileSync(join(d, 'huge.bin'), ''), join(d, 'huge.bin')), 1024 ** 3),
        /the attached files hold 1 GiB; at most 32 MiB may be attached, and at most 2\.5 MiB once zipped .*biggest: huge\.bin \(1 GiB\), ok\.yaml \(2 B\)/,
      ],
    ];
    const before = stack().arm.requests.filter((q) => q.method === 'POST').length;
    for (const [name, make, pattern] of cases) {
      const r = await cli(['run', '--cluster', c.id, '--command', 'x', '--file', '.'], h.env, {
        cwd: tree(name, make),
      });
      assert.equal(r.status, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, pattern, name);
    }
    const nested = tree('nested-big', (d) => {
      mkdirSync(join(d, 'node_modules', 'pkg'), { recursive: true });
      for (let i = 0; i < 3; i++)
        truncateSync(
          (writeFileSync(join(d, 'node_modules', 'pkg', `blob${i}`), ''), join(d, 'node_modules', 'pkg', `blob${i}`)),
          20 * 1024 ** 2,
        );
    });
    const r = await cli(['run', '--cluster', c.id, '--command', 'x', '--file', '.'], h.env, { cwd: nested });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /hold 60 MiB; .*by folder: node_modules\/ \(60 MiB\)/);
    assert.equal(stack().arm.requests.filter((q) => q.method === 'POST').length, before, 'nothing was started');
    assert.equal((await queued(h)).length, 0);
  });
});

describe("queue URLs: the caller's Storage token goes to Storage alone", () => {
  it('a queue URL on another host is refused before any token is asked for or any connection made', async () => {
    const h = await harness();
    const c = cluster();
    const storageTokens = () =>
      [...stack().identity.tokens.values()].filter((t) => /storage\.azure\.com/.test(t.resource)).length;
    const tokensBefore = storageTokens();
    const postsBefore = stack().arm.requests.filter((q) => q.method === 'POST').length;
    const publicCloud = { ARM_ENDPOINT: 'https://management.azure.com' };
    for (const [args, env, setting, pattern] of [
      // ARM is the loopback stand-in here: no cloud, so only loopback Storage.
      [
        ['run', '--cluster', c.id, '--command', 'x', '--queue-url', 'https://collector.example.com/q'],
        {},
        '--queue-url',
        /must be a loopback address: ARM_ENDPOINT names no cloud this app knows/,
      ],
      [
        [
          'enqueue',
          '--cluster',
          c.id,
          '--command-id',
          'abc',
          '--queue-url',
          'https://acct.queue.core.windows.net.example.com/q',
        ],
        publicCloud,
        '--queue-url',
        /must be https:\/\/<account>\.queue\.core\.windows\.net\/<queue> .*so it is sent nowhere else/,
      ],
      [
        ['enqueue', '--cluster', c.id, '--command-id', 'abc'],
        { ...publicCloud, COMMAND_QUEUE_URL: 'https://acct.blob.core.windows.net/q' },
        'COMMAND_QUEUE_URL',
        /must be https:\/\/<account>\.queue\.core\.windows\.net/,
      ],
    ] as const) {
      const r = await cli([...args], { ...h.env, ...env });
      assert.equal(r.status, 2, r.stderr);
      assert.ok(r.stderr.includes(`${setting}: must be`), r.stderr);
      assert.match(r.stderr, pattern);
    }
    assert.equal(storageTokens(), tokensBefore, 'no token for Storage was minted');
    assert.equal(stack().arm.requests.filter((q) => q.method === 'POST').length, postsBefore, 'nothing was started');
  });
});

describe('run: a start is never sent twice', () => {
  const postsTo = (name: string) =>
    stack().arm.requests.filter((q) => q.method === 'POST' && q.path.endsWith(`/${name}/runCommand`));
  const startedOn = (name: string) => postsTo(name).filter((q) => q.commandId).length;

  for (const [name, fault] of [
    ['a gateway 502 after ARM took the POST', { starts: true, status: 502, rawBody: '<html>Bad Gateway</html>' }],
    ['a reset after ARM took the POST', { starts: true, status: 0, reset: true }],
    ['an answer slower than ARM_TIMEOUT_SECONDS after ARM took the POST', { starts: true, status: 202, delayMs: 2500 }],
  ] as const) {
    it(`${name}: sent once, reported as unknown with its request id, exit 2, nothing enqueued`, async () => {
      const h = await harness({ ARM_TIMEOUT_SECONDS: '1' });
      const c = cluster({ startFaults: [{ ...fault }] });
      const r = await cli(['run', '--cluster', c.id, '--command', 'kubectl rollout restart deploy/web'], h.env);
      assert.equal(r.status, 2, `${r.stdout}\n${r.stderr}`);
      const posts = postsTo(c.ref.resourceName);
      assert.equal(posts.length, 1, 'the POST was not retried');
      assert.equal(startedOn(c.ref.resourceName), 1, 'the command did start');
      if (fault.status === 502)
        assert.match(
          r.stderr,
          /may have started on \S+: the runCommand request was answered 502, which a gateway may send after ARM took it\./,
        );
      assert.match(
        r.stderr,
        /the command may have started on .*It was not sent again \(a second request would start a second command\), and nothing was enqueued/s,
      );
      assert.ok(
        posts[0]!.clientRequestId && r.stderr.includes(`x-ms-client-request-id): ${posts[0]!.clientRequestId}`),
        r.stderr,
      );
      // ARM's logs name the CLI and its version, the one package.json holds.
      assert.ok(posts[0]!.userAgent?.startsWith(`aks-command-notifier/${version} `), posts[0]!.userAgent);
      assert.match(r.stderr, /Activity Log .*kubectl get pods -n aks-command/s);
      assert.equal((await queued(h)).length, 0);
    });
  }

  it('a 429 is a refusal: tried again after its Retry-After, and the command starts once', async () => {
    const h = await harness();
    const c = cluster({
      startFaults: [
        {
          starts: false,
          status: 429,
          headers: { 'retry-after': '1' },
          body: { error: { code: 'TooManyRequests', message: 'throttled' } },
        },
      ],
    });
    const r = await cli(['run', '--cluster', c.id, '--command', 'kubectl get nodes', '--output', 'json'], h.env);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual([postsTo(c.ref.resourceName).length, startedOn(c.ref.resourceName)], [2, 1]);
    assert.match(r.stderr, /ARM refused the start with 429 \(nothing was started\); trying again in 1s/);
    assert.equal((await queued(h)).length, 1);
    const refusedLong = cluster({
      startFaults: [
        {
          starts: false,
          status: 429,
          headers: { 'retry-after': '3600' },
          body: { error: { code: 'TooManyRequests', message: 'throttled' } },
        },
      ],
    });
    const r2 = await cli(['run', '--cluster', refusedLong.id, '--command', 'x'], h.env);
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /ARM answered 429 TooManyRequests: throttled; try again in 3600s \(nothing was started\)/);
    assert.equal(postsTo(refusedLong.ref.resourceName).length, 1, 'a Retry-After beyond the bound is not waited out');
    // A Retry-After too long to be a number (it parses to Infinity): not a reason to try again at once.
    const absurd = cluster({
      startFaults: [
        {
          starts: false,
          status: 429,
          headers: { 'retry-after': '9'.repeat(400) },
          body: { error: { code: 'TooManyRequests', message: 'throttled' } },
        },
      ],
    });
    const r3 = await cli(['run', '--cluster', absurd.id, '--command', 'x'], h.env);
    assert.equal(r3.status, 2);
    assert.match(r3.stderr, /throttled; try again later \(nothing was started\)/);
    assert.equal(postsTo(absurd.ref.resourceName).length, 1, 'an absurd Retry-After is not taken for none');
  });

  it('a connection that was never made is tried again; the command starts once', async () => {
    await harness();
    const c = cluster();
    // The far side of the wire: the first connection is refused, then ARM answers.
    const real = createDefaultHttpClient();
    let refused = 0;
    const httpClient: HttpClient = {
      sendRequest: (request) => {
        if (refused++ === 0)
          return Promise.reject(new RestError('connect ECONNREFUSED 127.0.0.1', { code: 'ECONNREFUSED', request }));
        return real.sendRequest(request);
      },
    };
    const naps: number[] = [];
    const client = createRunCommandClient({
      endpoint: stack().arm.endpoint,
      scope: `${stack().arm.endpoint}/.default`,
      apiVersion: '2024-09-01',
      credential: new ManagedIdentityCredential(),
      timeoutMs: 5000,
      httpClient,
      sleep: async (ms) => void naps.push(ms),
    });
    const started = await client.start(c.ref, { command: 'kubectl get nodes' });
    assert.equal(started.ok, true, JSON.stringify(started));
    assert.deepEqual(naps, [1000]);
    assert.equal(startedOn(c.ref.resourceName), 1);
  });
});

describe('result and enqueue --from-az-output', () => {
  it('result reads once and prints like run --wait; 75 while it runs', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 4, logs: 'four\n' } });
    const clusterId = `/subscriptions/${CLUSTER.subscriptionId}/resourceGroups/${CLUSTER.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${CLUSTER.resourceName}`;
    const r = await cli(['result', '--cluster', clusterId, '--command-id', id], h.env);
    assert.equal(r.status, 4, r.stderr);
    assert.match(r.stdout, /with exitcode=4\nfour/);
    const running = commandId();
    stack().arm.addCommand(CLUSTER, running, {});
    const r2 = await cli(['result', '--cluster', clusterId, '--command-id', running, '--output', 'json'], h.env);
    assert.equal(r2.status, 75);
    assert.deepEqual((JSON.parse(r2.stdout) as { result: unknown }).result, { outcome: 'running', state: 'Running' });
  });

  it('enqueue reads the command id from what az aks command invoke --no-wait printed', async () => {
    const h = await harness();
    const clusterId = `/subscriptions/${CLUSTER.subscriptionId}/resourceGroups/${CLUSTER.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${CLUSTER.resourceName}`;
    const printed =
      'command id: 0123456789abcdef0123456789abcdef, started at: 2026-11-28 10:00:00+00:00, status: Running\nUse "az aks command result -g rg -n aks -i 0123456789abcdef0123456789abcdef" to get the result.\n';
    const r = await cli(['enqueue', '--cluster', clusterId, '--from-az-output', '-'], h.env, { stdin: printed });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((await queued(h))[0]!.commandId, '0123456789abcdef0123456789abcdef');
    const failedToFetch = await cli(['enqueue', '--cluster', clusterId, '--from-az-output', '-'], h.env, {
      stdin: 'failed to fetch command result for command id: fedcba9876543210fedcba9876543210\n',
    });
    assert.equal(failedToFetch.status, 0, failedToFetch.stderr);
    assert.equal((await queued(h))[1]!.commandId, 'fedcba9876543210fedcba9876543210');
    const nothing = await cli(['enqueue', '--cluster', clusterId, '--from-az-output', '-'], h.env, {
      stdin: 'ERROR: something else\n',
    });
    assert.equal(nothing.status, 2);
    assert.match(nothing.stderr, /found no "command id: <id>"/);
  });
});
