// npm run bench: measures, in one run on this machine, against the local stand-ins:
// handler overhead, worker throughput and memory, cold import of the deployable, package size, and the
// delay schedule's cost and lag on a simulated clock. Prints a table, then one line of JSON.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { InvocationContext } from '@azure/functions';
import { TableClient } from '@azure/data-tables';
import { createPipelineRequest, createDefaultHttpClient } from '@azure/core-rest-pipeline';
import { createArmPipeline } from '../src/arm/commandResults';
import { DEFAULTS } from '../src/config';
import { commandResultUrl } from '../src/core/armUrl';
import { startStandIns, type StandIns } from '../dev/standIns';
import { createDevTls } from '../dev/tls';
import { prng } from '../dev/prng';
import { createQueueHandler } from '../src/pipeline/queueTrigger';
import { createCredential, createRuntime } from '../src/runtime';
import { runScaleLoad, type ScaleLoadResult } from '../dev/scaleLoad';
import { simulate, simulateFleet, simulateSharedBudget } from './simulate';

const ROOT = resolve(__dirname, '..');
const CLUSTER = {
  subscriptionId: '00000000-0000-0000-0000-0000000000be',
  resourceGroupName: 'rg-bench',
  resourceName: 'aks-bench',
};
const CLUSTER_ID = `/subscriptions/${CLUSTER.subscriptionId}/resourceGroups/${CLUSTER.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${CLUSTER.resourceName}`;
const UNLIMITED = { ARM_READS_PER_SECOND: '10000', ARM_READ_BURST: '10000' };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => process.stderr.write(`${line}\n`);

/**
 * One poll through the handler (parse, the chain's conditional ledger write, ARM GET, decide, re-enqueue)
 * versus the same three SDK calls made directly; and versus ARM GET + re-enqueue alone, for the cost of
 * the ledger write itself.
 */
async function overhead(
  s: StandIns,
): Promise<{ handlerMs: number; directMs: number; ratio: number; twoCallMs: number }> {
  const env = s.env({ COMMAND_QUEUE_NAME: 'bench-overhead', ...UNLIMITED });
  const rt = createRuntime(env);
  await rt.queue.ensureQueues();
  const handler = createQueueHandler(() => rt);
  const id = 'benchoverhead0001';
  s.arm.addCommand(CLUSTER, id, {});
  const message = JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id, command: 'kubectl get nodes' });
  const context = (id: string) =>
    new InvocationContext({
      functionName: 'trackCommand',
      triggerMetadata: { dequeueCount: 1, id },
      logHandler: () => undefined,
    });
  // The same SDK clients, called directly: the ARM pipeline (same policies, same credential type) and the queue client.
  const pipeline = createArmPipeline(createCredential(rt.config), rt.config.armScope);
  const httpClient = createDefaultHttpClient();
  const url = commandResultUrl(rt.config.armEndpoint, CLUSTER, id, rt.config.aksApiVersion);
  const table = TableClient.fromConnectionString(rt.config.storage.connectionString!, 'benchdirect', {
    allowInsecureConnection: true,
  });
  await table.createTable();
  await table.upsertEntity({ partitionKey: 'p', rowKey: '_command', gen: 0 });
  let etag: string = (await table.getEntity('p', '_command')).etag!;
  const direct = async (withLedger = true) => {
    if (withLedger)
      etag = (
        await table.updateEntity(
          { partitionKey: 'p', rowKey: '_command', gen: 1, owner: 'x', pollLeaseMs: 120000 },
          'Merge',
          { etag },
        )
      ).etag!;
    const res = await pipeline.sendRequest(httpClient, createPipelineRequest({ url, method: 'GET', timeout: 15_000 }));
    if (res.status !== 202) throw new Error(`unexpected ${res.status}`);
    await rt.queue.main.sendMessage(message, { visibilityTimeout: 5, messageTimeToLive: -1 });
  };
  // The handler follows its own chain: each poll handles the message the previous one re-enqueued.
  let next = message;
  const sent: string[] = [];
  const send = rt.deps.queue.send;
  rt.deps.queue.send = async (text, delay) => {
    sent.push(text);
    await send(text, delay);
  };
  let seq = 0;
  const viaHandler = async () => {
    const r = await handler(next, context(`m${++seq}`));
    if (r.kind !== 'requeued') throw new Error(`unexpected ${r.kind}`);
    next = sent.pop()!;
  };
  const twoCalls: number[] = [];
  for (let i = 0; i < 50; i++) {
    await direct();
    await viaHandler();
  }
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    await direct(false);
    twoCalls.push(performance.now() - t);
  }
  const h: number[] = [];
  const d: number[] = [];
  for (let i = 0; i < 400; i++) {
    // Alternate, so that drift (GC, Azurite's growing queue) hits both alike.
    const first = i % 2 === 0 ? viaHandler : direct;
    const second = i % 2 === 0 ? direct : viaHandler;
    let t = performance.now();
    await first();
    (first === viaHandler ? h : d).push(performance.now() - t);
    t = performance.now();
    await second();
    (second === viaHandler ? h : d).push(performance.now() - t);
  }
  await rt.queue.main.clearMessages();
  return { handlerMs: median(h), directMs: median(d), ratio: median(h) / median(d), twoCallMs: median(twoCalls) };
}

