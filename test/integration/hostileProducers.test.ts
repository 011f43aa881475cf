// Hostile producers against the real handler, Azurite and the stand-ins: bounded poison reasons, messages
// that cannot be serialized, forged log lines, forged bookkeeping, targets outside their clusters, and
// errors redacted before the host sees them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InvocationContext } from '@azure/functions';
import { parsePoisonEnvelope } from '../../src/queue/commandQueue';
import { StoreRejectedError } from '../../src/store/entityStore';
import { commandKey } from '../../src/store/ledgerRows';
import { MAX_CONTEXT_STORED_CHARS, TRIMMED } from '../../src/store/displayCopies';
import { createQueueHandler } from '../../src/pipeline/queueTrigger';
import {
  CLUSTER,
  CLUSTER_ID,
  commandId,
  harness,
  setUpStack,
  stack,
  tearDownStack,
  unique,
  waitFor,
} from '../support/stack';
import { spawnWorker } from '../support/worker';

before(setUpStack);
after(tearDownStack);

async function poisoned(h: Awaited<ReturnType<typeof harness>>) {
  const [m] = (await h.poison.receiveMessages({ numberOfMessages: 1 })).receivedMessageItems;
  return parsePoisonEnvelope(m!.messageText)!;
}

describe('hostile producers', () => {
  it('a 60 KB field name: the poison reason stays under 1 KB and the poison write succeeds', async () => {
    const h = await harness();
    const key = 'k'.repeat(60 * 1024);
    const outcome = await h.invoke(`{"clusterResourceId":"${CLUSTER_ID}","commandId":"abc","${key}":1}`);
    assert.equal(outcome.kind, 'poisoned');
    const envelope = await poisoned(h);
    assert.ok(envelope.reason.length <= 1024, `reason of ${envelope.reason.length}`);
    assert.match(envelope.reason, /unknown field\(s\): "k+…"/);
  });

  it('an object nested 32,000 levels deep, as the host hands it over: poisoned with a short description', async () => {
    const h = await harness();
    let deep: Record<string, unknown> = {};
    const root = { clusterResourceId: CLUSTER_ID, commandId: 'abc', nested: deep };
    for (let i = 0; i < 32_000; i++) deep = (deep.x = {}) as Record<string, unknown>;
    const outcome = await h.invoke(root);
    assert.equal(outcome.kind, 'poisoned');
    const envelope = await poisoned(h);
    assert.match(envelope.reason, /cannot be written back as JSON/);
    assert.match(envelope.original, /cannot be written back as JSON: RangeError/);
  });

  it('a newline in a field name cannot forge a second log line', async () => {
    const h = await harness();
    await h.invoke(
      JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: 'abc', 'x\nERROR admin password changed': 1 }),
    );
    const line = h.logs.find((l) => l.includes('admin password changed'));
    assert.ok(line && !line.includes('\n'), line);
    assert.ok(h.logs.every((l) => !l.startsWith('ERROR admin')));
  });

  it('forged bookkeeping (a deadline in 2099) with POLL_TIMEOUT_MINUTES=0.1 ends within 30 s and 10 reads, in one "gave up"', async () => {
    const h = await harness({
      POLL_TIMEOUT_MINUTES: '0.1',
      POLL_INITIAL_DELAY_SECONDS: '1',
      POLL_MAX_DELAY_SECONDS: '2',
    });
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, {}); // runs for ever
    await h.main.sendMessage(
      JSON.stringify({
        clusterResourceId: CLUSTER_ID,
        commandId: id,
        _notifier: {
          attempt: 0,
          firstSeenAt: '2099-01-01T00:00:00Z',
          deadlineAt: '2099-01-01T02:00:00Z',
          lastDelaySeconds: 0,
        },
      }),
    );
    const started = Date.now();
    const w = spawnWorker(h.env);
    try {
      await waitFor(
        'the "gave up" notification',
        () => (stack().receivers.for('slack', h.channel).length > 0 ? true : undefined),
        30_000,
      );
      // Real time: the worker polls on its own; a second notification or more ARM reads would come in these 3 s.
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      await w.stop();
    }
    const seconds = (Date.now() - started) / 1000;
    const reads = stack().arm.readsFor(id).length;
    console.log(
      `forged bookkeeping (deadline in 2099, POLL_TIMEOUT_MINUTES=0.1): gave up after ${seconds.toFixed(1)} s and ${reads} ARM reads`,
    );
    assert.ok(seconds < 30, `${seconds}s`);
    assert.ok(reads <= 10, `${reads} ARM reads`);
    const posts = stack().receivers.for('slack', h.channel);
    assert.equal(posts.length, 1);
    assert.match(JSON.stringify(posts[0]!.body), /gave up waiting/);
  });

  it('a context that JSON escaping grows past a Table property: stored trimmed with a marker, delivered, never taken for an outage', async () => {
    const s = stack();
    const h = await harness();
    const id = commandId();
    s.arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'ok' } });
    // 19 values of 1,000 quotes (each stored as \" ) and one of control characters (each \u0001): 44K characters as JSON.
    const context = Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [`k${i}`, i ? '"'.repeat(1000) : '\u0001'.repeat(1000)]),
    );
    const outcome = await h.invoke(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id, context }));
    assert.equal(outcome.kind, 'notified', JSON.stringify(outcome));
    assert.ok(!h.logs.some((l) => /Table storage\) (answered|failed|refused)/.test(l)), h.logs.join('\n'));
    const { entities } = await h.rt.ledger.store.listPartition(commandKey(CLUSTER_ID, id));
    const stored = String(entities.find((e) => e.rowKey === 'slack')!.context);
    assert.ok(stored.length <= MAX_CONTEXT_STORED_CHARS, `${stored.length} characters stored`);
    const back = JSON.parse(stored) as Record<string, string>;
    assert.equal(Object.keys(back).length, 20, 'every key kept');
    assert.ok(
      Object.values(back).every((v) => v.endsWith(TRIMMED)),
      'each cut value says so',
    );
    assert.equal(s.receivers.for('slack', h.channel).length, 1);
    assert.equal(s.receivers.for('teams', h.channel).length, 1);
  });

  it('a request Table storage refuses is a rejection with its code, not an outage', async () => {
    const h = await harness();
    const store = h.rt.ledger.store;
    await assert.rejects(
      store.insertAll([{ partitionKey: 'p', rowKey: unique('r'), big: 'x'.repeat(40_000) }]),
      (e: unknown) =>
        e instanceof StoreRejectedError &&
        e.status === 400 &&
        e.code === 'PropertyValueTooLarge' &&
        /refused the insert with 400 PropertyValueTooLarge/.test(e.message),
    );
  });

  it('targets only hear of clusters in their scope', async () => {
    const s = stack();
    const prod = unique('prod');
    const h = await harness({
      SLACK_CLUSTERS:
        '/subscriptions/*/resourceGroups/rg-prod-*/providers/Microsoft.ContainerService/managedClusters/*',
      NOTIFY_TARGETS: 'prod-ops',
      NOTIFY_TARGET_PROD_OPS_KIND: 'slack',
      NOTIFY_TARGET_PROD_OPS_URL: s.receivers.urlFor('slack', prod),
      NOTIFY_TARGET_PROD_OPS_CLUSTERS: `/subscriptions/${CLUSTER.subscriptionId}/resourceGroups/RG-PROD-*/providers/Microsoft.ContainerService/managedClusters/aks-*`,
    });
    // CLUSTER_ID is in rg-test: the zero-config Slack target leaves it out, Teams takes every cluster.
    const id = commandId();
    s.arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 0 } });
    const named = await h.invoke(
      JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id, targets: ['prod-ops'] }),
    );
    assert.deepEqual(
      named.kind === 'poisoned' && /prod-ops may not be told about this cluster/.test(named.reason),
      true,
      JSON.stringify(named),
    );
    const byDefault = await h.invoke(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id }));
    assert.ok(
      byDefault.kind === 'notified' && byDefault.results.map((r) => r.target).join() === 'teams',
      JSON.stringify(byDefault),
    );
    assert.ok(
      h.logs.some((l) => /default target slack skipped: its _CLUSTERS setting leaves this cluster out/.test(l)),
    );
    assert.equal(s.receivers.for('slack', h.channel).length, 0);
    const prodCluster = { ...CLUSTER, resourceGroupName: 'rg-prod-weu', resourceName: 'aks-prod' };
    const prodId = commandId();
    s.arm.addCommand(prodCluster, prodId, { result: { provisioningState: 'Succeeded', exitCode: 0 } });
    const inScope = await h.invoke(
      JSON.stringify({ ...prodCluster, commandId: prodId, targets: ['prod-ops', 'slack'] }),
    );
    assert.equal(inScope.kind, 'notified', 'patterns match case-insensitively, * within one segment');
    assert.equal(s.receivers.for('slack', prod).length, 1);

    const onlySlack = await harness({
      TEAMS_WEBHOOK_URL: '',
      SLACK_CLUSTERS: '/subscriptions/*/resourceGroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/*',
    });
    const none = await onlySlack.invoke(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: commandId() }));
    assert.deepEqual(
      none.kind === 'poisoned' && none.reason,
      'no notification target: every default target leaves this cluster out of its scope',
    );
  });

  it('redacts what it throws to the host', async () => {
    const h = await harness();
    const url = h.env.SLACK_WEBHOOK_URL!;
    h.rt.deps.queue.send = async () =>
      Promise.reject(new Error(`socket hang up talking to ${url} (${encodeURIComponent(url)})`));
    stack().arm.addCommand(CLUSTER, 'x1', {});
    const handler = createQueueHandler(() => h.rt);
    const context = new InvocationContext({
      functionName: 'p',
      triggerMetadata: { dequeueCount: 1, id: 'm' },
      logHandler: () => undefined,
    });
    const err = await handler(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: 'x1' }), context).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(err, 'the host is told');
    assert.match(err.message, /could not re-enqueue/);
    assert.ok(!err.message.includes(url) && !err.message.includes(encodeURIComponent(url)), err.message);
  });
});
