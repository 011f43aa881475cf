// The worker CLI in its own process: host semantics, poison handling, clean shutdown, log hygiene.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { QueueHostEmulator } from '../../src/host/queueHostEmulator';
import { readQueueHostSettings } from '../../src/hostSettings';
import { after, before, describe, it } from 'node:test';
import { CLUSTER, CLUSTER_ID, commandId, harness, setUpStack, stack, tearDownStack, waitFor } from '../support/stack';
import { spawnWorker } from '../support/worker';

before(setUpStack);
after(tearDownStack);

describe('worker', () => {
  it('poisons a malformed message at once and keeps serving the next ones', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, {
      steps: [{ status: 202 }],
      result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'ok' },
    });
    await h.main.sendMessage('{"clusterResourceId": 42}');
    await h.main.sendMessage(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id }));
    const w = spawnWorker(h.env);
    try {
      await waitFor('the notification', () => stack().receivers.for('slack', h.channel).length === 1 || undefined);
      await waitFor(
        'the teams notification',
        () => stack().receivers.for('teams', h.channel).length === 1 || undefined,
      );
      const poisoned = (await h.poison.peekMessages({ numberOfMessages: 10 })).peekedMessageItems;
      assert.equal(poisoned.length, 1);
      assert.match(JSON.parse(poisoned[0]!.messageText).reason as string, /clusterResourceId/);
      assert.ok(
        w.lines.some((l) => /moved to the poison queue: invalid message/.test(l)),
        'the reason is logged',
      );
    } finally {
      assert.equal(await w.stop(), 0, 'SIGTERM ends the worker with exit code 0');
    }
    const secrets = [
      ...stack().identity.tokens.keys(),
      stack().identity.header,
      h.env.SLACK_WEBHOOK_URL!,
      h.env.TEAMS_WEBHOOK_URL!,
    ];
    for (const line of w.lines)
      for (const secret of secrets) assert.ok(!line.includes(secret), `worker log leaks a secret: ${line}`);
  });

  it('obeys host.json: a failing invocation is retried, then moved to <queue>-poison after maxDequeueCount', async () => {
    // The worker's host semantics, with a handler that fails as a bug would (the pipeline itself defers
    // every outage instead of throwing), and a host.json that allows 3 dequeues.
    const h = await harness();
    const dir = mkdtempSync(join(tmpdir(), 'hostjson-'));
    const hostJson = join(dir, 'host.json');
    const real = JSON.parse(readFileSync('host.json', 'utf8')) as { extensions: { queues: Record<string, unknown> } };
    writeFileSync(
      hostJson,
      JSON.stringify({
        ...real,
        extensions: { queues: { ...real.extensions.queues, maxDequeueCount: 3, visibilityTimeout: '00:00:00' } },
      }),
    );
    const text = JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: commandId() });
    await h.main.sendMessage(text);
    const calls: number[] = [];
    const worker = new QueueHostEmulator({
      ...readQueueHostSettings(hostJson),
      maxPollingIntervalMs: 100,
      queue: h.main,
      poison: h.poison,
      handler: async (_m, ctx) => {
        calls.push(Number(ctx.triggerMetadata?.dequeueCount));
        throw new Error('a bug');
      },
      leaseSeconds: 5,
      shutdownGraceMs: 1000,
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    worker.start();
    try {
      const poisoned = await waitFor(
        'the poison queue',
        async () => (await h.poison.peekMessages({ numberOfMessages: 1 })).peekedMessageItems[0],
        30_000,
      );
      assert.equal(poisoned.messageText, text, 'the host moves the original message');
      assert.deepEqual(calls, [1, 2, 3]);
      assert.equal((await h.main.getProperties()).approximateMessagesCount, 0);
    } finally {
      await worker.stop();
    }
    assert.deepEqual(worker.stats, { received: 3, succeeded: 0, failed: 3, poisoned: 1, returned: 0, unsettled: 0 });
    // The CLI reads the same file, and says which.
    const w = spawnWorker(h.env, ['--host-json', hostJson]);
    try {
      await waitFor('the start-up line', () => w.lines.find((l) => l.includes('max dequeue 3 from')), 20_000);
    } finally {
      await w.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start with an invalid setting, naming it', async () => {
    const h = await harness();
    const w = spawnWorker({ ...h.env, ARM_ENDPOINT: 'http://management.azure.com' });
    const code = await w.exited;
    assert.notEqual(code, 0);
    assert.ok(
      w.lines.some((l) => l.includes('ARM_ENDPOINT') && l.includes('https')),
      w.lines.join('\n'),
    );
  });
});

