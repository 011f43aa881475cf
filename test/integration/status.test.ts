// `status` against Azurite with content in the queue, the poison queue and the ledger.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { openOperatorStores } from '../../src/cli/operator';
import { formatStatus, status } from '../../src/cli/status';
import { redrive } from '../../src/cli/redrive';
import { builtCli } from '../support/builtCli';
import { CLUSTER, CLUSTER_ID, commandId, harness, setUpStack, stack, tearDownStack } from '../support/stack';

before(setUpStack);
after(tearDownStack);

describe('status', () => {
  it('shows poison reasons as log lines: no escape sequence, newline or bidi control reaches the terminal', async () => {
    const h = await harness();
    // What a raw message shaped like our envelope (moved to poison by the host) can carry.
    const reason = 'see \u001b]8;;https://evil.example\u0007this\u001b]8;;\u0007\nFAKE: all clear \u202egnp.exe';
    await h.poison.sendMessage(
      JSON.stringify({
        kind: 'aks-command-notifier/poison',
        reason,
        at: new Date().toISOString(),
        original: '{"commandId":"x"}',
      }),
    );
    const r = await status(openOperatorStores(h.env), { poison: 10, deliveries: 1, windowHours: 1 });
    const shown = r.poison.recent[0]!.reason;
    assert.equal(
      shown,
      'see \\u001b]8;;https://evil.example\\u0007this\\u001b]8;;\\u0007\\u000aFAKE: all clear \\u202egnp.exe',
    );
    for (const line of formatStatus(r).split('\n'))
      assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f]|\p{Bidi_Control}/u);
    const lines: string[] = [];
    const moved = await redrive(openOperatorStores(h.env).queue, {
      max: 5,
      dryRun: true,
      retentionDays: 30,
      log: (l) => lines.push(l),
    });
    assert.equal(moved.moved, 1);
    assert.ok(
      lines.length > 0 && lines.every((l) => !/[\u0000-\u001f\u007f-\u009f]|\p{Bidi_Control}/u.test(l)),
      JSON.stringify(lines),
    );
    assert.ok(moved.reasons[0]!.includes('\\u202e'));
  });

  it('shows queue and poison depth, poison reasons, recent deliveries with their lag, and undelivered targets', async () => {
    const s = stack();
    const h = await harness({ DELIVERY_TABLE_NAME: `st${commandId().slice(0, 12)}` });
    const ok = commandId();
    const broken = commandId();
    const waiting = commandId();
    const running = commandId();
    s.arm.addCommand(CLUSTER, ok, { result: { provisioningState: 'Succeeded', exitCode: 0 } });
    s.arm.addCommand(CLUSTER, broken, { result: { provisioningState: 'Failed', reason: 'x' } });
    s.arm.addCommand(CLUSTER, waiting, { result: { provisioningState: 'Succeeded', exitCode: 1 } });
    s.arm.addCommand(CLUSTER, running, {});
    s.receivers.script('slack', h.channel, [
      { status: 200, body: 'ok' },
      { status: 410, body: 'channel_is_archived' },
      { status: 503 },
    ]);
    for (const id of [ok, broken, waiting])
      await h.invoke(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id }));
    await h.invoke(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: running }));
    await h.invoke('{"clusterResourceId":"/subscriptions/x","commandId":"bad1"}');

    const r = await status(openOperatorStores(h.env), { poison: 10, deliveries: 20, windowHours: 1 });
    assert.equal(r.queue.name, h.queueName);
    assert.equal(r.queue.messages, 2, 'the running command and the deferred delivery');
    assert.equal(r.poison.messages, 1);
    assert.equal(r.poison.recent.length, 1);
    assert.match(r.poison.recent[0]!.reason, /invalid message: clusterResourceId must be/);
    assert.equal(r.poison.recent[0]!.commandId, 'bad1');
    const find = (id: string, target: string) => r.deliveries.find((d) => d.commandId === id && d.target === target);
    assert.deepEqual(
      [find(ok, 'slack')?.state, find(ok, 'slack')?.form, find(ok, 'slack')?.cluster],
      ['delivered', 'full', CLUSTER.resourceName],
    );
    assert.equal(typeof find(ok, 'teams')?.lagSeconds, 'number');
    assert.equal(find(broken, 'slack')?.state, 'failed');
    assert.equal(find(waiting, 'slack')?.state, 'pending');
    assert.equal(find(running, 'slack')?.state, 'pending');
    const slack = r.undelivered.find((u) => u.target === 'slack');
    assert.deepEqual([slack?.failed, slack?.pending], [1, 2]);
    assert.match(slack?.lastError ?? '', /Slack answered (410 channel_is_archived|503)/);
    assert.equal(r.undelivered.find((u) => u.target === 'teams')?.pending, 1, 'the running command');

    // The read budget the four polls drew from, shared by the app's instances; not a delivery. A lease also
    // takes ahead what the instance took in the last second, so how many slots were leased depends on how
    // many of the four polls fell within a second: 4 on an idle machine, 6 seen on 2 loaded cores.
    assert.equal(r.budgets.length, 1, JSON.stringify(r.budgets));
    assert.equal(r.budgets[0]!.budget, `arm.${CLUSTER.subscriptionId}`);
    assert.ok(r.budgets[0]!.slots >= 4 && r.budgets[0]!.slots <= 8, `${r.budgets[0]!.slots} slots`);
    assert.ok(!r.deliveries.some((d) => d.target.startsWith('arm.')));
    const text = formatStatus(r);
    assert.match(text, new RegExp(`arm\\.${CLUSTER.subscriptionId}\\s+\\d`));
    assert.match(text, new RegExp(`${h.queueName}\\s+2`));
    assert.match(text, /targets with undelivered notifications:/);

    // The CLI, as an operator runs it (the built bundle, on this pass's Node): a table, or one JSON object.
    const main = await builtCli();
    const cli = (args: string[]) =>
      spawnSync(process.execPath, [main, 'status', ...args], {
        env: { ...process.env, ...h.env },
        encoding: 'utf8',
      });
    const table = cli(['--hours', '1']);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /poison queue \(oldest first, 1 shown\)/);
    const json = cli(['--json', '--hours', '1']);
    assert.equal((JSON.parse(json.stdout) as { poison: { messages: number } }).poison.messages, 1);
  });
});
