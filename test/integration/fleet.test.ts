// A fleet run end to end, in this process: `run` on several clusters (the caller's identity, the ARM
// stand-in with its Resource Graph route, Azurite's queue), then the handler drains the queue — the group's
// declaration, its members' tracking messages, the word of a member not started — until the group's
// summary is posted: once per webhook target, with no member's own notification; on the live channels
// (Slack app, Teams app) one message posted at the start and updated in place to the final table, the
// failed members' logs in its thread; a target with _EACH=true hears of each member too.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ManagedIdentityCredential } from '@azure/identity';
import { runFleet, type FleetInput } from '../../src/cli/fleet';
import { RunError } from '../../src/cli/io';
import { openOperatorStores } from '../../src/cli/operator';
import { status } from '../../src/cli/status';
import { CLUSTER, harness, setUpStack, stack, tearDownStack, unique, type Harness } from '../support/stack';

let work: string;
before(async () => {
  await setUpStack();
  stack().identity.claims.upn = 'alice@contoso.com';
  work = mkdtempSync(join(tmpdir(), 'fleet-'));
});
after(async () => {
  rmSync(work, { recursive: true, force: true });
  await tearDownStack();
});

type Script = Parameters<ReturnType<typeof stack>['arm']['addCluster']>[1];

function fleetOf(prefix: string, scripts: Script[]) {
  return scripts.map((script, i) => {
    const c = { ...CLUSTER, resourceName: `${prefix}-${i + 1}` };
    stack().arm.addCluster(c, script);
    return `/subscriptions/${c.subscriptionId}/resourceGroups/${c.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${c.resourceName}`;
  });
}

const ok: Script = {
  script: () => ({ runSeconds: 1, result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'fine\n' } }),
};
const exits = (code: number): Script => ({
  script: () => ({
    runSeconds: 1,
    result: { provisioningState: 'Succeeded', exitCode: code, logs: `step 1\nerror: it broke (${code})\n` },
  }),
});
const slowly = (seconds: number): Script => ({
  script: () => ({ runSeconds: seconds, result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'slow\n' } }),
});
const forbidden: Script = {
  runCommandError: { status: 403, code: 'AuthorizationFailed', message: 'no runcommand/action' },
};

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      out: (l: string) => out.push(l),
      err: (l: string) => err.push(l),
      sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
    },
  };
}

const terminal = (answer: boolean | undefined) => ({
  interactive: answer !== undefined,
  asked: [] as string[],
  async confirm(q: string) {
    this.asked.push(q);
    return answer === true;
  },
});

function fleet(
  h: Harness,
  input: Omit<FleetInput, 'command' | 'output'> & { command?: string; output?: 'text' | 'json' },
  answer?: boolean,
) {
  const t = terminal(answer);
  const printed = io();
  const run = runFleet(
    { command: 'kubectl get nodes', output: 'text', ...input },
    h.env,
    printed.io,
    t,
    () => new ManagedIdentityCredential(),
  );
  return { run, printed, terminal: t };
}

/** Runs the handler on the queue until it is empty for a while. */
async function drain(h: Harness, quietMs = 6000): Promise<void> {
  let quietSince = Date.now();
  while (Date.now() - quietSince < quietMs) {
    const r = await h.pollOnce(500);
    if (r) quietSince = Date.now();
  }
}

