// What a producer can and cannot do to a fleet run it did not start, through the real handler against
// Azurite and the stand-ins (ARM, Slack webhooks, Slack's Web API): anyone may write to the queue, and a
// group's id is on every summary. A copy of the declaration, trimmed or retargeted, before or after the end,
// changes nothing; a forged "could not start" hides no result; a target the group does not show still hears
// of its members one by one. And the operator's tools: `redeliver --group` sends a summary again, and the `enqueue` hint `run` prints restores a tracking
// message exactly.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { buildCli } from '../../src/cli/main';
import { buildMessage, enqueueCommandLine } from '../../src/cli/enqueue';
import { openOperatorStores } from '../../src/cli/operator';
import { redeliverGroup } from '../../src/cli/redeliver';
import type { MessageOutcome } from '../../src/pipeline/context';
import { CLUSTER, commandId, harness, setUpStack, stack, tearDownStack, unique, type Harness } from '../support/stack';

before(setUpStack);
after(tearDownStack);

const idOf = (name: string, subscriptionId = CLUSTER.subscriptionId) =>
  `/subscriptions/${subscriptionId}/resourceGroups/${CLUSTER.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${name}`;

/**
 * An app whose default targets are `slack` (a webhook) and `teama`, a webhook whose _CLUSTERS allows only
 * clusters named *-a: it may not show a group of an -a and a -b cluster, so it hears of the -a member on its own.
 */
async function app(overrides: Record<string, string> = {}) {
  const teama = unique('teama');
  const h = await harness({
    TEAMS_WEBHOOK_URL: '',
    NOTIFY_TARGETS: 'teama',
    NOTIFY_TARGET_TEAMA_KIND: 'slack',
    NOTIFY_TARGET_TEAMA_URL: stack().receivers.urlFor('slack', teama),
    NOTIFY_TARGET_TEAMA_CLUSTERS: idOf('*-a'),
    NOTIFY_DEFAULT_TARGETS: 'slack,teama',
    ...overrides,
  });
  const posts = (channel: string) =>
    stack()
      .receivers.for('slack', channel)
      .map((r) => JSON.stringify(r.body));
  return { h, slack: () => posts(h.channel), teama: () => posts(teama) };
}

/** A fleet run of two clusters, -a and -b, as `run` declares and tracks it; each command's exit code given. */
function fleet(exits: [number, number]) {
  const prefix = unique('ft');
  const names = [`${prefix}-a`, `${prefix}-b`];
  const ids = names.map((n) => idOf(n));
  const commandIds = names.map(() => commandId());
  names.forEach((name, i) =>
    stack().arm.addCommand({ ...CLUSTER, resourceName: name }, commandIds[i]!, {
      result: { provisioningState: 'Succeeded', exitCode: exits[i]!, logs: `step\nerror: ${name} broke\n` },
    }),
  );
  const groupId = randomUUID();
  const command = 'kubectl rollout restart deploy/web';
  const context = { requestedBy: 'alice@contoso.com' };
  return {
    groupId,
    names,
    ids,
    commandIds,
    declaration: { groupId, members: ids, command, context },
    tracking: (i: number) => ({ clusterResourceId: ids[i], commandId: commandIds[i], command, context, groupId }),
    notStarted: (i: number, reason: string) => ({
      groupId,
      clusterResourceId: ids[i],
      notStarted: { outcome: 'couldNotStart', reason },
    }),
  };
}
type Fleet = ReturnType<typeof fleet>;

/** The group's chain: its newest re-enqueued declaration. */
function chainOf(h: Harness, groupId: string): unknown {
  const text = [...h.sent].reverse().find((s) => s.text.includes(groupId) && s.text.includes('"members"'))!.text;
  return JSON.parse(text);
}

const kinds = (outcomes: MessageOutcome[]) => outcomes.map((o) => o.kind);

/** The declaration, both members' results, and the chain's tick that ends the group. */
async function runToEnd(h: Harness, g: Fleet, before: () => Promise<void> = async () => undefined) {
  assert.equal((await h.invoke(g.declaration)).kind, 'requeued');
  await before();
  assert.deepEqual(kinds([await h.invoke(g.tracking(0)), await h.invoke(g.tracking(1))]), ['notified', 'notified']);
  const end = await h.invoke(chainOf(h, g.groupId));
  assert.equal(end.kind, 'notified', JSON.stringify(end));
}

