// `aks-command-notifier demo`: the whole pipeline on this machine with no Azure account. Real code paths
// (DefaultAzureCredential against a managed identity endpoint, core-rest-pipeline over HTTPS, the queue
// SDK against Azurite, @slack/webhook) with stand-ins only on the far side of each wire.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startStandIns } from '../dev/standIns';
import { slackAsText } from '../notify/slack/blocks';
import { teamsAsText } from '../notify/providers/teams';
import { CommandQueue, createQueueServiceClient } from '../queue/storage';
import { buildMessage } from './enqueue';

const CLUSTER = { subscriptionId: '00000000-0000-0000-0000-000000000000', resourceGroupName: 'rg-platform', resourceName: 'aks-prod-weu' };
const CLUSTER_ID = `/subscriptions/${CLUSTER.subscriptionId}/resourceGroups/${CLUSTER.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${CLUSTER.resourceName}`;

const say = (line: string) => console.log(`[demo] ${line}`);

export async function runDemo(timeoutSeconds = 90): Promise<number> {
  say('starting Azurite, a managed identity endpoint, an ARM stand-in (HTTPS) and Slack/Teams receivers on 127.0.0.1');
  const s = await startStandIns();
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
        logs: 'Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available...\nerror: timed out waiting for the condition\n',
      },
    },
  ];
  let worker: ReturnType<typeof spawn> | undefined;
  try {
    for (const c of commands) s.arm.addCommand(CLUSTER, c.id, { runSeconds: c.runSeconds, result: c.result });
    const env = { ...process.env, ...s.env({ POLL_INITIAL_DELAY_SECONDS: '2', POLL_MAX_DELAY_SECONDS: '10' }) };
    const queue = CommandQueue.fromService(createQueueServiceClient({ connectionString: s.azurite.connectionString }), 'aks-command-results');
    for (const c of commands) {
      const { text } = buildMessage({ cluster: CLUSTER_ID, commandId: c.id, command: c.command, context: ['requestedBy=release-pipeline'] });
      await queue.send(text);
      say(`enqueued ${c.id} (${c.command}); ARM will answer 202 for ${c.runSeconds}s`);
    }

    // The other way in: start a command as the caller and have it tracked, as a pipeline would.
    s.arm.addCluster(CLUSTER, { script: (body) => ({ runSeconds: 4, result: { provisioningState: 'Succeeded', exitCode: 0, logs: `NAME    READY   STATUS\nweb-1   1/1     Running\n# ran: ${body.command}\n` } }) });
    s.identity.claims.upn = 'dana@contoso.com';
    const runArgs = ['run', '--cluster', CLUSTER_ID, '--command', 'kubectl get pods -n shop', '--context', 'link=https://github.com/contoso/shop/actions/runs/42'];
    say(`running: aks-command-notifier ${runArgs.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ')}`);
    const started = await new Promise<{ code: number | null; out: string }>((done) => {
      const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...runArgs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
    commands.push({ id: runId, command: 'kubectl get pods -n shop', runSeconds: 4, result: { provisioningState: 'Succeeded', exitCode: 0, logs: '' } });

    say('starting the worker (the same handler the Functions host runs)');
    worker = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'worker', '--max-polling-interval-ms', '500'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [worker.stdout!, worker.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => console.log(`[worker] ${line}`));
    }
    const expected = commands.length * 2;
    const deadline = Date.now() + timeoutSeconds * 1000;
    while (s.receivers.received.length < expected && Date.now() < deadline && worker.exitCode === null) {
      await new Promise((r) => setTimeout(r, 200));
    }
    if (s.receivers.received.length < expected) {
      say(`FAILED: ${s.receivers.received.length} of ${expected} notifications arrived`);
      return 1;
    }
    for (const c of commands) {
      const reads = s.arm.readsFor(c.id);
      say(`${c.id}: ${reads.length} ARM reads (${reads.map((r) => r.status).join(' → ')})`);
    }
    for (const r of s.receivers.received) {
      console.log(`\n──── ${r.kind === 'slack' ? 'Slack' : 'Teams'} #${r.channel} (${r.bytes} bytes) ────`);
      console.log(r.kind === 'slack' ? slackAsText(r.body) : teamsAsText(r.body));
    }
    console.log('');
    say(`done: ${expected} notifications (${commands.length} commands × Slack and Teams)`);
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
