// `doctor` as an operator runs it after a deploy: the built CLI in a child process, against the worker (the
// same handler the Functions host runs), Azurite, the ARM stand-in (which refuses one cluster's reads with
// 403), the Slack and Teams webhook receivers, and a Storage queue stand-in over HTTPS that refuses every
// caller with 403 (the far side of the wire: what Storage answers a caller without a data role). And
// `run`'s probe: a queue that refuses means nothing is started.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { listenOnLoopback } from '../../dev/listen';
import { doctor } from '../../src/cli/doctor';
import { builtCli } from '../support/builtCli';
import { CLUSTER, harness, setUpStack, stack, tearDownStack, waitFor } from '../support/stack';
import { spawnWorker } from '../support/worker';

let CLI: string;
let refusingQueue: { url: string; requests: number; close(): Promise<void> };

before(async () => {
  CLI = await builtCli();
  const s = await setUpStack();
  let requests = 0;
  const server = createServer({ key: s.tls.key, cert: s.tls.cert }, (req, res) => {
    requests++;
    req.resume();
    req.on('end', () => {
      res.writeHead(403, { 'content-type': 'application/xml', 'x-ms-error-code': 'AuthorizationPermissionMismatch' });
      res.end(
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>This request is not authorized to perform this operation using this permission.</Message></Error>',
      );
    });
  });
  const listening = await listenOnLoopback(server);
  refusingQueue = {
    url: `https://127.0.0.1:${listening.port}/devstoreaccount1/commands`,
    get requests() {
      return requests;
    },
    close: listening.close,
  };
});
after(async () => {
  await refusingQueue?.close();
  await tearDownStack();
});

function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string; seconds: number }> {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env, AKS_NOTIFIER_NO_AZD_ENV: '1' } as NodeJS.ProcessEnv,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (status) => done({ status, stdout, stderr, seconds: (Date.now() - started) / 1000 }));
    child.stdin.end();
  });
}

let n = 0;
function cluster(script: Parameters<ReturnType<typeof stack>['arm']['addCluster']>[1] = {}) {
  const c = { ...CLUSTER, resourceName: `aks-doctor-${++n}` };
  stack().arm.addCluster(c, script);
  return `/subscriptions/${c.subscriptionId}/resourceGroups/${c.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${c.resourceName}`;
}

interface DoctorJson {
  ok: boolean;
  checks: { check: string; subject: string; ok: boolean | null; detail: string; fix?: string }[];
}

