// Delivery against the Slack/Teams receivers, the ledger in Azurite's Table service and the stored results
// in its Blob service: deferrals instead of host retries, minimal payloads, permanent failures, redelivery,
// routing, and one post per (command, target) despite duplicates and kills.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openOperatorStores } from '../../src/cli/operator';
import { redeliver } from '../../src/cli/redeliver';
import { commandKey, readTarget } from '../../src/store/ledgerRows';
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
  type Harness,
} from '../support/stack';
import { spawnWorker } from '../support/worker';

before(setUpStack);
after(tearDownStack);

const finished = (exitCode = 0) => ({ result: { provisioningState: 'Succeeded', exitCode, logs: 'done' } });
const msg = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id, ...extra });
const attempts = (kind: string, channel: string) =>
  stack().receivers.attempts.filter((a) => a.kind === kind && a.channel === channel);
const posts = (kind: 'slack' | 'teams', channel: string) => stack().receivers.for(kind, channel).length;
async function row(h: Harness, id: string, target: string) {
  const { entities } = await h.rt.ledger.store.listPartition(commandKey(CLUSTER_ID, id));
  return readTarget(entities.find((e) => e.rowKey === target)!);
}

describe('delivery', () => {
  it('a 429 with Retry-After: 1 defers the target (no waiting inside the invocation), then delivers once', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, finished());
    stack().receivers.script('slack', h.channel, [
      { status: 429, body: 'rate_limited', headers: { 'retry-after': '1' } },
    ]);
    const first = await h.invoke(msg(id));
    assert.ok(first.kind === 'deferred' && first.delaySeconds === 3, JSON.stringify(first));
    // Counted, not timed: an invocation that sat out the Retry-After would have posted again by now.
    assert.deepEqual(
      attempts('slack', h.channel).map((a) => a.status),
      [429],
      'the invocation did not sit out the Retry-After',
    );
    assert.equal(posts('teams', h.channel), 1, 'Teams was not held back');
    const r = await h.pollOnce(5000);
    assert.equal(r?.outcome.kind, 'notified');
    assert.deepEqual(
      attempts('slack', h.channel).map((a) => a.status),
      [429, 200],
    );
    assert.equal(posts('slack', h.channel), 1);
    assert.equal(posts('teams', h.channel), 1);
  });

  it('a long Retry-After defers the message; a copy that arrives before it ends does not post', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, finished());
    stack().receivers.script('slack', h.channel, [
      { status: 429, body: 'rate_limited', headers: { 'retry-after': '30' } },
    ]);
    const started = Date.now();
    const outcome = await h.invoke(msg(id));
    // Far below the 30 s asked for, far above what a loaded machine adds: the wait is the queue's, not ours.
    assert.ok(Date.now() - started < 15_000, 'the invocation did not sit out the Retry-After');
    assert.ok(
      outcome.kind === 'deferred' && outcome.delaySeconds >= 29 && outcome.delaySeconds <= 31,
      JSON.stringify(outcome),
    );
    assert.equal((await h.main.getProperties()).approximateMessagesCount, 1, 're-enqueued for later');
    const again = await h.invoke(msg(id));
    assert.equal(again.kind, 'deferred');
    assert.equal(attempts('slack', h.channel).length, 1);
    assert.equal(posts('teams', h.channel), 1);
    assert.equal((await row(h, id, 'slack')).state, 'pending');
  });

  it('attempts a permanent 404 once, even when the message comes back', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, finished(1));
    stack().receivers.script('slack', h.channel, [{ status: 404, body: 'no_service' }]);
    const first = await h.invoke(msg(id));
    assert.ok(first.kind === 'notified' && first.results.some((r) => r.target === 'slack' && r.status === 'failed'));
    assert.ok(
      h.logs.some((l) => /target slack: permanent failure.*404 no_service.*SLACK_WEBHOOK_URL/.test(l)),
      'logged with the target and its setting',
    );
    await h.invoke(msg(id));
    assert.equal(attempts('slack', h.channel).length, 1);
    assert.equal(posts('teams', h.channel), 1);
    assert.deepEqual(
      [(await row(h, id, 'slack')).state, (await row(h, id, 'slack')).lastError],
      ['failed', 'Slack answered 404 no_service'],
    );
  });

  it('a Teams outage defers Teams alone: Slack is posted once, Teams once it recovers, ARM read once', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, finished());
    stack().receivers.script('teams', h.channel, [{ status: 502 }, { status: 503 }]);
    const first = await h.invoke(msg(id));
    assert.equal(first.kind, 'deferred');
    for (let i = 0; i < 3 && posts('teams', h.channel) === 0; i++) await h.pollOnce(10_000);
    assert.equal(posts('slack', h.channel), 1);
    assert.equal(posts('teams', h.channel), 1);
    assert.deepEqual(
      attempts('teams', h.channel).map((a) => a.status),
      [502, 503, 202],
    );
    assert.equal(stack().arm.readsFor(id).length, 1, 'delivery never re-reads ARM');
  });

  it('Teams answering 413: the minimal card is delivered at once, and the ledger says so', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, {
      result: { provisioningState: 'Succeeded', exitCode: 1, logs: 'boom\n'.repeat(100) },
    });
    stack().receivers.script('teams', h.channel, [{ status: 413, body: 'Request Entity Too Large' }]);
    const r = await h.invoke(msg(id, { command: 'kubectl get pods', context: { requestedBy: 'ci' } }));
    assert.ok(r.kind === 'notified', JSON.stringify(r));
    const [card] = stack().receivers.for('teams', h.channel);
    const json = JSON.stringify(card!.body);
    assert.ok(json.includes(id) && json.includes('exit code 1'), 'the minimal card keeps the title and facts');
    assert.ok(
      !json.includes('boom') && !json.includes('kubectl get pods') && !json.includes('requestedBy'),
      'but not logs, command or context',
    );
    const ledger = await row(h, id, 'teams');
    assert.deepEqual([ledger.state, ledger.form, ledger.attempts], ['delivered', 'minimal', 2]);
    assert.equal((await row(h, id, 'slack')).form, 'full');
  });

  it('a permanently failed target, fixed later, is delivered once by redeliver', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, finished(3));
    stack().receivers.script('slack', h.channel, [{ status: 410, body: 'channel_is_archived' }]);
    await h.invoke(msg(id));
    assert.equal((await row(h, id, 'slack')).state, 'failed');
    const lines: string[] = [];
    const r = await redeliver(
      openOperatorStores(h.env),
      { cluster: CLUSTER_ID, commandId: id, targets: ['slack'] },
      (l) => lines.push(l),
    );
    assert.deepEqual(r.targets, ['slack']);
    assert.match(lines.join('\n'), /target slack: failed → pending/);
    const done = await h.pollOnce(5000);
    assert.equal(done?.outcome.kind, 'notified');
    assert.equal(posts('slack', h.channel), 1);
    assert.equal(posts('teams', h.channel), 1, 'the target that had it is not posted again');
    assert.equal(stack().arm.readsFor(id).length, 1, 'from the stored result');
    await assert.rejects(
      redeliver(openOperatorStores(h.env), { cluster: CLUSTER_ID, commandId: commandId() }, () => undefined),
      /no stored result/,
    );
  });

  it('times out a webhook that does not answer, and tries it again in a later round', async () => {
    const h = await harness({ WEBHOOK_TIMEOUT_SECONDS: '1' });
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, finished());
    stack().receivers.script('teams', h.channel, [{ status: 202, delayMs: 3000 }]);
    const first = await h.invoke(msg(id));
    assert.equal(first.kind, 'deferred');
    assert.match((await row(h, id, 'teams')).lastError ?? '', /timed out/);
    await h.pollOnce(10_000);
    assert.equal(posts('teams', h.channel), 1, 'the slow attempt was abandoned, the next round delivered');
  });

  it('the same command enqueued twice and handled at once gives one post per target', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, finished());
    stack().receivers.script('slack', h.channel, [{ status: 200, body: 'ok', delayMs: 300 }]);
    const both = await Promise.all([h.invoke(msg(id)), h.invoke(msg(id))]);
    assert.ok(
      both.some((o) => o.kind === 'notified'),
      JSON.stringify(both),
    );
    for (let i = 0; i < 4 && ((await h.main.getProperties()).approximateMessagesCount ?? 0) > 0; i++)
      await h.pollOnce(20_000);
    assert.equal(posts('slack', h.channel), 1);
    assert.equal(posts('teams', h.channel), 1);
  });

  it('routes to named targets, honours notify-on-failure and rejects unknown names', async () => {
    const s = stack();
    const ops = unique('ops');
    const dev = unique('dev');
    const h = await harness({
      NOTIFY_TARGETS: 'ops,dev-teams',
      NOTIFY_TARGET_OPS_KIND: 'slack',
      NOTIFY_TARGET_OPS_URL: s.receivers.urlFor('slack', ops),
      NOTIFY_TARGET_OPS_ON: 'failure',
      NOTIFY_TARGET_OPS_MENTION: '<!subteam^S0OPS>',
      NOTIFY_TARGET_DEV_TEAMS_KIND: 'teams',
      NOTIFY_TARGET_DEV_TEAMS_URL: s.receivers.urlFor('teams', dev),
      NOTIFY_TARGET_DEV_TEAMS_LOGS: 'false',
    });
    const good = commandId();
    const bad = commandId();
    const other = commandId();
    s.arm.addCommand(CLUSTER, good, finished(0));
    s.arm.addCommand(CLUSTER, bad, finished(2));
    s.arm.addCommand(CLUSTER, other, finished(2));
    await h.invoke(msg(good, { targets: ['ops', 'dev-teams'] }));
    await h.invoke(msg(bad, { targets: ['ops', 'dev-teams'] }));
    await h.invoke(msg(other, { targets: ['default'] }));
    assert.equal(s.receivers.for('slack', ops).length, 1, 'ops hears only about the failure');
    assert.match((s.receivers.for('slack', ops)[0]!.body as { text: string }).text, /^<!subteam\^S0OPS> .*exit code 2/);
    assert.equal(s.receivers.for('teams', dev).length, 2);
    assert.ok(
      s.receivers.for('teams', dev).every((r) => !JSON.stringify(r.body).includes('Logs')),
      'dev-teams gets no logs',
    );
    assert.equal(s.receivers.for('slack', h.channel).length, 1, 'default = the zero-config targets');
    assert.equal((await row(h, good, 'ops')).state, 'skipped');
    const unknown = await h.invoke(msg(commandId(), { targets: ['nobody'] }));
    assert.equal(unknown.kind, 'poisoned');
  });

  it('a worker killed after posting to Slack still gives one post per target', async () => {
    const h = await harness({ WEBHOOK_TIMEOUT_SECONDS: '1' });
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, finished());
    // Teams is slow: the worker dies while it waits, after Slack has the message.
    stack().receivers.script('teams', h.channel, [{ status: 202, delayMs: 5000 }]);
    await h.main.sendMessage(msg(id));
    const args = ['--lease-seconds', '2', '--visibility-timeout-seconds', '1'];
    const first = spawnWorker(h.env, args);
    await waitFor('the Slack post', () => posts('slack', h.channel) === 1 || undefined);
    // Killed once Slack's delivery is on record (not after a fixed sleep a loaded machine can outrun).
    await waitFor('the Slack record', async () =>
      (await row(h, id, 'slack')).state === 'delivered' ? true : undefined,
    );
    first.proc.kill('SIGKILL');
    await first.exited;
    const second = spawnWorker(h.env, args);
    try {
      await waitFor('the Teams post', () => posts('teams', h.channel) === 1 || undefined, 60_000);
      await waitFor(
        'the queue to drain',
        async () => ((await h.main.getProperties()).approximateMessagesCount === 0 ? true : undefined),
        30_000,
      );
    } finally {
      await second.stop();
    }
    assert.equal(posts('slack', h.channel), 1);
    assert.equal(posts('teams', h.channel), 1);
    assert.equal((await h.poison.peekMessages()).peekedMessageItems.length, 0, 'nothing was poisoned');
  });
});