describe('worker start-up and shutdown', () => {
  it('fails fast on an unresolved Key Vault reference, naming the setting and not its value', async () => {
    const h = await harness();
    const ref = '@Microsoft.KeyVault(SecretUri=https://kv-secret-name.vault.azure.net/secrets/teams/)';
    const w = spawnWorker({ ...h.env, TEAMS_WEBHOOK_URL: ref });
    assert.notEqual(await w.exited, 0);
    const out = w.lines.join('\n');
    assert.match(out, /TEAMS_WEBHOOK_URL.*unresolved Key Vault reference/);
    assert.ok(!out.includes('kv-secret-name') && !out.includes('@Microsoft.KeyVault('), out);
  });

  it('SIGTERM lets a running message finish, then exits 0', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 0 } });
    stack().receivers.script('slack', h.channel, [{ status: 200, body: 'ok', delayMs: 1500 }]);
    const metricsFile = join(mkdtempSync(join(tmpdir(), 'metrics-')), 'metrics.json');
    const w = spawnWorker(h.env, ['--metrics-json', metricsFile]);
    await h.main.sendMessage(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id }));
    await waitFor('the Teams post', () => stack().receivers.for('teams', h.channel).length === 1 || undefined);
    assert.equal(await w.stop('SIGTERM'), 0);
    assert.equal(stack().receivers.for('slack', h.channel).length, 1, 'the slow post completed');
    assert.equal((await h.main.getProperties()).approximateMessagesCount, 0, 'and the message was completed');
    assert.ok(w.lines.some((l) => /SIGTERM: finishing 1 running message/.test(l)));
    // What the worker counted, for people and as JSON.
    assert.ok(
      w.lines.some((l) => /aksnotifier\.deliveries \{target=slack status=delivered form=full\}: 1/.test(l)),
      w.lines.join('\n'),
    );
    const written = JSON.parse(readFileSync(metricsFile, 'utf8')) as {
      worker: { succeeded: number };
      metrics: { name: string; attributes: Record<string, string>; value: number }[];
    };
    assert.equal(written.worker.succeeded, 1);
    assert.ok(
      written.metrics.some(
        (m) => m.name === 'aksnotifier.commands.finished' && m.attributes.outcome === 'succeeded' && m.value === 1,
      ),
    );
  });

  it('SIGTERM returns what cannot finish within the grace period to the queue at once', async () => {
    const h = await harness({ WEBHOOK_TIMEOUT_SECONDS: '10' });
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 0 } });
    stack().receivers.script('slack', h.channel, [{ status: 200, body: 'ok', delayMs: 8000 }]);
    const w = spawnWorker(h.env, ['--shutdown-grace-seconds', '1', '--lease-seconds', '60']);
    await h.main.sendMessage(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id }));
    await waitFor('the delivery to start', () => stack().receivers.for('teams', h.channel).length === 1 || undefined);
    const stopping = Date.now();
    assert.equal(await w.stop('SIGTERM'), 0);
    assert.ok(Date.now() - stopping < 4000, `stopped in ${Date.now() - stopping} ms`);
    const back = await waitFor(
      'the message to be visible again',
      async () => (await h.main.peekMessages()).peekedMessageItems[0],
      3000,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${w.lines.join('\n')}`);
    });
    assert.match(back.messageText, new RegExp(id), 'returned with a lease of 60 s, visible at once');
    assert.ok(w.lines.some((l) => /returned to the queue/.test(l)));
  });

  it('keeps serving through a stream of hostile messages', async () => {
    const fc = (await import('fast-check')).default;
    const h = await harness();
    const hostile = fc
      .sample(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.jsonValue().map((v) => JSON.stringify(v) ?? 'x'),
          fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b).toString('base64')),
        ),
        { numRuns: 100, seed: 42 },
      )
      .map((m) => m || ' ');
    for (const m of hostile) await h.main.sendMessage(m);
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 0 } });
    await h.main.sendMessage(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id }));
    const w = spawnWorker(h.env);
    try {
      await waitFor(
        'the valid command',
        () => stack().receivers.for('slack', h.channel).length === 1 || undefined,
        30_000,
      );
      await waitFor(
        'the queue to drain',
        async () => ((await h.main.getProperties()).approximateMessagesCount === 0 ? true : undefined),
        30_000,
      );
      assert.equal(w.proc.exitCode, null, 'the worker is still running');
      assert.equal((await h.poison.getProperties()).approximateMessagesCount, hostile.length);
    } finally {
      await w.stop();
    }
  });
});

describe('redrive', () => {
  it('moves poison messages back after the fix, refusing (without --force) those older than the retention', async () => {
    const s = stack();
    const h = await harness();
    const id = commandId();
    s.arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 0 } });
    // Poisoned because the target did not exist yet; host-poisoned copy too (plain original text).
    const text = JSON.stringify({
      clusterResourceId: CLUSTER_ID,
      commandId: id,
      targets: ['ops'],
      _notifier: { attempt: 3, firstSeenAt: '2020-01-01T00:00:00Z', deadlineAt: '2020-01-01T02:00:00Z' },
    });
    assert.equal((await h.invoke(text)).kind, 'poisoned');
    const { redrive } = await import('../../src/cli/redrive');
    const lines: string[] = [];
    const refused = await redrive(h.rt.queue, { max: 10, dryRun: false, retentionDays: 30, log: (l) => lines.push(l) });
    assert.deepEqual([refused.moved, refused.refused], [0, 1], 'first seen in 2020: older than the retention');
    assert.match(lines.join('\n'), /older than the ledger's retention \(30 days\).*--force/);
    const dry = await redrive(h.rt.queue, {
      max: 10,
      dryRun: true,
      force: true,
      retentionDays: 30,
      log: () => undefined,
    });
    assert.equal(dry.moved, 1);
    assert.equal((await h.poison.getProperties()).approximateMessagesCount, 1, 'a dry run moves nothing');
    const moved = await redrive(h.rt.queue, {
      max: 10,
      dryRun: false,
      force: true,
      retentionDays: 30,
      log: () => undefined,
    });
    assert.deepEqual(
      moved.reasons.map((r) => /unknown notification target\(s\): ops/.test(r)),
      [true],
    );
    assert.equal((await h.poison.getProperties()).approximateMessagesCount, 0);
    // The fix: the target now exists.
    const fixed = await harness({
      COMMAND_QUEUE_NAME: h.queueName,
      NOTIFY_TARGETS: 'ops',
      NOTIFY_TARGET_OPS_KIND: 'slack',
      NOTIFY_TARGET_OPS_URL: s.receivers.urlFor('slack', h.channel),
    });
    const r = await fixed.pollOnce(3000);
    assert.ok(r && r.outcome.kind === 'notified', JSON.stringify(r?.outcome));
    assert.equal(JSON.parse(r.text)._notifier, undefined, 'the old deadline was dropped');
    assert.equal(s.receivers.for('slack', h.channel).length, 1);
  });
});

describe('enqueue CLI', () => {
  const run = (env: Record<string, string>, args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', resolve(__dirname, '../../src/cli/main.ts'), 'enqueue', ...args], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });

  it('writes a message the function accepts', async () => {
    const h = await harness();
    const r = run(h.env, [
      '--cluster',
      CLUSTER_ID,
      '--command-id',
      'abc123',
      '--command',
      'kubectl get ns',
      '--target',
      'slack',
      '--context',
      'requestedBy=ci',
      '--context',
      'link=https://example.com/x=1',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const [m] = (await h.main.peekMessages()).peekedMessageItems;
    assert.deepEqual(JSON.parse(m!.messageText), {
      clusterResourceId: CLUSTER_ID,
      commandId: 'abc123',
      command: 'kubectl get ns',
      targets: ['slack'],
      context: { requestedBy: 'ci', link: 'https://example.com/x=1' },
    });
  });

  it('refuses invalid input with a clear error and writes nothing', async () => {
    const h = await harness();
    const r = run(h.env, ['--cluster', `${CLUSTER_ID}/../x`, '--command-id', 'abc']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /error: clusterResourceId must be/);
    const bad = run(h.env, ['--cluster', CLUSTER_ID, '--command-id', 'a/b']);
    assert.match(bad.stderr, /commandId/);
    assert.equal((await h.main.getProperties()).approximateMessagesCount, 0);
  });
});
