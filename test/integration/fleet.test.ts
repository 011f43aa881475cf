// A fleet run end to end, in this process: `run` on several clusters (the caller's identity, the ARM
// stand-in with its Resource Graph route, Azurite's queue), then the handler drains the queue — the group's
// declaration, its members' tracking messages, the word of a member not started — until the group's
// summary is posted: once per webhook target, with no member's own notification.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManagedIdentityCredential } from '@azure/identity';
import { runFleet, type FleetInput } from '../../src/cli/fleet';
import { RunError } from '../../src/cli/io';
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
});
