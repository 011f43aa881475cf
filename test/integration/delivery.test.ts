// Delivery against the Slack/Teams receivers and the ledger in Azurite's Table service: retries,
// permanent failures, routing, and one post per (command, target) despite duplicates and kills.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RetryableError } from '../../src/pipeline/pollCommand';
import { CLUSTER, CLUSTER_ID, commandId, harness, setUpStack, stack, tearDownStack, unique, waitFor } from '../support/stack';
import { spawnWorker } from '../support/worker';

before(setUpStack);
after(tearDownStack);

const finished = (exitCode = 0) => ({ result: { provisioningState: 'Succeeded', exitCode, logs: 'done' } });
const msg = (id: string, extra: Record<string, unknown> = {}) => JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id, ...extra });
const attempts = (kind: string, channel: string) => stack().receivers.attempts.filter((a) => a.kind === kind && a.channel === channel);

describe('delivery', () => {
  it('waits out a 429 with Retry-After: 1 and delivers once', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, finished());
    stack().receivers.script('slack', h.channel, [{ status: 429, body: 'rate_limited', headers: { 'retry-after': '1' } }]);
    const started = Date.now();
    const outcome = await h.invoke(msg(id));
    assert.equal(outcome.kind, 'notified');
    assert.ok(Date.now() - started >= 1000, 'the wait was honoured');
    assert.deepEqual(attempts('slack', h.channel).map((a) => a.status), [429, 200]);
    assert.equal(stack().receivers.for('slack', h.channel).length, 1);
    assert.equal(stack().receivers.for('teams', h.channel).length, 1);
  });

  it('a long Retry-After defers the message instead of burning its retries', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, finished());
    stack().receivers.script('slack', h.channel, [{ status: 429, body: 'rate_limited', headers: { 'retry-after': '30' } }]);
    const outcome = await h.invoke(msg(id));
    assert.ok(outcome.kind === 'deferred' && outcome.delaySeconds >= 29 && outcome.delaySeconds <= 31, JSON.stringify(outcome));
    assert.equal((await h.main.getProperties()).approximateMessagesCount, 1, 're-enqueued for later');
    assert.equal(stack().receivers.for('teams', h.channel).length, 1, 'Teams was not held back');
    // A copy that arrives before the Retry-After ends does not post to Slack either.
    const again = await h.invoke(msg(id));
    assert.equal(again.kind, 'deferred');
    assert.equal(attempts('slack', h.channel).length, 1);
    assert.equal(stack().receivers.for('teams', h.channel).length, 1);
  });

  it('attempts a permanent 404 once, even when the message comes back', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, finished(1));
    stack().receivers.script('slack', h.channel, [{ status: 404, body: 'no_service' }]);
    const first = await h.invoke(msg(id));
    assert.ok(first.kind === 'notified' && first.results.some((r) => r.target === 'slack' && r.status === 'failed'));
    assert.ok(h.logs.some((l) => /target slack: permanent failure.*404 no_service.*SLACK_WEBHOOK_URL/.test(l)), 'logged with the target and its setting');
    await h.invoke(msg(id));
    assert.equal(attempts('slack', h.channel).length, 1);
    assert.equal(stack().receivers.for('teams', h.channel).length, 1);
  });

  it('a Teams failure does not re-post to Slack', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, finished());
    stack().receivers.script('teams', h.channel, [{ status: 502 }, { status: 503 }, { status: 500 }]);
    await assert.rejects(h.invoke(msg(id)), RetryableError);
    assert.equal(stack().receivers.for('slack', h.channel).length, 1);
    assert.equal(attempts('teams', h.channel).length, 3, 'three attempts with backoff');
    const retry = await h.invoke(msg(id));
    assert.ok(retry.kind === 'notified' && retry.results.some((r) => r.target === 'slack' && r.status === 'skipped'));
    assert.equal(stack().receivers.for('slack', h.channel).length, 1);
    assert.equal(stack().receivers.for('teams', h.channel).length, 1);
  });

  it('times out a webhook that does not answer, and retries it', async () => {
    const h = await harness({ WEBHOOK_TIMEOUT_SECONDS: '1' });
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, finished());
    stack().receivers.script('teams', h.channel, [{ status: 202, delayMs: 3000 }]);
    const outcome = await h.invoke(msg(id));
    assert.equal(outcome.kind, 'notified');
    assert.equal(stack().receivers.for('teams', h.channel).length, 1, 'the slow attempt was abandoned, the retry delivered');
  });

  it('the same command enqueued twice and handled at once gives one post per target', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, finished());
    stack().receivers.script('slack', h.channel, [{ status: 200, body: 'ok', delayMs: 300 }]);
    const both = await Promise.all([h.invoke(msg(id)), h.invoke(msg(id))]);
    assert.deepEqual(both.map((o) => o.kind).sort(), ['deferred', 'notified']);
    // The deferred copy comes back after the claim's lease and finds both targets done.
    const later = await h.invoke(msg(id));
    assert.ok(later.kind === 'notified' && later.results.every((r) => r.status === 'skipped'));
    assert.equal(stack().receivers.for('slack', h.channel).length, 1);
    assert.equal(stack().receivers.for('teams', h.channel).length, 1);
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
    s.arm.addCommand(CLUSTER, good, finished(0));
    s.arm.addCommand(CLUSTER, bad, finished(2));
    await h.invoke(msg(good, { targets: ['ops', 'dev-teams'] }));
    await h.invoke(msg(bad, { targets: ['ops', 'dev-teams'] }));
    await h.invoke(msg(bad, { targets: ['default'] }));
    assert.equal(s.receivers.for('slack', ops).length, 1, 'ops hears only about the failure');
    assert.match((s.receivers.for('slack', ops)[0]!.body as { text: string }).text, /^<!subteam\^S0OPS> .*exit code 2/);
    assert.equal(s.receivers.for('teams', dev).length, 2);
    assert.ok(s.receivers.for('teams', dev).every((r) => !JSON.stringify(r.body).includes('Logs')), 'dev-teams gets no logs');
    assert.equal(s.receivers.for('slack', h.channel).length, 1, 'default = the zero-config targets');
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
    await waitFor('the Slack post', () => stack().receivers.for('slack', h.channel).length === 1 || undefined);
    await new Promise((r) => setTimeout(r, 200));
    first.proc.kill('SIGKILL');
    await first.exited;
    const second = spawnWorker(h.env, args);
    try {
      await waitFor('the Teams post', () => stack().receivers.for('teams', h.channel).length === 1 || undefined, 60_000);
      await waitFor('the queue to drain', async () => ((await h.main.getProperties()).approximateMessagesCount === 0 ? true : undefined), 30_000);
    } finally {
      await second.stop();
    }
    assert.equal(stack().receivers.for('slack', h.channel).length, 1);
    assert.equal(stack().receivers.for('teams', h.channel).length, 1);
    assert.equal((await h.poison.peekMessages()).peekedMessageItems.length, 0, 'nothing was poisoned');
  });
});