describe('fleet run', () => {
  it('one summary per webhook target, no member notified on its own, and the table matches --wait', async () => {
    const h = await harness({ POLL_TIMEOUT_MINUTES: '1' });
    const ids = fleetOf(unique('fl'), [ok, ok, exits(3), forbidden]);
    const { run, printed } = fleet(h, { clusters: ids, wait: true });
    const worker = (async () => {
      for (let i = 0; i < 200 && stack().receivers.for('slack', h.channel).length === 0; i++) await h.pollOnce(300);
    })();
    const code = await run;
    await worker;
    await drain(h, 3000);
    assert.equal(code, 1, printed.err.join('\n'));
    const slack = stack().receivers.for('slack', h.channel);
    const teams = stack().receivers.for('teams', h.channel);
    assert.equal(slack.length, 1, JSON.stringify(slack.map((s) => s.body)));
    assert.equal(teams.length, 1);
    const slackText = JSON.stringify(slack[0]!.body);
    assert.match(slackText, /Failed on 1 of 4 clusters/);
    assert.match(slackText, /4 of 4 done: 2 ✅ 1 ❌ 1 could not start/);
    for (const name of ids.map((id) => id.split('/').pop()!)) assert.ok(slackText.includes(name), name);
    assert.match(JSON.stringify(teams[0]!.body), /error: it broke \(3\)/);
    // --wait's table: the same members, the same outcomes.
    const table = printed.out.join('\n');
    assert.match(table, /CLUSTER\s+OUTCOME\s+EXIT/);
    assert.match(table, new RegExp(`${ids[2]!.split('/').pop()}\\s+exit code 3\\s+3`));
    assert.match(table, new RegExp(`${ids[3]!.split('/').pop()}\\s+could not start`));
    assert.equal(await h.poison.peekMessages().then((p) => p.peekedMessageItems.length), 0);
    // status: the group's deliveries, and no member row taken for one.
    const r = await status(openOperatorStores(h.env), { poison: 10, deliveries: 50, windowHours: 1 });
    const groupId = /fleet run ([0-9a-f-]{36})/.exec(printed.err.join('\n'))![1];
    const ours = r.deliveries.filter((d) => d.commandId === groupId);
    assert.deepEqual(ours.map((d) => [d.cluster, d.target, d.state]).sort(), [
      ['fleet', 'slack', 'delivered'],
      ['fleet', 'teams', 'delivered'],
    ]);
  });

  it('--clusters and --graph-query choose the clusters; over 10 from a file needs --yes without a terminal', async () => {
    const h = await harness();
    const ids = fleetOf(
      unique('sel'),
      Array.from({ length: 12 }, () => ok),
    );
    const file = join(work, 'clusters.txt');
    writeFileSync(file, `# production\n${ids.join('\n')}\n\n${ids[0]}\n`);
    const refused = fleet(h, { clustersFile: file });
    await assert.rejects(refused.run, (e: RunError) => e.exitCode === 2 && /pass --yes/.test(e.message));
    assert.equal((await h.main.peekMessages()).peekedMessageItems.length, 0, 'nothing enqueued');

    const declined = fleet(h, { clustersFile: file }, false);
    await assert.rejects(declined.run, /not confirmed/);
    assert.match(declined.terminal.asked[0]!, /12 clusters/);

    const dry = fleet(h, { clustersFile: file, dryRun: true });
    assert.equal(await dry.run, 0);
    assert.deepEqual(dry.printed.out, ids);

    stack().arm.graph.pageSize = 5;
    stack().arm.graph.select = () => ids.slice(0, 7);
    const queried = fleet(h, { graphQuery: "resources | where tags.env == 'prod'", dryRun: true, output: 'json' });
    assert.equal(await queried.run, 0);
    assert.deepEqual(JSON.parse(queried.printed.out[0]!).clusters, ids.slice(0, 7));
    const asked = stack().arm.graphQueries.at(-1)!;
    assert.match(
      asked,
      /^resources \| where tags\.env == 'prod'\n\| where type =~ 'microsoft\.containerservice\/managedclusters'\n\| project id$/,
    );
    assert.equal(stack().arm.graphQueries.length, 2, 'two pages');
    stack().arm.graph.select = undefined;
    stack().arm.graph.pageSize = 1000;
  });

  it('live channels: one message per Slack app and Teams app target, updated in place to the table, failed logs in its thread; _EACH=true hears of each member too', async () => {
    const slackChannel = `C${randomBytes(5).toString('hex').toUpperCase()}`;
    const teamsChannel = `19:${randomBytes(8).toString('hex')}@thread.tacv2`;
    const token = `xoxb-${randomBytes(6).toString('hex')}-${randomBytes(10).toString('hex')}`;
    stack().slackApi.addBot(token, [slackChannel]);
    stack().bot.addChannel(teamsChannel);
    const hookChannel = unique('each');
    const h = await harness({
      POLL_TIMEOUT_MINUTES: '1',
      SLACK_WEBHOOK_URL: '',
      TEAMS_WEBHOOK_URL: '',
      NOTIFY_TARGETS: 'ops,tops,each',
      NOTIFY_TARGET_OPS_KIND: 'slack-app',
      NOTIFY_TARGET_OPS_CHANNEL: slackChannel,
      NOTIFY_TARGET_OPS_TOKEN: token,
      NOTIFY_TARGET_TOPS_KIND: 'teams-app',
      NOTIFY_TARGET_TOPS_CHANNEL: teamsChannel,
      NOTIFY_TARGET_TOPS_SERVICE_URL: stack().bot.url,
      NOTIFY_TARGET_EACH_KIND: 'slack',
      NOTIFY_TARGET_EACH_URL: stack().receivers.urlFor('slack', hookChannel),
      NOTIFY_TARGET_EACH_EACH: 'true',
      NOTIFY_DEFAULT_TARGETS: 'ops,tops,each',
    });
    const ids = fleetOf(unique('live'), [ok, slowly(8), exits(4), forbidden]);
    const names = ids.map((id) => id.split('/').pop()!);
    const { run, printed } = fleet(h, { clusters: ids });
    assert.equal(await run, 3, 'one could not start, nothing followed');
    assert.match(printed.out.join('\n'), /3 of 4 started/);

    const slackMessages = () =>
      stack()
        .slackApi.inChannel(slackChannel)
        .filter((m) => !m.threadTs);
    const teamsCards = () => stack().bot.inChannel(teamsChannel);
    const finalHeader = /Failed on 1 of 4 clusters/;
    const slackHeader = (blocks?: unknown[]) => JSON.stringify(blocks?.[0] ?? '');
    for (let i = 0; i < 120 && !finalHeader.test(slackHeader(slackMessages()[0]?.blocks)); i++) await h.pollOnce(500);
    await drain(h, 3000);

    // Slack app: one message, posted while members ran, updated in place to the table; the logs in its thread.
    const [live, ...others] = slackMessages();
    assert.equal(
      others.length,
      0,
      `one message per group and channel: ${slackMessages()
        .map((m) => slackHeader(m.versions[0]!.blocks) + ' → ' + slackHeader(m.blocks))
        .join(' | ')}`,
    );
    assert.match(slackHeader(live!.versions[0]!.blocks), /Running on 4 clusters/);
    assert.ok(live!.versions.length >= 3, `posted, updated as members finished, finished: ${live!.versions.length}`);
    assert.ok(
      live!.versions.some((v) => /[123] of 4 done/.test(JSON.stringify(v.blocks))),
      'a progress line while members ran',
    );
    const table = JSON.stringify(live!.blocks);
    assert.match(slackHeader(live!.blocks), finalHeader);
    assert.match(table, /4 of 4 done: 2 ✅ 1 ❌ 1 could not start/);
    for (const name of names) assert.ok(table.includes(name), name);
    assert.match(table, new RegExp(`${names[2]}\\s+exit code 4\\s+\\S+\\s+error: it broke`));
    assert.equal(live!.files.length, 1, "the failed members' logs, one file in the thread");
    assert.match(live!.files[0]!.bytes.toString('utf8'), /error: it broke \(4\)/);

    // Teams app: one card, updated in place; the failed member's logs in replies.
    const [card, ...moreCards] = teamsCards();
    assert.equal(moreCards.length, 0, 'one card per group and channel');
    assert.match(JSON.stringify(card!.versions[0]), /Running on 4 clusters/);
    assert.match(JSON.stringify(card!.versions.at(-1)), finalHeader);
    for (const name of names) assert.ok(JSON.stringify(card!.versions.at(-1)).includes(name), name);
    assert.ok(card!.replies.length >= 1);
    assert.match(JSON.stringify(card!.replies), /error: it broke \(4\)/);

    // _EACH=true: the summary, and each member that ran on its own (the one not started has no result).
    const each = stack()
      .receivers.for('slack', hookChannel)
      .map((r) => JSON.stringify(r.body));
    assert.equal(each.filter((b) => /4 of 4 done/.test(b)).length, 1, 'one summary');
    assert.equal(each.length, 4, each.join('\n'));
    for (const name of [names[0]!, names[1]!, names[2]!])
      assert.equal(each.filter((b) => !/of 4 done/.test(b) && b.includes(name)).length, 1, name);
    assert.equal(await h.poison.peekMessages().then((p) => p.peekedMessageItems.length), 0);
  });
});