async function poisonReasons(h: Harness): Promise<string[]> {
  return (await h.poison.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.map(
    (m) => (JSON.parse(m.messageText) as { reason: string }).reason,
  );
}

describe('a fleet run is what its first declaration recorded', () => {
  it('a copy of an ended group, trimmed to a member a scoped target may hear of, widens nothing', async () => {
    const { h, slack, teama } = await app();
    const g = fleet([0, 2]);
    await runToEnd(h, g);
    assert.equal(slack().length, 1, 'the summary');
    assert.match(slack()[0]!, new RegExp(`${g.names[1]}[^"]*exit code 2`));
    assert.equal(teama().length, 1, 'the -a member on its own: teama may not show the group');

    const copies = [
      { groupId: g.groupId, members: [g.ids[0]], command: 'innocent' },
      { ...g.declaration, members: [g.ids[0]], targets: ['teama'] },
      { ...g.declaration, targets: ['teama'] },
    ];
    const outcomes = await Promise.all(copies.map((c) => h.invoke(c)));
    assert.equal(teama().length, 1, 'teama heard nothing of the group');
    assert.ok(!teama().some((p) => p.includes(g.names[1]!) || p.includes('innocent')));
    assert.equal(slack().length, 1, 'nothing again');
    assert.deepEqual(kinds(outcomes), ['poisoned', 'poisoned', 'poisoned']);
    const reasons = await poisonReasons(h);
    assert.equal(reasons.length, 3);
    for (const parts of ['members, command, context', 'members, targets', 'targets'])
      assert.ok(
        reasons.some((r) =>
          r.includes(`was recorded with other ${parts}: the first declaration recorded is the group`),
        ),
        reasons.join('\n'),
      );
    // An exact copy counts once: nothing is posted again, nothing poisoned.
    assert.equal((await h.invoke(g.declaration)).kind, 'notified');
    assert.equal(slack().length, 1);
  });

  it('a forged "could not start" hides no result: the tracking message wins, whenever it comes', async () => {
    const { h, slack } = await app();
    const g = fleet([1, 0]);
    await runToEnd(h, g, async () => {
      assert.equal((await h.invoke(g.notStarted(0, 'quota exceeded'))).kind, 'recorded');
    });
    assert.equal(slack().length, 1);
    assert.match(slack()[0]!, new RegExp(`${g.names[0]}[^"]*exit code 1`));
    assert.doesNotMatch(slack()[0]!, /could not start|quota/);
    // A word that a member did not start, after its tracking message came, is refused with the reason.
    assert.equal((await h.invoke(g.notStarted(1, 'quota exceeded'))).kind, 'poisoned');
    assert.match((await poisonReasons(h))[0]!, new RegExp(`tracks command ${g.commandIds[1]} on this cluster`));

    // Forged for both members before either result: the group ends with them as "could not start"; the real
    // results then come after its summary, and each is reported on its own.
    const g2 = fleet([1, 0]);
    assert.equal((await h.invoke(g2.declaration)).kind, 'requeued');
    for (const i of [0, 1]) assert.equal((await h.invoke(g2.notStarted(i, 'quota exceeded'))).kind, 'recorded');
    assert.equal((await h.invoke(chainOf(h, g2.groupId))).kind, 'notified');
    assert.equal(slack().length, 2);
    assert.match(slack()[1]!, /could not start/);
    assert.deepEqual(kinds([await h.invoke(g2.tracking(0)), await h.invoke(g2.tracking(1))]), ['notified', 'notified']);
    const own = slack().slice(2);
    assert.equal(own.length, 2, 'each member on its own');
    assert.ok(own.some((p) => p.includes(g2.commandIds[0]!) && /exit code 1/i.test(p)));
  });

  it('a target the group does not show hears of its member on its own, whatever a copy named', async () => {
    const { h, slack, teama } = await app();
    const g = fleet([0, 0]);
    let copied: MessageOutcome | undefined;
    await runToEnd(h, g, async () => {
      copied = await h.invoke({ ...g.declaration, members: [g.ids[0]], targets: ['teama'] });
    });
    assert.equal(slack().length, 1, 'the summary');
    assert.equal(teama().length, 1, "the -a member's own result");
    assert.ok(teama()[0]!.includes(g.commandIds[0]!));
    assert.equal(copied?.kind, 'poisoned');
  });
});

describe('healing a group', () => {
  it('redeliver --group sends its summary again; a Slack app target that failed for good is healed', async () => {
    const channel = `C${randomBytes(5).toString('hex').toUpperCase()}`;
    const token = `xoxb-${randomBytes(6).toString('hex')}-${randomBytes(10).toString('hex')}`;
    stack().slackApi.addBot(token, []);
    const { h, slack } = await app({
      NOTIFY_TARGETS: 'ops',
      NOTIFY_TARGET_OPS_KIND: 'slack-app',
      NOTIFY_TARGET_OPS_CHANNEL: channel,
      NOTIFY_TARGET_OPS_TOKEN: token,
      NOTIFY_DEFAULT_TARGETS: 'slack,ops',
    });
    const g = fleet([0, 3]);
    await runToEnd(h, g);
    const stores = openOperatorStores(h.env);
    const lines: string[] = [];
    const ops = () =>
      stack()
        .slackApi.inChannel(channel)
        .filter((m) => !m.threadTs);
    assert.equal(ops().length, 0, 'the bot is not in the channel: failed for good');
    assert.equal(slack().length, 1);

    // The summary request redeliver enqueued, until it is done (a channel's pace may defer it a little).
    const summaryRequested = async () => {
      for (;;) {
        const r = await h.pollOnce(15_000);
        assert.ok(r && r.text.includes('deliverSummary'), r?.text);
        if (r.outcome.kind !== 'deferred') return r.outcome;
      }
    };
    await h.main.clearMessages();
    stack().slackApi.invite(token, channel);
    assert.deepEqual(
      (await redeliverGroup(stores, { groupId: g.groupId, targets: ['ops'] }, (l) => lines.push(l))).targets,
      ['ops'],
    );
    assert.match(lines.join('\n'), /target ops: failed → pending/);
    assert.equal((await summaryRequested()).kind, 'notified');
    assert.equal(ops().length, 1, 'the summary, in the channel now');
    assert.match(JSON.stringify(ops()[0]!.blocks), new RegExp(`${g.names[1]}[^"]*exit code 3`));
    assert.equal(slack().length, 1, 'only the target named');

    // Every target, again, as redeliver does for a command: the webhook posts it again, the Slack app
    // updates its message in place.
    const versions = ops()[0]!.versions.length;
    await redeliverGroup(stores, { groupId: g.groupId }, () => undefined);
    assert.equal((await summaryRequested()).kind, 'notified');
    assert.equal(slack().length, 2);
    assert.equal(ops().length, 1);
    assert.equal(ops()[0]!.versions.length, versions + 1);

    await assert.rejects(
      redeliverGroup(stores, { groupId: randomUUID() }, () => undefined),
      /no settled summary for group/,
    );
  });

  it("the enqueue hint restores a member's tracking message exactly: group, targets, command, context", async () => {
    const { h } = await app();
    const { request, text } = buildMessage({
      cluster: idOf(unique('hint')),
      commandId: commandId(),
      command: `kubectl get pods -o jsonpath='{.items[*].metadata.name}' && echo "$HOME" \`id\``,
      targets: ['slack', 'teama'],
      context: ['requestedBy=alice@contoso.com', "link=https://ci.example.com/r?id=1&x='y' z"],
      groupId: randomUUID(),
    });
    const hint = enqueueCommandLine(request);
    // As a shell reads it when pasted.
    const words = execFileSync('bash', ['-c', `printf '%s\\0' ${hint}`])
      .toString('utf8')
      .split('\0')
      .slice(0, -1);
    assert.equal(words[0], 'aks-command-notifier');
    const saved = { ...process.env };
    Object.assign(process.env, h.env);
    try {
      await buildCli()
        .exitOverride()
        .parseAsync(['node', 'aks-command-notifier', ...words.slice(1)]);
    } finally {
      process.env = saved;
    }
    const [m] = (await h.main.peekMessages()).peekedMessageItems;
    assert.equal(m?.messageText, text);
  });
});
