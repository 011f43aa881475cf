// A scale-out load, for the test (test/scale/) and the bench alike: N worker processes on one queue, as
// Flex Consumption runs N instances, against an ARM stand-in that enforces one subscription-wide read
// bucket and a Slack API stand-in that enforces its per-channel rate. Commands that run for a while report
// to a webhook target; a burst of commands already done reports to one Slack app channel. What it measures
// is what the issue asks of the app: reads answered 429, posts answered 429, the lag from a command's end
// to its notification, each command's worst wait past a due poll, and that each result arrived once.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { QueueClient } from '@azure/storage-queue';
import type { StandIns } from './standIns';

export interface ScaleLoadOptions {
  instances: number;
  /** Commands reporting to the webhook target, each running a time drawn from runSeconds. */
  commands: number;
  runSeconds: [number, number];
  /** Commands already done, reporting to the Slack app channel all at once. */
  slackBurst: number;
  /** ARM's subscription read bucket, and the app's (ARM_READ_BURST, ARM_READS_PER_SECOND). */
  armBucket: { burst: number; perSecond: number };
  appBudget: { burst: number; perSecond: number };
  /** How a worker is started: the bundle (bench) or the sources through tsx (tests). */
  worker: 'bundle' | 'sources';
  timeoutMs: number;
  random?: () => number;
  say?: (line: string) => void;
  /** Writes every worker line here (for a look after a failure). */
  linesFile?: string;
}

export interface ScaleLoadResult {
  instances: number;
  reads: number;
  readsThrottled: number;
  throttledShare: number;
  posts: number;
  postsThrottled: number;
  postsThrottledShare: number;
  /** Seconds from a command's end to its notification. */
  lagP50: number;
  lagP95: number;
  /** Per command, its longest wait past a due poll (s): the median and the worst. */
  waitMedian: number;
  waitWorst: number;
  /** Seconds from the start until every result had arrived. */
  allKnownAfter: number;
  /** Results that arrived more than once, and not at all. */
  duplicates: number;
  missing: number;
  /** The commands whose result never arrived, and every worker line that names one of them. */
  missingIds: string[];
  missingLines: string[];
  workerErrors: string[];
}

const SUB = '0000aaaa-0000-0000-0000-00000000000a';
const CLUSTER = { subscriptionId: SUB, resourceGroupName: 'rg-scale', resourceName: 'aks-scale' };
const CLUSTER_ID = `/subscriptions/${SUB}/resourceGroups/rg-scale/providers/Microsoft.ContainerService/managedClusters/aks-scale`;
const ROOT = resolve(__dirname, '..');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const round1 = (x: number) => Math.round(x * 10) / 10;

