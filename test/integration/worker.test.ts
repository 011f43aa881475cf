// The worker CLI in its own process: host semantics, poison handling, clean shutdown, log hygiene.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CLUSTER, CLUSTER_ID, commandId, harness, setUpStack, stack, tearDownStack, waitFor } from '../support/stack';
import { spawnWorker } from '../support/worker';

before(setUpStack);
after(tearDownStack);

describe('worker', () => {
  it('poisons a malformed message at once and keeps serving the next ones', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, { steps: [{ status: 202 }], result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'ok' } });
    await h.main.sendMessage('{"clusterResourceId": 42}');
    await h.main.sendMessage(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id }));
    const w = spawnWorker(h.env);
    try {
      await waitFor('the notification', () => stack().receivers.for('slack', h.channel).length === 1 || undefined);
      await waitFor('the teams notification', () => stack().receivers.for('teams', h.channel).length === 1 || undefined);
      const poisoned = (await h.poison.peekMessages({ numberOfMessages: 10 })).peekedMessageItems;
      assert.equal(poisoned.length, 1);
      assert.match(JSON.parse(poisoned[0]!.messageText).reason as string, /clusterResourceId/);
      assert.ok(w.lines.some((l) => /moved to the poison queue: invalid message/.test(l)), 'the reason is logged');
    } finally {
      assert.equal(await w.stop(), 0, 'SIGTERM ends the worker with exit code 0');
    }
    const secrets = [...stack().identity.tokens.keys(), stack().identity.header, h.env.SLACK_WEBHOOK_URL!, h.env.TEAMS_WEBHOOK_URL!];
    for (const line of w.lines) for (const secret of secrets) assert.ok(!line.includes(secret), `worker log leaks a secret: ${line}`);
  });

  it('retries a failing invocation and moves it to <queue>-poison after MAX_DEQUEUE_COUNT', async () => {
    const h = await harness({ MAX_DEQUEUE_COUNT: '3' });
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 0 } });
    // Slack keeps answering 500: delivery cannot complete, so the invocation throws each time.
    stack().receivers.script('slack', h.channel, Array.from({ length: 30 }, () => ({ status: 500, body: 'rollup_error' })));
    const text = JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id, targets: ['slack'] });
    await h.main.sendMessage(text);
    const w = spawnWorker({ ...h.env, WEBHOOK_TIMEOUT_SECONDS: '1' }, ['--visibility-timeout-seconds', '0']);
    try {
      const poisoned = await waitFor(
        'the poison queue',
        async () => (await h.poison.peekMessages({ numberOfMessages: 1 })).peekedMessageItems[0],
        60_000,
      );
      assert.equal(poisoned.messageText, text, 'the host moves the original message');
      assert.equal((await h.main.getProperties()).approximateMessagesCount, 0);
      assert.equal(stack().receivers.attempts.filter((a) => a.channel === h.channel).length, 3 * 3, '3 dequeues × 3 attempts');
    } finally {
      await w.stop();
    }
  });

  it('refuses to start with an invalid setting, naming it', async () => {
    const h = await harness();
    const w = spawnWorker({ ...h.env, ARM_ENDPOINT: 'http://management.azure.com' });
    const code = await w.exited;
    assert.notEqual(code, 0);
    assert.ok(w.lines.some((l) => l.includes('ARM_ENDPOINT') && l.includes('https')), w.lines.join('\n'));
  });
});
