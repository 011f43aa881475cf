// A fleet run on a bad day: 25 clusters — 3 exit non-zero, 2 forbidden to start, 1 never finishes within
// its deadline — started by `run --wait` (the caller's identity, the ARM stand-in), tracked by a worker that
// is SIGKILLed 3 times while members are in flight. Counted as a user would: one summary per webhook target
// (a second only for a summary post in flight at a kill, and then logged), one live message per Slack app
// and Teams app target ending in a table that matches every member, `--wait`'s table and exit code the same,
// nothing lost, nothing counted twice, nothing poisoned.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ManagedIdentityCredential } from '@azure/identity';
import { QueueServiceClient } from '@azure/storage-queue';
import { prng } from '../../dev/prng';
import { runFleet } from '../../src/cli/fleet';
import { CLUSTER, setUpStack, stack, tearDownStack, unique } from '../support/stack';
import { RestartedWorker } from '../support/worker';

const KILLS = 3;
const SEED = Number(process.env.FAULT_SEED ?? 20261202);
// FLEET_TRACE=<file>: the CLI's lines as they come, for a run that does not end.
const trace = (line: string) => process.env.FLEET_TRACE && appendFileSync(process.env.FLEET_TRACE, `${line}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Kind = 'ok' | 'exit' | 'forbidden' | 'never';
const PLAN: Kind[] = [
  ...Array<Kind>(19).fill('ok'),
  ...Array<Kind>(3).fill('exit'),
  ...Array<Kind>(2).fill('forbidden'),
  'never',
];
/** What every summary must say of a member of that kind. */
const EXPECTED: Record<Kind, RegExp> = {
  ok: /succeeded/,
  exit: /exit code [2-4]/,
  forbidden: /could not start/,
  never: /still running at deadline/,
};

describe('fault injection, a fleet run', () => {
  before(async () => {
    await setUpStack();
    stack().identity.claims.upn = 'fleet@contoso.com';
  });
  after(tearDownStack);

  it(`25 clusters, ${KILLS} kills: one summary per target, each live message a final table that matches --wait`, async () => {
    const s = stack();
    const random = prng(SEED);
    // Shuffled, so that failures are spread through the declaration.
    const plan = [...PLAN].sort(() => random() - 0.5);
    const prefix = unique('fk');
    const names = plan.map((_, i) => `${prefix}-${String(i).padStart(2, '0')}`);
    const ids = names.map((name) => {
      const c = { ...CLUSTER, resourceName: name };
      return `/subscriptions/${c.subscriptionId}/resourceGroups/${c.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${name}`;
    });
    plan.forEach((kind, i) => {
      const c = { ...CLUSTER, resourceName: names[i]! };
      if (kind === 'forbidden')
        s.arm.addCluster(c, {
          runCommandError: { status: 403, code: 'AuthorizationFailed', message: 'no runcommand/action here' },
        });
      else
        s.arm.addCluster(c, {
          script: () => ({
            runSeconds: kind === 'never' ? 3600 : 2 + random() * 20,
            result: {
              provisioningState: 'Succeeded',
              exitCode: kind === 'exit' ? 2 + (i % 3) : 0,
              logs: kind === 'exit' ? `applying\nerror: ${names[i]} <!channel> broke\n` : 'ok\n',
            },
          }),
        });
    });

    const slackChannel = `C${randomBytes(5).toString('hex').toUpperCase()}`;
    const teamsChannel = `19:${randomBytes(16).toString('hex')}@thread.tacv2`;
    const token = `xoxb-${randomBytes(6).toString('hex')}-${randomBytes(10).toString('hex')}`;
    const bot = s.slackApi.addBot(token, [slackChannel]);
    s.bot.addChannel(teamsChannel);
    const hook = unique('fleethook');
    const queueName = unique('fleetfaults');
    const env = s.env({
      COMMAND_QUEUE_NAME: queueName,
      SLACK_WEBHOOK_URL: s.receivers.urlFor('slack', hook),
      TEAMS_WEBHOOK_URL: s.receivers.urlFor('teams', hook),
      NOTIFY_TARGETS: 'ops,tops',
      NOTIFY_TARGET_OPS_KIND: 'slack-app',
      NOTIFY_TARGET_OPS_CHANNEL: slackChannel,
      NOTIFY_TARGET_OPS_TOKEN: token,
      NOTIFY_TARGET_TOPS_KIND: 'teams-app',
      NOTIFY_TARGET_TOPS_CHANNEL: teamsChannel,
      NOTIFY_TARGET_TOPS_SERVICE_URL: s.bot.url,
      NOTIFY_DEFAULT_TARGETS: 'slack,teams,ops,tops',
      POLL_TIMEOUT_MINUTES: '1',
      POLL_INITIAL_DELAY_SECONDS: '1',
      POLL_MAX_DELAY_SECONDS: '3',
      ARM_TIMEOUT_SECONDS: '2',
      WEBHOOK_TIMEOUT_SECONDS: '2',
    });
    const queues = QueueServiceClient.fromConnectionString(s.azurite.connectionString);
    await queues.getQueueClient(queueName).createIfNotExists();
    await queues.getQueueClient(`${queueName}-poison`).createIfNotExists();
    const worker = new RestartedWorker(env, ['--lease-seconds', '4', '--visibility-timeout-seconds', '1']);
    const started = Date.now();

    const out: string[] = [];
    const err: string[] = [];
    const run = runFleet(
      { command: 'kubectl get deploy -A', output: 'text', clusters: ids, wait: true },
      // The CLI's ARM calls get 10 s: its starts are not what this run tests (its kills are the worker's),
      // and at 2 s, on 2 loaded cores, a clean-clone run had three clusters "could not start: could not
      // read the cluster: ARM did not answer in time".
      { ...env, ARM_TIMEOUT_SECONDS: '10' },
      { out: (l) => out.push(l), err: (l) => (err.push(l), trace(l)), sleep },
      { interactive: false, confirm: async () => false },
      () => new ManagedIdentityCredential(),
    );
    const tracer = process.env.FLEET_TRACE
      ? setInterval(() => {
          const reads = s.arm.requests.filter((r) => r.method === 'GET');
          trace(
            `# arm GETs ${reads.length}, last ${JSON.stringify(reads.at(-1))?.slice(0, 300)}; slack calls ${s.slackApi.calls.length}; bot calls ${s.bot.calls.length}; hook ${s.receivers.for('slack', hook).length}`,
          );
        }, 5000)
      : undefined;
    // Kills while members are polled, each within 2 s of a Slack or Teams app call in flight.
    const inFlight = () =>
      s.slackApi.calls.some((c) => c.channel === slackChannel && Date.now() - c.at < 350) ||
      s.bot.calls.some((c) => c.channel === teamsChannel && Date.now() - c.at < 350);
    for (let k = 0; k < KILLS; k++) {
      await sleep(5000 + random() * 8000);
      for (let i = 0; i < 100 && !inFlight(); i++) await sleep(20);
      await worker.kill();
    }
    const code = await run;

    const summaryDone = /25 of 25 done/;
    const webhook = (kind: 'slack' | 'teams') => s.receivers.for(kind, hook).map((r) => JSON.stringify(r.body));
    const live = () => s.slackApi.inChannel(slackChannel).filter((m) => !m.threadTs && m.botId === bot.botId);
    const cards = () => s.bot.inChannel(teamsChannel);
    const finished = () =>
      webhook('slack').some((b) => summaryDone.test(b)) &&
      webhook('teams').some((b) => summaryDone.test(b)) &&
      live().some((m) => summaryDone.test(JSON.stringify(m.blocks))) &&
      cards().some((c) => summaryDone.test(JSON.stringify(c.versions.at(-1))));
    const deadline = Date.now() + 240_000;
    while (Date.now() < deadline && !finished()) await sleep(500);
    await sleep(3000); // a late duplicate would show here
    await worker.stop();
    clearInterval(tracer);
    const { lines, kills } = worker;
    const groupId = /fleet run ([0-9a-f-]{36})/.exec(err.join('\n'))?.[1] ?? '?';

    // Each table, as the cluster's outcome in words.
    const rowsOf = (text: string) =>
      new Map(
        names.map((n) => [
          n,
          new RegExp(
            `${n}[^\\n]*?(succeeded|exit code \\d|could not start|still running at deadline|start unknown|running|not found|result forbidden|failed)`,
          ).exec(text)?.[1] ?? 'missing',
        ]),
      );
    const mismatches = (where: string, text: string) =>
      [...rowsOf(text)]
        .filter(([n, said]) => !EXPECTED[plan[names.indexOf(n)]!].test(said))
        .map(([n, said]) => `${where}: ${n} is "${said}", expected ${plan[names.indexOf(n)]}`);
    // The message that ended as the summary (a second one exists only after a first post in doubt).
    const slackLive = live().find((m) => summaryDone.test(JSON.stringify(m.blocks))) ?? live()[0];
    const teamsLive = cards().find((c) => summaryDone.test(JSON.stringify(c.versions.at(-1)))) ?? cards()[0];
    const slackFinal = slackLive ? [JSON.stringify(slackLive.blocks).replace(/\\n/g, '\n')] : [];
    const teamsFinal = teamsLive ? [JSON.stringify(teamsLive.versions.at(-1))] : [];
    const wrong = [
      ...mismatches('--wait', out.join('\n')),
      ...(slackFinal[0] ? mismatches('slack app', slackFinal[0]) : ['slack app: no message']),
      ...(teamsFinal[0] ? mismatches('teams app', teamsFinal[0]) : ['teams app: no card']),
      ...(['slack', 'teams'] as const).flatMap((k) => {
        const summary = webhook(k).find((b) => summaryDone.test(b));
        return summary ? mismatches(`${k} webhook`, summary.replace(/\\n/g, '\n')) : [`${k} webhook: no summary`];
      }),
    ];
    const doubts = lines.filter(
      (l) => l.includes(groupId) && /ended without a record|may have arrived|may show/.test(l),
    );
    const firstPostInDoubt = (target: string) =>
      lines.some(
        (l) => l.includes(groupId) && l.includes(`target ${target}: the last delivery attempt ended without a record`),
      );
    const poison = await queues.getQueueClient(`${queueName}-poison`).peekMessages({ numberOfMessages: 32 });
    const report = {
      clusters: plan.length,
      kills: kills.length,
      seconds: Math.round((Date.now() - started) / 1000),
      exit_code: code,
      webhook_posts_slack: webhook('slack').length,
      webhook_posts_teams: webhook('teams').length,
      slack_app_messages: live().length,
      slack_app_versions: slackLive?.versions.length ?? 0,
      teams_app_cards: cards().length,
      teams_app_versions: teamsLive?.versions.length ?? 0,
      summary_posts_in_doubt_logged: doubts.length,
      live_first_post_in_doubt: ['ops', 'tops'].filter(firstPostInDoubt),
      members_wrong: wrong,
      progress: out.at(-1),
      poisoned: poison.peekedMessageItems.length,
    };
    console.log('\nFleet fault run:', JSON.stringify(report, null, 2));
    mkdirSync('.tmp', { recursive: true });
    writeFileSync('.tmp/fault-report-fleet.json', JSON.stringify(report, null, 2));
    // Every worker line and the CLI's, for a look after a failure.
    writeFileSync('.tmp/fault-lines-fleet.log', [...lines, '# the CLI', ...err, ...out].join('\n'));

    const said = `\n${JSON.stringify(report, null, 2)}\n${err.slice(-20).join('\n')}`;
    assert.equal(kills.length, KILLS);
    assert.equal(code, 1, `a member exited non-zero: exit 1${said}`);
    assert.equal(out.at(-1), '25 of 25 done: 19 ✅ 3 ❌ 2 could not start 1 still running at deadline', said);
    assert.deepEqual(wrong, [], `every table says what became of every member${said}`);
    for (const kind of ['slack', 'teams'] as const) {
      const posts = webhook(kind);
      assert.ok(
        posts.every((b) => summaryDone.test(b)),
        `only the group's summary, no member's own${said}`,
      );
      assert.ok(
        posts.length === 1 || posts.length - 1 <= doubts.length,
        `one summary per webhook target, a second only for a post in doubt${said}`,
      );
    }
    // One live message, updated in place: a running message, then the final table. When a kill left its
    // first post in doubt, nobody posts under the dead holder's claim until its lease (52 s for Teams, 34 s
    // for Slack) ends, which may be after the one-minute group: the final is then a post of its own, and
    // where the channel cannot be searched (Teams) the first post, if it arrived, stays as a second message,
    // its doubt logged. Both seen on 2 loaded cores (one run in twelve, and the first clean-clone CI run).
    for (const [name, messages, versions] of [
      ['ops', report.slack_app_messages, report.slack_app_versions],
      ['tops', report.teams_app_cards, report.teams_app_versions],
    ] as const) {
      const doubt = firstPostInDoubt(name);
      assert.ok(messages === 1 || (messages === 2 && doubt), `one live message for ${name}${said}`);
      assert.ok(versions >= 2 || (versions === 1 && doubt), `${name}'s message updated in place${said}`);
    }
    assert.equal(report.poisoned, 0, `nothing poisoned${said}`);
    for (const line of [...lines, ...err, ...out]) assert.ok(!line.includes(token), `a log line leaks the token`);
  });
});
