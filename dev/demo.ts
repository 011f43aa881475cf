// `npm run demo` (`-- --slack-app` for the Slack app, `-- --teams-app` for the Teams app): the whole pipeline on this machine with no Azure
// account. Real code paths (DefaultAzureCredential against a managed identity endpoint, core-rest-pipeline
// over HTTPS, the queue SDK against Azurite, @slack/webhook) with stand-ins only on the far side of each
// wire. It lives in dev/ with the stand-ins it starts, so that neither ships: the packed CLI's `demo` only
// says to run it from a clone.
import { resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startStandIns, type StandIns } from './standIns';
import { providerFor } from '../src/notify/registry';
import { slackAsText } from '../src/notify/slack/blocks';
import { teamsAsText } from '../src/notify/teams/card';
import { CommandQueue, createQueueServiceClient } from '../src/queue/commandQueue';
import { buildMessage } from '../src/cli/enqueue';

const CLUSTER = {
  subscriptionId: '00000000-0000-0000-0000-000000000000',
  resourceGroupName: 'rg-platform',
  resourceName: 'aks-prod-weu',
};
const CLUSTER_ID = `/subscriptions/${CLUSTER.subscriptionId}/resourceGroups/${CLUSTER.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${CLUSTER.resourceName}`;

const say = (line: string) => console.log(`[demo] ${line}`);

// The demo runs `run` and `worker` as a pipeline and a developer would: the CLI from its source, under the
// loader this process started with (tsx).
const CLI = resolve(__dirname, '../src/cli/main.ts');

const appMessages = (s: StandIns) => s.slackApi.inChannel(APP_CHANNEL);
const isFinal = (blocks: unknown[] | undefined) => !JSON.stringify(blocks?.[0] ?? {}).includes('Running on');

/** Long enough logs that the message shows their end and the thread gets them whole. */
function rolloutEvents(): string {
  return Array.from(
    { length: 80 },
    (_, i) =>
      `${new Date(Date.UTC(2026, 10, 28, 9, 0, i)).toISOString()}  Normal  Pulling  pod/web-7f9c-${i % 3}  Pulling image "contoso.azurecr.io/shop/web:1.4.${i}"\n`,
  ).join('');
}

const APP_CHANNEL = 'C0DEM0CHAN1';
const APP_TOKEN = 'xoxb-demo-0000-not-a-real-token';
const TEAMS_CHANNEL = '19:demo0channel0000000000000000000@thread.tacv2';

