// Fault injection: a few hundred commands through a worker that is SIGKILLed and restarted several times,
// Azurite restarted from disk mid-run, and faults on every wire (ARM: 429, 5xx, resets, answers slower
// than the client timeout, malformed JSON, 200 without properties; identity endpoint: 500s, slow answers,
// short-lived tokens; webhooks: 429, 5xx, resets, timeouts). Counts what a user would: lost, duplicates.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QueueServiceClient } from '@azure/storage-queue';
import type { Step } from '../../dev/armStandIn';
import { startAzurite, type Azurite } from '../../dev/azurite';
import { prng } from '../../dev/prng';
import type { Reply } from '../../dev/webhookReceivers';
import { parsePoisonEnvelope } from '../../src/queue/commandQueue';
import { CLUSTER, CLUSTER_ID, setUpStack, stack, tearDownStack, unique } from '../support/stack';
import { RestartedWorker } from '../support/worker';

const COMMANDS = Number(process.env.FAULT_COMMANDS ?? 300);
const INVALID = 20;
const KILLS = 4;
const SEED = Number(process.env.FAULT_SEED ?? 20261127);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('fault injection', () => {
  let azurite: Azurite;
  let dataDir: string | undefined;

  before(async () => {
    await setUpStack();
    dataDir = mkdtempSync(join(tmpdir(), 'azurite-disk-'));
    azurite = await startAzurite({ location: dataDir });
  });
  after(async () => {
    await azurite?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await tearDownStack();
  });

  it(`loses and duplicates nothing over ${COMMANDS} commands, ${KILLS} kills and an Azurite restart`, async () => {
    const s = stack();
    const random = prng(SEED);
    const channel = unique('faults');
    const queueName = unique('faults');
    const env = s.env({
      AzureWebJobsStorage: azurite.connectionString,
      COMMAND_QUEUE_NAME: queueName,
      SLACK_WEBHOOK_URL: s.receivers.urlFor('slack', channel),
      TEAMS_WEBHOOK_URL: s.receivers.urlFor('teams', channel),
      POLL_INITIAL_DELAY_SECONDS: '1',
      POLL_MAX_DELAY_SECONDS: '3',
      ARM_TIMEOUT_SECONDS: '2',
      WEBHOOK_TIMEOUT_SECONDS: '2',
      // Above the default budget, so that more reads meet ARM's faults; the budget has its own tests.
      ARM_READS_PER_SECOND: '100',
    });

    // The workload: valid commands with assorted outcomes and run times (each starts when it is
    // enqueued), plus invalid messages.
    const ids: string[] = [];
    const plan: { id: string; register: () => void }[] = [];
    for (let i = 0; i < COMMANDS; i++) {
      const id = `f${i.toString().padStart(4, '0')}${Math.floor(random() * 1e9).toString(16)}`;
      ids.push(id);
      const r = random();
      const runSeconds = 2 + random() * 13;
      const script =
        r < 0.6
          ? { runSeconds, result: { provisioningState: 'Succeeded', exitCode: 0, logs: `ok ${i}` } }
          : r < 0.8
            ? { runSeconds, result: { provisioningState: 'Succeeded', exitCode: 1 + (i % 3), logs: `failed ${i}` } }
            : r < 0.9
              ? { runSeconds, result: { provisioningState: 'Failed', reason: 'ImagePullBackoff' } }
              : undefined; // unknown to ARM -> 404 -> "not found" notification
      plan.push({ id, register: () => script && s.arm.addCommand(CLUSTER, id, script) });
    }
    const idSet = new Set(ids);

    // Faults on every wire, from the same seeded plan.
    const armFaults: Step[] = [
      { status: 429, body: { error: { code: 'TooManyRequests' } }, headers: { 'retry-after': '1' } },
      { status: 500 },
      { status: 503 },
      { status: 0, reset: true },
      { status: 202, delayMs: 2500 }, // slower than ARM_TIMEOUT_SECONDS
      { status: 200, rawBody: '{"properties": {"provisioningState": ' },
      { status: 200, body: { id: 'x' } },
    ];
    let armFaultsInjected = 0;
    let webhookFaultsInjected = 0;
    s.arm.intercept = (req) => {
      if (!idSet.has(req.url?.split('/commandResults/')[1]?.split('?')[0] ?? '') || random() >= 0.15) return undefined;
      armFaultsInjected++;
      return armFaults[Math.floor(random() * armFaults.length)];
    };
    const hookFaults: Reply[] = [
      { status: 429, body: 'rate_limited', headers: { 'retry-after': '1' } },
      { status: 500, body: 'rollup_error' },
      { status: 503 },
      { status: 0, reset: true },
      { status: 200, delayMs: 3000 }, // slower than WEBHOOK_TIMEOUT_SECONDS: abandoned, never recorded
    ];
    s.receivers.fault = (_kind, ch) => {
      if (ch !== channel || random() >= 0.1) return undefined;
      webhookFaultsInjected++;
      return hookFaults[Math.floor(random() * hookFaults.length)];
    };
    s.identity.faults.lifetimeSeconds = 4; // tokens expire during the run: the SDK must fetch new ones
    s.identity.faults.delayMs = 50;

    const queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
    const main = queues.getQueueClient(queueName);
    const poison = queues.getQueueClient(`${queueName}-poison`);
    await main.createIfNotExists();
    await poison.createIfNotExists();

    const worker = new RestartedWorker(env, ['--lease-seconds', '4', '--visibility-timeout-seconds', '1']);
    const started = Date.now();

    // Producers: spread the commands over ~10 s; the invalid ones in between.
    const producer = (async () => {
      // Three kinds of invalid message, each one distinct so that the poison queue can be checked per message.
      const invalid = (k: number) =>
        [
          `{"clusterResourceId":"/subscriptions/x","commandId":"bad${k}"}`,
          `garbage ${k}`,
          `{"commandId":"../../x${k}","clusterResourceId":"${CLUSTER_ID}"}`,
        ][k % 3]!;
      const every = Math.floor(COMMANDS / INVALID);
      for (let i = 0; i < ids.length; i++) {
        plan[i]!.register();
        await main.sendMessage(
          JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: ids[i], command: `kubectl get pods # ${i}` }),
        );
        if (i % every === 0 && i / every < INVALID) await main.sendMessage(invalid(i / every));
        if (i % 30 === 0) await sleep(1000);
      }
    })();

    // Chaos: SIGKILL the worker at seeded moments and restart it; restart Azurite from disk once;
    // identity endpoint 500s now and then.
    const chaos = (async () => {
      for (let k = 0; k < KILLS; k++) {
        await sleep(5000 + random() * 7000);
        await worker.kill(async () => {
          if (k === 1) {
            await azurite.stop();
            azurite = await startAzurite({ location: dataDir!, ports: azurite.ports });
          }
          s.identity.faults.failNext = { count: 2, status: 500 };
        });
      }
    })();

    const perTarget = () => {
      const counts = { slack: new Map<string, number[]>(), teams: new Map<string, number[]>() };
      for (const r of s.receivers.received) {
        if (r.channel !== channel) continue;
        const text = JSON.stringify(r.body);
        const id = ids.find((i) => text.includes(i));
        if (!id) continue;
        const m = counts[r.kind];
        m.set(id, [...(m.get(id) ?? []), r.at]);
      }
      return counts;
    };

    await Promise.all([producer, chaos]);
    const deadline = Date.now() + 240_000;
    for (;;) {
      const c = perTarget();
      const done = c.slack.size === COMMANDS && c.teams.size === COMMANDS;
      const props = await main.getProperties().catch(() => undefined);
      if (done && props?.approximateMessagesCount === 0) break;
      if (Date.now() > deadline) break;
      await sleep(500);
    }
    await worker.stop();
    const { lines, kills } = worker;
    s.arm.intercept = undefined;
    s.receivers.fault = undefined;
    s.identity.faults = {};

    // Count.
    const c = perTarget();
    const poisoned = (await poison.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.map((m) => m.messageText);
    let poisonTotal = 0;
    const poisonReasons: string[] = [];
    const poisonOriginals = new Set<string>();
    for (;;) {
      const batch = (await poison.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 300 }))
        .receivedMessageItems;
      if (batch.length === 0) break;
      poisonTotal += batch.length;
      for (const m of batch) {
        const envelope = parsePoisonEnvelope(m.messageText);
        poisonReasons.push(envelope?.reason ?? `host: ${m.messageText.slice(0, 60)}`);
        poisonOriginals.add(envelope?.original ?? m.messageText);
      }
    }
    const poisonedIds = new Set(
      ids.filter((id) => poisonReasons.some((r) => r.includes(id)) || poisoned.some((p) => p.includes(id))),
    );
    const lost = ids.filter((id) => (!c.slack.has(id) || !c.teams.has(id)) && !poisonedIds.has(id));
    // A duplicate is accounted for only by a line the worker wrote for that command and target: a re-post
    // of an attempt whose worker was killed mid-post ("ended without a record"), or of a post that was sent
    // and not answered in time ("may have arrived"). No timing window: under a loaded CI machine the kill,
    // the receiver's record of the post and the ledger write can come in any order.
    const duplicates: { id: string; target: string; copies: number; doubtsLogged: number }[] = [];
    for (const target of ['slack', 'teams'] as const) {
      for (const [id, times] of c[target]) {
        if (times.length < 2) continue;
        const doubtsLogged = lines.filter(
          (l) =>
            l.startsWith(`command ${id} `) &&
            l.includes(`target ${target}:`) &&
            /ended without a record|may have arrived/.test(l),
        ).length;
        duplicates.push({ id, target, copies: times.length, doubtsLogged });
      }
    }
    const armCalls = s.arm.requests.filter((r) => idSet.has(r.commandId)).length;
    const report = {
      commands: COMMANDS,
      invalid_messages: INVALID,
      kills: kills.length,
      azurite_restarts: 1,
      seconds: Math.round((Date.now() - started) / 1000),
      delivered_slack: c.slack.size,
      delivered_teams: c.teams.size,
      lost: lost.length,
      duplicates: duplicates.length,
      duplicates_unexplained: duplicates.filter((d) => d.copies - 1 > d.doubtsLogged).length,
      arm_calls_per_command: Number((armCalls / COMMANDS).toFixed(2)),
      arm_faults_injected: armFaultsInjected,
      webhook_faults_injected: webhookFaultsInjected,
      poison_messages: poisonTotal,
      // A worker killed after writing to the poison queue and before completing the message writes it again.
      poison_distinct: poisonOriginals.size,
      webhook_attempts: s.receivers.attempts.filter((a) => a.channel === channel).length,
      identity_requests: s.identity.requests,
      storage_errors_logged: lines.filter((l) =>
        /receive failed|ECONNREFUSED|could not|Table storage|Blob storage/.test(l),
      ).length,
      // Claims a killed worker left behind: each may have been posted before the kill.
      in_doubt_reposts: lines.filter((l) => /ended without a record/.test(l)).length,
      // Posts sent but not answered within WEBHOOK_TIMEOUT_SECONDS: they may have arrived.
      unanswered_posts: lines.filter((l) => /may have arrived/.test(l)).length,
      worker_queue_errors: lines.filter((l) => /PopReceiptMismatch|could not extend/.test(l)).length,
    };
    console.log('\nfault run:', JSON.stringify(report, null, 2));
    mkdirSync('.tmp', { recursive: true });
    writeFileSync('.tmp/fault-report.json', JSON.stringify(report, null, 2));
    writeFileSync('.tmp/fault-worker.log', lines.join('\n'));

    // Each failure names the report, so that a red CI run says what went wrong without a rerun.
    const said = `\n${JSON.stringify({ ...report, duplicates }, null, 2)}`;
    assert.equal(lost.length, 0, `lost: ${lost.slice(0, 10).join(', ')}${said}`);
    assert.equal(report.duplicates_unexplained, 0, `a copy that no logged doubt accounts for${said}`);
    assert.equal(
      poisonOriginals.size,
      INVALID,
      `every invalid message, and nothing else, is in the poison queue${said}`,
    );
    assert.ok(poisonTotal - INVALID <= kills.length, `poison entries written twice: ${poisonTotal - INVALID}${said}`);
    assert.ok(
      new Set(poisonReasons.map((r) => r.replace(/\d+/g, '#'))).size >= 3,
      'each kind of invalid message, with its own reason',
    );
    assert.ok(
      poisonReasons.every((r) => /invalid message/.test(r)),
      poisonReasons.join(' | '),
    );
    assert.equal(kills.length, KILLS);

    // Secret hygiene over every line every worker wrote during the run.
    const secrets = [
      ...s.identity.tokens.keys(),
      s.identity.header,
      env.SLACK_WEBHOOK_URL!,
      env.TEAMS_WEBHOOK_URL!,
      'AccountKey',
      '@Microsoft.KeyVault(',
    ];
    assert.ok(lines.length > 100);
    for (const line of lines)
      for (const secret of secrets) assert.ok(!line.includes(secret), `a log line leaks a secret: ${line}`);
  });
});