function startWorker(kind: ScaleLoadOptions['worker'], env: Record<string, string>): ChildProcess {
  const args =
    kind === 'bundle'
      ? [resolve(ROOT, 'dist/cli.js'), 'worker']
      : ['--import', 'tsx', resolve(ROOT, 'src/cli/main.ts'), 'worker'];
  return spawn(process.execPath, [...args, '--max-polling-interval-ms', '200'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export async function runScaleLoad(s: StandIns, o: ScaleLoadOptions): Promise<ScaleLoadResult> {
  const random = o.random ?? Math.random;
  const tag = randomBytes(3).toString('hex');
  const queueName = `scale-${o.instances}-${tag}`;
  const hookChannel = `scale-${tag}`;
  const slackChannel = `CSCALE${tag.toUpperCase()}`;
  const token = `xoxb-scale-${randomBytes(8).toString('hex')}`;
  s.slackApi.addBot(token, [slackChannel]);
  const env = s.env({
    COMMAND_QUEUE_NAME: queueName,
    SLACK_WEBHOOK_URL: '',
    TEAMS_WEBHOOK_URL: '',
    NOTIFY_TARGETS: 'hook,app',
    NOTIFY_DEFAULT_TARGETS: 'hook',
    NOTIFY_TARGET_HOOK_KIND: 'slack',
    NOTIFY_TARGET_HOOK_URL: s.receivers.urlFor('slack', hookChannel),
    NOTIFY_TARGET_APP_KIND: 'slack-app',
    NOTIFY_TARGET_APP_CHANNEL: slackChannel,
    NOTIFY_TARGET_APP_TOKEN: token,
    POLL_INITIAL_DELAY_SECONDS: '2',
    POLL_MAX_DELAY_SECONDS: '10',
    WEBHOOK_TIMEOUT_SECONDS: '5',
    // As infra sets it: the most instances that run.
    MAX_INSTANCE_COUNT: String(o.instances),
    ARM_READ_BURST: String(o.appBudget.burst),
    ARM_READS_PER_SECOND: String(o.appBudget.perSecond),
  });
  const queue = new QueueClient(env.AzureWebJobsStorage!, queueName);
  await queue.createIfNotExists();

  const finishAt = new Map<string, number>();
  const slackIds: string[] = [];
  const ids: string[] = [];
  const started = Date.now();
  for (let i = 0; i < o.commands; i++) {
    const id = `scale${tag}${String(i).padStart(4, '0')}`;
    const run = o.runSeconds[0] + random() * (o.runSeconds[1] - o.runSeconds[0]);
    s.arm.addCommand(CLUSTER, id, {
      runSeconds: run,
      result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'ok' },
    });
    finishAt.set(id, started + run * 1000);
    ids.push(id);
  }
  for (let i = 0; i < o.slackBurst; i++) {
    const id = `burst${tag}${String(i).padStart(4, '0')}`;
    s.arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'ok' } });
    slackIds.push(id);
  }
  const all = new Set([...ids, ...slackIds]);
  const requestsBefore = s.arm.requests.length;
  const slackCallsBefore = s.slackApi.calls.length;
  s.arm.readBucket = o.armBucket;

  const lines: string[] = [];
  const workers = Array.from({ length: o.instances }, () => {
    const w = startWorker(o.worker, env);
    for (const stream of [w.stdout!, w.stderr!]) createInterface({ input: stream }).on('line', (l) => lines.push(l));
    return w;
  });
  const exited = workers.map((w) => new Promise((r) => w.once('exit', r)));
  try {
    const messages = [
      ...ids.map((id) => ({ clusterResourceId: CLUSTER_ID, commandId: id })),
      ...slackIds.map((id) => ({ clusterResourceId: CLUSTER_ID, commandId: id, targets: ['app'] })),
    ];
    for (let i = 0; i < messages.length; i += 50)
      await Promise.all(messages.slice(i, i + 50).map((m) => queue.sendMessage(JSON.stringify(m))));

    const hookArrivals = () => {
      const at = new Map<string, number[]>();
      for (const r of s.receivers.received) {
        if (r.channel !== hookChannel) continue;
        const text = JSON.stringify(r.body);
        const id = /scale[0-9a-f]{6}\d{4}/.exec(text)?.[0];
        if (id && finishAt.has(id)) at.set(id, [...(at.get(id) ?? []), r.at]);
      }
      return at;
    };
    const slackPosts = () =>
      s.slackApi.inChannel(slackChannel).filter((m) => slackIds.includes(String(m.metadata?.event_payload.command_id)));
    let knownAt = 0;
    for (;;) {
      const hooks = hookArrivals();
      const posts = slackPosts();
      if (
        hooks.size === ids.length &&
        new Set(posts.map((p) => p.metadata?.event_payload.command_id)).size === slackIds.length
      ) {
        knownAt = Date.now();
        break;
      }
      if (Date.now() - started > o.timeoutMs) break;
      if (workers.some((w) => w.exitCode !== null)) throw new Error(`a worker exited:\n${lines.slice(-20).join('\n')}`);
      await sleep(250);
    }
    // A moment more, so that a duplicate on its way would be seen.
    await sleep(2000);

    const hooks = hookArrivals();
    const lags = [...hooks].map(([id, at]) => (at[0]! - finishAt.get(id)!) / 1000);
    const slackCounts = new Map<string, number>();
    for (const p of slackPosts()) {
      const id = String(p.metadata?.event_payload.command_id);
      slackCounts.set(id, (slackCounts.get(id) ?? 0) + 1);
    }
    const reads = s.arm.requests
      .slice(requestsBefore)
      .filter((r) => r.method === 'GET' && all.has(r.commandId) && r.path.includes('/commandResults/'));
    const slackCalls = s.slackApi.calls.slice(slackCallsBefore).filter((c) => c.channel === slackChannel);
    const postCalls = slackCalls.filter((c) => c.method === 'chat.postMessage');
    // Each command's longest wait past a due poll, from the workers' poll lines (none: it never waited).
    const worst = new Map<string, number>(ids.map((id) => [id, 0]));
    for (const l of lines) {
      const m = /command (scale[0-9a-f]{6}\d{4}) .*\(read (\d+)s past due\)/.exec(l);
      if (m && worst.has(m[1]!)) worst.set(m[1]!, Math.max(worst.get(m[1]!)!, Number(m[2])));
    }
    const waits = [...worst.values()];
    const missingIds = [...ids.filter((id) => !hooks.has(id)), ...slackIds.filter((id) => !slackCounts.has(id))];
    const throttledReads = reads.filter((r) => r.status === 429).length;
    const throttledPosts = slackCalls.filter((c) => c.status === 429).length;
    return {
      instances: o.instances,
      reads: reads.length,
      readsThrottled: throttledReads,
      throttledShare: reads.length ? Math.round((throttledReads / reads.length) * 10_000) / 10_000 : 0,
      posts: postCalls.length,
      postsThrottled: throttledPosts,
      postsThrottledShare: postCalls.length ? Math.round((throttledPosts / postCalls.length) * 10_000) / 10_000 : 0,
      lagP50: round1(pct(lags, 0.5)),
      lagP95: round1(pct(lags, 0.95)),
      waitMedian: pct(waits, 0.5),
      waitWorst: Math.max(0, ...waits),
      allKnownAfter: knownAt ? round1((knownAt - started) / 1000) : Number.NaN,
      duplicates:
        [...hooks.values()].filter((a) => a.length > 1).length + [...slackCounts.values()].filter((n) => n > 1).length,
      missing: missingIds.length,
      missingIds,
      missingLines: lines.filter((l) => missingIds.some((id) => l.includes(id))),
      workerErrors: lines.filter((l) => /could not re-enqueue|moved to the poison queue|unsettled [1-9]/.test(l)),
    };
  } finally {
    if (o.linesFile) writeFileSync(o.linesFile, lines.join('\n'));
    s.arm.readBucket = undefined;
    for (const w of workers) if (w.exitCode === null) w.kill('SIGTERM');
    await Promise.all(exited);
    await queue.deleteIfExists().catch(() => undefined);
    o.say?.(`scale load: ${o.instances} instance(s) stopped`);
  }
}