describe('doctor', () => {
  it('with the worker running and two targets: every check passes, each receiver gets one test message, a refused cluster is named with its role', async () => {
    const s = stack();
    const h = await harness();
    const readable = cluster();
    const refused = cluster({
      resultReadError: {
        status: 403,
        code: 'AuthorizationFailed',
        message: "The client 'app' does not have authorization to perform action 'commandResults/read'.",
      },
    });
    const w = spawnWorker(h.env);
    try {
      const env = {
        ...h.env,
        CLUSTER_IDS: JSON.stringify([readable]),
        IDENTITY_PRINCIPAL_ID: '99999999-8888-7777-6666-555555555555',
      };
      const ok = await cli(['doctor', '--notify', '-o', 'json'], env);
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
      const report = JSON.parse(ok.stdout) as DoctorJson;
      assert.equal(report.ok, true);
      const kinds = report.checks.map((c) => `${c.check} ${c.subject.split('/').pop()}`);
      for (const expected of [
        'function the function app',
        'target slack',
        'target teams',
        'notify slack',
        'notify teams',
      ])
        assert.ok(kinds.includes(expected), `${expected} in ${kinds.join(', ')}`);
      assert.ok(kinds.includes(`cluster ${readable.split('/').pop()}`), "the deployment's CLUSTER_IDS are checked");
      for (const kind of ['slack', 'teams'] as const) {
        const posts = s.receivers.for(kind, h.channel);
        assert.equal(posts.length, 1, `${kind}: one test message`);
        assert.match(JSON.stringify(posts[0]!.body), /Test notification/);
      }
      // No setting's value in what the operator sees.
      assert.doesNotMatch(ok.stdout, /127\.0\.0\.1:\d+\/(slack|teams)/);

      const bad = await cli(['doctor', '--cluster', refused], env);
      assert.equal(bad.status, 1, bad.stdout + bad.stderr);
      assert.match(bad.stdout, /FAIL cluster .*aks-doctor-\d+: the function's identity may not read command results/);
      assert.match(bad.stdout, /az role assignment create --assignee-object-id 99999999-8888-7777-6666-555555555555/);
      assert.match(bad.stdout, /--scope \/subscriptions\/.*\/managedClusters\/aks-doctor-\d+/);
      // Without --notify nothing more was posted.
      for (const kind of ['slack', 'teams'] as const) assert.equal(s.receivers.for(kind, h.channel).length, 1);
    } finally {
      await w.stop();
    }
  });

  it('a cluster is read at most once a minute, whoever asks', async () => {
    const h = await harness();
    const c = cluster();
    const w = spawnWorker(h.env);
    try {
      for (let i = 0; i < 3; i++) {
        const r = await cli(['doctor', '--cluster', c], h.env);
        assert.equal(r.status, 0, r.stdout + r.stderr);
      }
    } finally {
      await w.stop();
    }
    const path = c.toLowerCase();
    const reads = stack().arm.requests.filter(
      (r) => r.method === 'GET' && r.path.toLowerCase().startsWith(`${path}/commandresults/`),
    );
    assert.equal(reads.length, 1, 'three doctor runs, one read');
  });

  it('with nothing reading the queue: exit 1 within the bound, naming that nothing reads it', async () => {
    const h = await harness();
    const r = await cli(['doctor', '--wait-seconds', '3'], h.env);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /FAIL function the function app: nothing reads the queue q-[\w-]+: the doctor message is still there, unread/,
    );
    assert.ok(r.seconds < 60, `${r.seconds}s`);
  });

  it('the default bound, on a simulated clock: nothing reading the queue is named within 60 s', async () => {
    const h = await harness();
    const clock = { ms: Date.parse('2026-12-07T00:00:00Z') };
    const lines: string[] = [];
    const code = await doctor(
      { output: 'json' },
      { ...h.env, AKS_NOTIFIER_NO_AZD_ENV: '1' },
      { out: (l) => lines.push(l), err: (l) => lines.push(l) },
      { now: () => clock.ms, sleep: async (ms) => void (clock.ms += ms) },
    );
    const waited = (clock.ms - Date.parse('2026-12-07T00:00:00Z')) / 1000;
    assert.equal(code, 1);
    const fn = (JSON.parse(lines.join('\n')) as DoctorJson).checks.find((c) => c.check === 'function')!;
    assert.match(fn.detail, /nothing reads the queue/);
    assert.ok(waited >= 30 && waited < 60, `gave up after ${waited} s on the simulated clock`);
  });

  it('behind a backlog (more than a peek sees), the doctor message is said to wait behind it', async () => {
    const h = await harness();
    await Promise.all(Array.from({ length: 40 }, (_, i) => h.main.sendMessage(JSON.stringify({ backlog: i }))));
    const clock = { ms: 0 };
    const lines: string[] = [];
    const code = await doctor(
      { waitSeconds: 5 },
      { ...h.env, AKS_NOTIFIER_NO_AZD_ENV: '1' },
      { out: (l) => lines.push(l), err: (l) => lines.push(l) },
      { now: () => clock.ms, sleep: async (ms) => void (clock.ms += ms) },
    );
    assert.equal(code, 1);
    assert.match(
      lines.join('\n'),
      /FAIL function the function app: no answer in 5s, and 41 messages wait on q-[\w-]+: the doctor message is behind them/,
    );
  });

  it('a queue that refuses the caller: named with the role and the scope, and nothing else is tried', async () => {
    const h = await harness();
    const before = refusingQueue.requests;
    const r = await cli(['doctor', '--queue-url', refusingQueue.url], {
      ...h.env,
      AZURE_SUBSCRIPTION_ID: CLUSTER.subscriptionId,
      AZURE_RESOURCE_GROUP: 'rg-notifier',
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /FAIL queue commands: .*403 AuthorizationPermissionMismatch.*Storage Queue Data Message Sender/,
    );
    assert.match(
      r.stdout,
      /--scope "\/subscriptions\/11111111-2222-3333-4444-555555555555\/resourceGroups\/rg-notifier\/providers\/Microsoft\.Storage\/storageAccounts\/.*\/queueServices\/default\/queues\/commands"/,
    );
    assert.ok(refusingQueue.requests > before);
  });
});

describe('run: enqueue proven before a start', () => {
  it('a queue that refuses the caller: nothing is started, the role and scope are named', async () => {
    const h = await harness();
    const id = cluster();
    const posts = () => stack().arm.requests.filter((r) => r.method === 'POST' && r.path.startsWith(id)).length;
    const r = await cli(
      ['run', '--cluster', id, '--command', 'kubectl get nodes', '--queue-url', refusingQueue.url],
      h.env,
    );
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /nothing was started: .*Storage Queue Data Message Sender/);
    assert.equal(posts(), 0, 'no runCommand was sent');
    const fleet = await cli(
      ['run', '--cluster', id, '--cluster', cluster(), '--command', 'x', '--queue-url', refusingQueue.url],
      h.env,
    );
    assert.equal(fleet.status, 2, fleet.stdout + fleet.stderr);
    assert.match(
      fleet.stderr,
      /could not be declared on the queue: .*Storage Queue Data Message Sender.*nothing was started/,
    );
    assert.equal(posts(), 0);
  });

  it('the probe reaches the function, which drops it with a logged reason', async () => {
    const h = await harness();
    const id = cluster();
    const w = spawnWorker(h.env);
    try {
      const r = await cli(['run', '--cluster', id, '--command', 'x', '-o', 'json'], h.env);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      await waitFor(
        'the dropped probe',
        () => (w.lines.some((l) => /probe \w+: a producer checked/.test(l)) ? true : undefined),
        20_000,
      );
    } finally {
      await w.stop();
    }
  });
});