export async function runDemo(
  timeoutSeconds = 90,
  options: { slackApp?: boolean; teamsApp?: boolean } = {},
): Promise<number> {
  const app = options.slackApp === true;
  const teamsApp = options.teamsApp === true;
  say(
    `on Node ${process.versions.node}: starting Azurite, a managed identity endpoint, an ARM stand-in (HTTPS) and ${app ? "Slack's Web API and a Teams receiver" : 'Slack/Teams receivers'} on 127.0.0.1`,
  );
  const s = await startStandIns();
  s.slackApi.addBot(APP_TOKEN, [APP_CHANNEL]);
  s.bot.addChannel(TEAMS_CHANNEL);
  const commands = [
    {
      id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
      command: 'kubectl get nodes',
      runSeconds: 6,
      result: {
        provisioningState: 'Succeeded',
        exitCode: 0,
        logs: 'NAME                                STATUS   ROLES   AGE   VERSION\naks-nodepool1-12345678-vmss000000   Ready    <none>  12d   v1.30.3\naks-nodepool1-12345678-vmss000001   Ready    <none>  12d   v1.30.3\n',
      },
    },
    {
      id: '0f9e8d7c6b5a49382716a5b4c3d2e1f0',
      command: 'kubectl rollout status deployment/web -n shop --timeout=60s',
      runSeconds: 9,
      result: {
        provisioningState: 'Succeeded',
        exitCode: 1,
        logs: `${app ? rolloutEvents() : ''}Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available...\nerror: timed out waiting for the condition\n`,
      },
    },
  ];
  let worker: ReturnType<typeof spawn> | undefined;
  try {
    for (const c of commands) s.arm.addCommand(CLUSTER, c.id, { runSeconds: c.runSeconds, result: c.result });
    // App modes: the Slack app target replaces the Slack webhook, the Teams app target the Teams webhook.
    const targets = [...(app ? ['slack-app'] : []), ...(teamsApp ? ['teams-app'] : [])];
    const appSettings = {
      ...(app ? { SLACK_WEBHOOK_URL: '' } : {}),
      ...(teamsApp ? { TEAMS_WEBHOOK_URL: '' } : {}),
      NOTIFY_TARGETS: targets.join(','),
      NOTIFY_TARGET_SLACK_APP_KIND: 'slack-app',
      NOTIFY_TARGET_SLACK_APP_CHANNEL: APP_CHANNEL,
      NOTIFY_TARGET_SLACK_APP_TOKEN: APP_TOKEN,
      NOTIFY_TARGET_TEAMS_APP_KIND: 'teams-app',
      NOTIFY_TARGET_TEAMS_APP_CHANNEL: TEAMS_CHANNEL,
      NOTIFY_TARGET_TEAMS_APP_SERVICE_URL: s.bot.url,
      NOTIFY_DEFAULT_TARGETS: `${app ? 'slack-app' : 'slack'},${teamsApp ? 'teams-app' : 'teams'}`,
    };
    const env = {
      ...process.env,
      // The demo is this machine's alone: never the azd environment of a deployment in this folder.
      AKS_NOTIFIER_NO_AZD_ENV: '1',
      ...s.env({
        POLL_INITIAL_DELAY_SECONDS: '2',
        POLL_MAX_DELAY_SECONDS: '10',
        ...(targets.length ? appSettings : {}),
      }),
    };
    const queue = CommandQueue.fromService(
      createQueueServiceClient({ connectionString: s.azurite.connectionString }),
      'aks-command-results',
    );
    for (const c of commands) {
      const { text } = buildMessage({
        cluster: CLUSTER_ID,
        commandId: c.id,
        command: c.command,
        context: ['requestedBy=release-pipeline'],
      });
      await queue.send(text);
      say(`enqueued ${c.id} (${c.command}); ARM will answer 202 for ${c.runSeconds}s`);
    }

    // The other way in: start a command as the caller and have it tracked, as a pipeline would.
    s.arm.addCluster(CLUSTER, {
      script: (body) => ({
        runSeconds: 4,
        result: {
          provisioningState: 'Succeeded',
          exitCode: 0,
          logs: `NAME    READY   STATUS\nweb-1   1/1     Running\n# ran: ${body.command}\n`,
        },
      }),
    });
    s.identity.claims.upn = 'dana@contoso.com';
    const runArgs = [
      'run',
      '--cluster',
      CLUSTER_ID,
      '--command',
      'kubectl get pods -n shop',
      '--context',
      'link=https://github.com/contoso/shop/actions/runs/42',
    ];
    say(`running: aks-command-notifier ${runArgs.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ')}`);
    const started = await new Promise<{ code: number | null; out: string }>((done) => {
      const child = spawn(process.execPath, [...process.execArgv, CLI, ...runArgs], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      createInterface({ input: child.stderr! }).on('line', (line) => console.log(`[run] ${line}`));
      child.on('exit', (code) => done({ code, out }));
    });
    if (started.code !== 0) {
      say(`FAILED: run exited with ${started.code}`);
      return 1;
    }
    const runId = /command id: (\w+)/.exec(started.out)?.[1] ?? '?';
    say(`run started ${runId} as dana@contoso.com (the command runs as the caller; the notifier only tracks it)`);
    commands.push({
      id: runId,
      command: 'kubectl get pods -n shop',
      runSeconds: 4,
      result: { provisioningState: 'Succeeded', exitCode: 0, logs: '' },
    });

    say('starting the worker (the same handler the Functions host runs)');
    worker = spawn(process.execPath, [...process.execArgv, CLI, 'worker', '--max-polling-interval-ms', '500'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [worker.stdout!, worker.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => console.log(`[worker] ${line}`));
    }
    const expected = commands.length * 2;
    const finalCards = () =>
      s.bot.inChannel(TEAMS_CHANNEL).filter((c) => !teamsAsText(c.versions.at(-1)).includes('Running on'));
    const arrived = () =>
      s.receivers.received.length +
      (app ? appMessages(s).filter((m) => isFinal(m.blocks)).length : 0) +
      finalCards().length;
    const deadline = Date.now() + timeoutSeconds * 1000;
    while (arrived() < expected && Date.now() < deadline && worker.exitCode === null) {
      await new Promise((r) => setTimeout(r, 200));
    }
    if (arrived() < expected) {
      say(`FAILED: ${arrived()} of ${expected} notifications arrived`);
      return 1;
    }
    for (const c of commands) {
      const reads = s.arm.readsFor(c.id);
      say(`${c.id}: ${reads.length} ARM reads (${reads.map((r) => r.status).join(' → ')})`);
    }
    for (const r of s.receivers.received) {
      console.log(`\n──── ${r.kind === 'slack' ? 'Slack' : 'Teams'} #${r.channel} (${r.bytes} bytes) ────`);
      // Each channel's own text rendering: the provider that received it says what the channel would show.
      console.log(providerFor(r.kind)!.asText(r.body));
    }
    for (const m of appMessages(s)) {
      const first = m.versions[0]!;
      console.log(
        `\n──── Slack app #${m.channel}, message ${m.ts}: ${m.versions.length === 1 ? 'posted final' : `posted while running, updated ${m.versions.length - 1}×`} ────`,
      );
      if (m.versions.length > 1) console.log(`(first) ${slackAsText(first).split('\n')[0]}\n(now)`);
      console.log(slackAsText(m));
      for (const f of m.files)
        console.log(`  ↳ thread: 📎 ${f.name} (${f.bytes.length} bytes, byte for byte ARM's logs)`);
    }
    for (const c of s.bot.inChannel(TEAMS_CHANNEL)) {
      console.log(
        `\n──── Teams app, card ${c.activityId}: ${c.versions.length === 1 ? 'posted final' : `posted while running, updated ${c.versions.length - 1}×`} ────`,
      );
      if (c.versions.length > 1) console.log(`(first) ${teamsAsText(c.versions[0]).split('\n')[0]}\n(now)`);
      console.log(teamsAsText(c.versions.at(-1)));
      if (c.replies.length)
        console.log(`  ↳ thread: ${c.replies.length} repl${c.replies.length === 1 ? 'y' : 'ies'} with the full logs`);
    }
    console.log('');
    const slackSide = app ? 'a live Slack app message' : 'Slack';
    const teamsSide = teamsApp ? 'a live Teams app card' : 'Teams';
    say(`done: ${expected} notifications (${commands.length} commands × ${slackSide} and ${teamsSide})`);
    return 0;
  } finally {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((r) => worker!.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
    await s.stop();
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--slack-app' && a !== '--teams-app');
  if (unknown.length > 0) {
    console.error(`error: unknown option ${unknown.join(' ')} (npm run demo [-- --slack-app] [--teams-app])`);
    process.exit(2);
  }
  runDemo(90, { slackApp: args.includes('--slack-app'), teamsApp: args.includes('--teams-app') }).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