function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** The bundled worker CLI with host.json's concurrency, polling commands that never finish. */
async function workerRun(
  s: StandIns,
): Promise<{ throughput: number; rss1k: number; rss10k: number; queueErrors: string[] }> {
  const queueName = 'bench-worker';
  const env = s.env({
    COMMAND_QUEUE_NAME: queueName,
    POLL_INITIAL_DELAY_SECONDS: '1',
    POLL_MAX_DELAY_SECONDS: '1',
    ...UNLIMITED,
  });
  const rt = createRuntime(env);
  await rt.queue.ensureQueues();
  const ids = Array.from({ length: 1500 }, (_, i) => `benchworker${String(i).padStart(5, '0')}`);
  for (const id of ids) s.arm.addCommand(CLUSTER, id, {});
  const idSet = new Set(ids);
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(
      ids
        .slice(i, i + 50)
        .map((id) => rt.queue.main.sendMessage(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id }))),
    );
  }
  const polls = () => s.arm.requests.reduce((n, r) => n + (idSet.has(r.commandId) ? 1 : 0), 0);
  const child = spawn(process.execPath, [resolve(ROOT, 'dist/cli.js'), 'worker', '--max-polling-interval-ms', '100'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The worker's own queue operations must never trip over each other (renewals vs settling).
  const queueErrors: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = '';
    stream.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines)
        if (/PopReceiptMismatch|could not extend|unsettled [1-9]|MessageNotFound/.test(l)) queueErrors.push(l);
    });
  }
  const waitFor = async (n: number) => {
    while (polls() < n) {
      if (child.exitCode !== null) throw new Error('worker exited');
      await sleep(20);
    }
  };
  await waitFor(1000);
  const t1k = performance.now();
  const p1k = polls();
  const rss1k = rssKb(child.pid!);
  // Throughput over 4,000 polls: Azurite's in-memory queue collects its garbage every 60 s, and at this
  // message rate that blocks the emulator for about a minute (an emulator artefact: see docs/performance.md).
  await waitFor(5000);
  const throughput = ((polls() - p1k) * 1000) / (performance.now() - t1k);
  await waitFor(10_000);
  const rss10k = rssKb(child.pid!);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await rt.queue.main.clearMessages();
  return { throughput, rss1k, rss10k, queueErrors };
}

function timeProcess(args: string[], env: NodeJS.ProcessEnv): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { env, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed`);
  return performance.now() - t;
}

function coldStart(): { importMs: number; bareMs: number } {
  const env = {
    ...process.env,
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/x',
  };
  const entry = resolve(
    ROOT,
    (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { main: string }).main,
  );
  const imports: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < 21; i++) {
    bare.push(timeProcess(['-e', '0'], env));
    imports.push(timeProcess(['-e', `require(${JSON.stringify(entry)})`], env));
  }
  return { importMs: median(imports), bareMs: median(bare) };
}

/** What the package rules (scripts/package.ts) let in. */
function packageKb(): number {
  return (
    ['host.json', 'package.json', 'dist/function/index.js', 'dist/function/handler.js'].reduce(
      (n, f) => n + statSync(resolve(ROOT, f)).size,
      0,
    ) / 1024
  );
}

async function main(tlsDir: string): Promise<void> {
  say('bench: simulations (real poll logic, simulated clock)…');
  const schedule = await simulate({ commands: 10_000, seed: 20261127 });
  const withBudget = await simulate({
    commands: 1000,
    seed: 1000,
    armBucket: { burst: 250, perSecond: 25 },
    readBudget: { burst: DEFAULTS.ARM_READ_BURST, perSecond: DEFAULTS.ARM_READS_PER_SECOND },
  });
  const withoutBudget = await simulate({ commands: 1000, seed: 1000, armBucket: { burst: 250, perSecond: 25 } });
  say('bench: one command on 200 clusters, as one fleet run and as 200 separate runs (same run times)…');
  const separate = await simulateFleet({ members: 200, seed: 20, grouped: false });
  const grouped = await simulateFleet({ members: 200, seed: 20, grouped: true });
  const perMember = (n: number) => round(n / 200, 2);
  say(
    'bench: the shared budget on 6 and 40 instances, and a scale-out from 1 to 40 (real code, Table latency 5–25 ms)…',
  );
  const appRate = { burst: DEFAULTS.ARM_READ_BURST, perSecond: DEFAULTS.ARM_READS_PER_SECOND };
  const shared = { rate: appRate, demandPerSecond: 2 * appRate.perSecond, latencyMs: [5, 25] as [number, number] };
  const shared6 = await simulateSharedBudget({ ...shared, instances: 6, seconds: 10, seed: 6 });
  const shared40 = await simulateSharedBudget({ ...shared, instances: 40, seconds: 10, seed: 40 });
  const scaleOut = await simulateSharedBudget({ ...shared, instances: 40, seconds: 7, aloneSeconds: 3, seed: 41 });
  say('bench: cold start of the deployable…');
  const cold = coldStart();
  say('bench: starting stand-ins…');
  const s = await startStandIns({ tlsDir });
  Object.assign(process.env, s.identity.env);
  try {
    say('bench: handler overhead…');
    const o = await overhead(s);
    say('bench: worker throughput and memory (10,000 polls)…');
    const w = await workerRun(s);
    // The load: 150 commands running 20–60 s, started at once, ARM's bucket and the app's budget
    // scaled down 10× alike; the same on one instance and on six.
    const scale: ScaleLoadResult[] = [];
    for (const instances of [1, 6]) {
      say(`bench: scale-out load on ${instances} instance(s) (150 commands, about two minutes)…`);
      scale.push(
        await runScaleLoad(s, {
          instances,
          commands: 150,
          runSeconds: [20, 60],
          slackBurst: 50,
          armBucket: { burst: 25, perSecond: 2.5 },
          appBudget: { burst: 20, perSecond: 2 },
          worker: 'bundle',
          timeoutMs: 300_000,
          random: prng(20261202),
          say,
        }),
      );
    }
    const [one, six] = scale as [ScaleLoadResult, ScaleLoadResult];
    const result = {
      overhead_ratio: round(o.ratio, 3),
      handler_ms: round(o.handlerMs, 2),
      direct_ms: round(o.directMs, 2),
      arm_and_queue_only_ms: round(o.twoCallMs, 2),
      worker_queue_errors: w.queueErrors.length,
      throughput_per_s: round(w.throughput, 1),
      import_ms: round(cold.importMs, 1),
      bare_node_ms: round(cold.bareMs, 1),
      package_kb: round(packageKb(), 1),
      reads_per_command: round(schedule.readsPerCommand, 2),
      reads_per_command_fixed_5s: round(schedule.fixed5sReadsPerCommand, 2),
      reads_ratio_vs_fixed_5s: round(schedule.readsPerCommand / schedule.fixed5sReadsPerCommand, 3),
      worst_lag_ratio: round(schedule.worstLagRatio, 4),
      lag_seconds: schedule.lagSeconds,
      sim_1000_all_notified: withBudget.notified === 1000,
      sim_1000_throttled_share: round(withBudget.throttled / withBudget.reads, 4),
      sim_1000_peak_reads_per_s: withBudget.peakReadsPerSecond,
      sim_1000_reads_per_command: round(withBudget.readsPerCommand, 2),
      sim_1000_without_budget_throttled_share: round(withoutBudget.throttled / withoutBudget.reads, 4),
      sim_1000_without_budget_peak_reads_per_s: withoutBudget.peakReadsPerSecond,
      shared_budget_6_conflict_rate: round(shared6.conflictRate, 3),
      shared_budget_40_conflict_rate: round(shared40.conflictRate, 3),
      shared_budget_6_storage_calls_per_read: round(shared6.storageCallsPerSlot, 2),
      shared_budget_40_storage_calls_per_read: round(shared40.storageCallsPerSlot, 2),
      shared_budget_over_one_bucket: shared6.overBudget + shared40.overBudget + scaleOut.overBudget,
      shared_budget_fallbacks: shared6.fallbacks + shared40.fallbacks + scaleOut.fallbacks,
      shared_budget_unused_slots: shared6.unused + shared40.unused + scaleOut.unused,
      shared_budget_reads_in_first_second_after_scale_out: scaleOut.peakAfterScaleOut,
      scale_1_throttled_share: one.throttledShare,
      scale_6_throttled_share: six.throttledShare,
      scale_1_reads: one.reads,
      scale_6_reads: six.reads,
      scale_6_posts_throttled_share: six.postsThrottledShare,
      scale_1_lag_p50_p95_s: [one.lagP50, one.lagP95],
      scale_6_lag_p50_p95_s: [six.lagP50, six.lagP95],
      scale_1_all_known_after_s: one.allKnownAfter,
      scale_6_all_known_after_s: six.allKnownAfter,
      scale_1_wait_past_due_median_worst_s: [one.waitMedian, one.waitWorst],
      scale_6_wait_past_due_median_worst_s: [six.waitMedian, six.waitWorst],
      scale_missing_duplicates: [one.missing + six.missing, one.duplicates + six.duplicates],
      rss_after_1000_polls_mb: round(w.rss1k / 1024, 1),
      rss_after_10000_polls_mb: round(w.rss10k / 1024, 1),
      fleet_200_arm_reads_per_member_group_vs_separate: [perMember(grouped.armReads), perMember(separate.armReads)],
      fleet_200_ledger_reads_per_member_group_vs_separate: [
        perMember(grouped.ledgerReads),
        perMember(separate.ledgerReads),
      ],
      fleet_200_ledger_writes_per_member_group_vs_separate: [
        perMember(grouped.ledgerWrites),
        perMember(separate.ledgerWrites),
      ],
      fleet_200_messages_per_member_group_vs_separate: [
        perMember(grouped.messagesHandled),
        perMember(separate.messagesHandled),
      ],
      fleet_200_posts_group_vs_separate: [grouped.posts, separate.posts],
    };
    const rows: [string, string, string][] = [
      ['handler poll (ledger step + ARM GET + re-enqueue), median', `${result.handler_ms} ms`, ''],
      ['same three SDK calls made directly, median', `${result.direct_ms} ms`, ''],
      ['overhead_ratio', String(result.overhead_ratio), '≤ 1.2'],
      ['  ARM GET + re-enqueue alone (before the ledger step)', `${result.arm_and_queue_only_ms} ms`, ''],
      ['worker lines with PopReceiptMismatch / could not extend', String(result.worker_queue_errors), '0'],
      ['throughput_per_s (one worker, host.json concurrency, polls 1,000–5,000)', String(result.throughput_per_s), ''],
      ['import_ms (deployable, fresh process)', String(result.import_ms), ''],
      ['bare_node_ms (node -e 0)', String(result.bare_node_ms), ''],
      ['import_ms − bare_node_ms', String(round(cold.importMs - cold.bareMs, 1)), '≤ 80'],
      ['package_kb', String(result.package_kb), ''],
      ['reads_per_command (default schedule, 10,000 commands)', String(result.reads_per_command), ''],
      ['reads_per_command_fixed_5s', String(result.reads_per_command_fixed_5s), ''],
      ['reads vs fixed 5 s poller', `${round(100 * result.reads_ratio_vs_fixed_5s, 1)} %`, '≤ 50 %'],
      ['worst_lag_ratio', String(result.worst_lag_ratio), '≤ 1.0'],
      [
        'notification lag p50 / p90 / p99 / max (s)',
        `${schedule.lagSeconds.p50} / ${schedule.lagSeconds.p90} / ${schedule.lagSeconds.p99} / ${schedule.lagSeconds.max}`,
        '',
      ],
      ['sim_1000_all_notified', String(result.sim_1000_all_notified), 'true'],
      ['sim_1000_throttled_share', String(result.sim_1000_throttled_share), '≤ 0.05'],
      ['sim_1000_peak_reads_per_s', String(result.sim_1000_peak_reads_per_s), '≤ 250 (bucket)'],
      [
        '  same, without the read budget: throttled share',
        String(result.sim_1000_without_budget_throttled_share),
        '(for contrast)',
      ],
      [
        'shared budget, 6 / 40 instances at 2× the rate: ETag conflicts per write',
        `${result.shared_budget_6_conflict_rate} / ${result.shared_budget_40_conflict_rate}`,
        '',
      ],
      [
        '  Storage calls per read, 6 / 40 instances',
        `${result.shared_budget_6_storage_calls_per_read} / ${result.shared_budget_40_storage_calls_per_read}`,
        '',
      ],
      ['  slots beyond one bucket (6, 40, scale-out 1 → 40)', String(result.shared_budget_over_one_bucket), '0'],
      [
        '  fallbacks to the local share / slots leased ahead unused',
        `${result.shared_budget_fallbacks} / ${result.shared_budget_unused_slots}`,
        '',
      ],
      [
        'scale-out, 1 / 6 instances: ARM reads answered 429',
        `${one.readsThrottled} of ${one.reads} / ${six.readsThrottled} of ${six.reads}`,
        '≤ 5 %',
      ],
      ['  6 instances: Slack app posts answered 429', `${six.postsThrottled} of ${six.posts}`, '≤ 5 %'],
      ['  lag p50 / p95 (s), 1 instance', `${one.lagP50} / ${one.lagP95}`, ''],
      [
        '  lag p50 / p95 (s), 6 instances',
        `${six.lagP50} / ${six.lagP95}`,
        `≤ ${round(1.1 * one.lagP50 + 2, 1)} / ${round(1.1 * one.lagP95 + 2, 1)} (1.1 × one + 2 s)`,
      ],
      [
        '  wait past a due poll, median / worst (s), 1 / 6 instances',
        `${one.waitMedian} / ${one.waitWorst}, ${six.waitMedian} / ${six.waitWorst}`,
        'worst ≤ 2 × median',
      ],
      ['  all known after (s), 1 / 6 instances', `${one.allKnownAfter} / ${six.allKnownAfter}`, ''],
      ['  results missing / twice', `${one.missing + six.missing} / ${one.duplicates + six.duplicates}`, '0 / 0'],
      [
        'RSS after 1,000 / 10,000 polls',
        `${result.rss_after_1000_polls_mb} / ${result.rss_after_10000_polls_mb} MB`,
        'no growth',
      ],
      [
        'fleet of 200: ARM reads per member, one group vs 200 runs',
        `${result.fleet_200_arm_reads_per_member_group_vs_separate[0]} vs ${result.fleet_200_arm_reads_per_member_group_vs_separate[1]}`,
        'equal',
      ],
      [
        'fleet of 200: ledger reads / writes per member, one group vs 200 runs',
        `${result.fleet_200_ledger_reads_per_member_group_vs_separate[0]} vs ${result.fleet_200_ledger_reads_per_member_group_vs_separate[1]} / ${result.fleet_200_ledger_writes_per_member_group_vs_separate[0]} vs ${result.fleet_200_ledger_writes_per_member_group_vs_separate[1]}`,
        '',
      ],
      [
        'fleet of 200: queue messages handled per member, one group vs 200 runs',
        `${result.fleet_200_messages_per_member_group_vs_separate[0]} vs ${result.fleet_200_messages_per_member_group_vs_separate[1]}`,
        '',
      ],
      [
        'fleet of 200: posts per webhook target, one group vs 200 runs',
        `${result.fleet_200_posts_group_vs_separate[0]} vs ${result.fleet_200_posts_group_vs_separate[1]}`,
        '1 vs 200',
      ],
    ];
    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w1 = Math.max(...rows.map((r) => r[1].length));
    console.log(`${'measure'.padEnd(w0)}  ${'value'.padEnd(w1)}  goal`);
    for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
    console.log(JSON.stringify(result));
    for (const l of w.queueErrors.slice(0, 5)) console.log(`worker: ${l}`);
  } finally {
    await s.stop();
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// Node reads NODE_EXTRA_CA_CERTS only at start: make the stand-ins' certificate, then run again trusting it.
async function entry(): Promise<void> {
  const tlsDir = process.env.AKS_NOTIFIER_BENCH_TLS;
  if (!tlsDir) {
    const dir = resolve(ROOT, '.tmp', 'bench-tls');
    const tls = await createDevTls(dir);
    const r = spawnSync(process.execPath, [...process.execArgv, __filename], {
      stdio: 'inherit',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.certPath, AKS_NOTIFIER_BENCH_TLS: dir },
    });
    process.exit(r.status ?? 1);
  }
  await main(tlsDir);
}

entry().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
