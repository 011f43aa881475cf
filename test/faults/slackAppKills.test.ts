// Fault injection for the Slack app target: commands through a worker that is SIGKILLed while its posts are
// in flight (every Slack answer takes 400 ms, after Slack has taken the call), plus 429s, 5xx and answers
// slower than the client's timeout; every 8th post also loses its answer while another app in the channel
// posts a copy of it (same metadata).
// Counted as a user would: in each channel, exactly one message of ours per command and target — the
// literal count — each in its final state, with the full logs in its thread; the copies left alone.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { SlackApiFault } from '../../dev/slackApiStandIn';
import { prng } from '../../dev/prng';
import { otherApp } from '../support/otherApp';
import { CLUSTER, CLUSTER_ID, setUpStack, stack, tearDownStack, unique } from '../support/stack';
import { enqueueWhileKilling, RestartedWorker } from '../support/worker';

const COMMANDS = Number(process.env.FAULT_APP_COMMANDS ?? 40);
const KILLS = 4;
const SEED = Number(process.env.FAULT_SEED ?? 20261128);
const TARGETS = ['ops', 'audit'] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const headerOf = (blocks: unknown[] | undefined) =>
  String((blocks?.[0] as { text?: { text?: string } })?.text?.text ?? '');

describe('fault injection, Slack app target', () => {
  before(setUpStack);
  after(tearDownStack);

  it(`exactly one message per command and target over ${COMMANDS} commands and ${KILLS} kills mid-post`, async () => {
    const s = stack();
    const random = prng(SEED);
    const token = `xoxb-${randomBytes(8).toString('hex')}`;
    const channels = {
      ops: `C${randomBytes(5).toString('hex').toUpperCase()}`,
      audit: `C${randomBytes(5).toString('hex').toUpperCase()}`,
    };
    const bot = s.slackApi.addBot(token, Object.values(channels));
    // Another app in both channels, with history and chat:write: it copies some of our posts whose answer is lost.
    const other = otherApp(Object.values(channels), { rejectRateLimitedCalls: true });
    let copies = 0;
    const queueName = unique('appfaults');
    const env = s.env({
      COMMAND_QUEUE_NAME: queueName,
      SLACK_WEBHOOK_URL: '',
      TEAMS_WEBHOOK_URL: '',
      NOTIFY_TARGETS: TARGETS.join(','),
      ...Object.fromEntries(
        TARGETS.flatMap((t) => [
          [`NOTIFY_TARGET_${t.toUpperCase()}_KIND`, 'slack-app'],
          [`NOTIFY_TARGET_${t.toUpperCase()}_CHANNEL`, channels[t]],
          [`NOTIFY_TARGET_${t.toUpperCase()}_TOKEN`, token],
        ]),
      ),
      POLL_INITIAL_DELAY_SECONDS: '1',
      POLL_MAX_DELAY_SECONDS: '3',
      ARM_TIMEOUT_SECONDS: '2',
      WEBHOOK_TIMEOUT_SECONDS: '2',
    });

    const ids: string[] = [];
    const logsOf = new Map<string, string>();
    for (let i = 0; i < COMMANDS; i++) {
      const id = `a${i.toString().padStart(3, '0')}${Math.floor(random() * 1e9).toString(16)}`;
      ids.push(id);
      const long = random() < 0.3;
      const logs = long
        ? Array.from(
            { length: 300 },
            (_, n) => `${id} line ${n} \u001b[33mwarn\u001b[0m <!here> ${'y'.repeat(30)}\n`,
          ).join('')
        : `ok ${i}\n`;
      logsOf.set(id, logs);
      const r = random();
      // Most commands run a while (a running message first); some are final at the first read.
      const runSeconds = r < 0.8 ? 2 + random() * 10 : 0;
      s.arm.addCommand(CLUSTER, id, {
        runSeconds,
        result: { provisioningState: 'Succeeded', exitCode: r < 0.5 ? 0 : 1, logs },
      });
    }

    // Slack takes every call at once and answers 400 ms later, so a kill lands between the two; now and then
    // a 429, a 503, or an answer slower than the client's timeout (Slack took the post; the client gave up).
    let faults = 0;
    let injected429 = 0;
    let posts = 0;
    const copy = (ch: string, args: Record<string, unknown>) => {
      copies++;
      setTimeout(() => void other.copy(ch, args).catch(() => undefined), 100);
    };
    s.slackApi.fault = (method, ch, call): SlackApiFault | undefined => {
      if (!ch || !Object.values(channels).includes(ch) || method === 'conversations.history' || call.token !== token)
        return undefined;
      // Every 8th post: its answer is lost, and another app posts a copy of it, metadata and all.
      if (method === 'chat.postMessage' && ++posts % 8 === 0) {
        faults++;
        copy(ch, call.args);
        return { answerDelayMs: 3000 };
      }
      const r = random();
      if (r < 0.08) return (faults++, injected429++, { status: 429, retryAfter: 1 });
      if (r < 0.12) return (faults++, { status: 503 });
      if (r < 0.16 && method === 'chat.postMessage') return (faults++, { answerDelayMs: 3000 });
      return { answerDelayMs: 400 };
    };

    const main = (await import('@azure/storage-queue')).QueueServiceClient.fromConnectionString(
      s.azurite.connectionString,
    ).getQueueClient(queueName);
    await main.createIfNotExists();
    const worker = new RestartedWorker(env, ['--lease-seconds', '4', '--visibility-timeout-seconds', '1']);
    const started = Date.now();

    // Kill only while a Slack call is in flight: that is the case a webhook cannot tell apart.
    const inFlight = () =>
      s.slackApi.calls.some(
        (c) => c.status === 200 && !c.error && Date.now() - c.at < 350 && c.method.startsWith('chat.'),
      );

    const withMetadata = (target: (typeof TARGETS)[number], id: string) =>
      s.slackApi
        .inChannel(channels[target])
        .filter((m) => m.metadata?.event_payload.command_id === id && m.metadata.event_payload.target === target);
    // Ours: posted by our bot. The other app's copies carry the same metadata.
    const messagesOf = (target: (typeof TARGETS)[number], id: string) =>
      withMetadata(target, id).filter((m) => m.botId === bot.botId);
    const finished = () =>
      ids.every((id) =>
        TARGETS.every((t) => messagesOf(t, id).some((m) => !headerOf(m.blocks).includes('Running on'))),
      );

    await enqueueWhileKilling(
      main,
      ids.map((id, i) =>
        JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id, command: `kubectl get pods # ${i}` }),
      ),
      worker,
      { kills: KILLS, random, inFlight },
    );
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline) {
      const props = await main.getProperties().catch(() => undefined);
      if (finished() && props?.approximateMessagesCount === 0) break;
      await sleep(500);
    }
    await worker.stop();
    const { lines, kills } = worker;
    s.slackApi.fault = undefined;

    let lost = 0;
    let extra = 0;
    let notFinal = 0;
    let filesWrong = 0;
    let updatedInPlace = 0;
    for (const id of ids) {
      for (const t of TARGETS) {
        const found = messagesOf(t, id);
        if (found.length === 0) lost++;
        extra += Math.max(0, found.length - 1);
        for (const m of found) {
          if (headerOf(m.blocks).includes('Running on')) notFinal++;
          if (m.versions.length > 1) updatedInPlace++;
          const logs = logsOf.get(id)!;
          const long = logs.length > 3000;
          const files = m.files.filter((f) => f.bytes.equals(Buffer.from(logs, 'utf8')));
          if (long ? files.length < 1 : m.files.length > 0) filesWrong++;
        }
      }
    }
    const report = {
      commands: COMMANDS,
      targets: TARGETS.length,
      kills: kills.length,
      seconds: Math.round((Date.now() - started) / 1000),
      lost,
      messages_beyond_one: extra,
      not_final: notFinal,
      updated_in_place: updatedInPlace,
      files_wrong: filesWrong,
      slack_faults_injected: faults,
      slack_calls: s.slackApi.calls.filter((c) => c.channel && Object.values(channels).includes(c.channel)).length,
      injected_429: injected429,
      // 429s of the stand-in's own per-channel rate (1/s, bursts of 5), on top of the injected ones.
      rate_limited:
        s.slackApi.calls.filter((c) => c.status === 429 && c.channel && Object.values(channels).includes(c.channel))
          .length - injected429,
      copies_by_another_app: copies,
      copies_in_channels: ids.reduce(
        (n, id) =>
          n + TARGETS.reduce((k, t) => k + withMetadata(t, id).filter((m) => m.botId === other.bot.botId).length, 0),
        0,
      ),
      // Slack refuses an update of another app's message: every such answer is a copy taken for ours.
      copies_taken_for_ours: s.slackApi.calls.filter(
        (c) => c.error === 'cant_update_message' && c.channel && Object.values(channels).includes(c.channel),
      ).length,
      history_lookups: s.slackApi.calls.filter(
        (c) => c.method === 'conversations.history' && c.channel && Object.values(channels).includes(c.channel),
      ).length,
      in_doubt_after_kill: lines.filter((l) => /ended without a record/.test(l)).length,
      unanswered_posts: lines.filter((l) => /looks for it first where the channel can be searched/.test(l)).length,
    };
    console.log('\nSlack app fault run:', JSON.stringify(report, null, 2));
    mkdirSync('.tmp', { recursive: true });
    writeFileSync('.tmp/fault-report-slack-app.json', JSON.stringify(report, null, 2));

    // Each failure names the report, so that a red CI run says what went wrong without a rerun.
    const said = `\n${JSON.stringify(report, null, 2)}`;
    assert.equal(kills.length, KILLS);
    assert.equal(lost, 0, `every command has its message in every channel${said}`);
    assert.equal(extra, 0, `exactly one message per command and target${said}`);
    assert.equal(notFinal, 0, `every message ends in its final state${said}`);
    assert.equal(filesWrong, 0, `long logs arrive whole in the thread; short ones need no file${said}`);
    assert.ok(
      report.in_doubt_after_kill + report.unanswered_posts > 0,
      `the run met posts in doubt (else it proves nothing)${said}`,
    );
    assert.ok(
      report.copies_in_channels > 0,
      `another app's copies were in the channels (else the lookup was never tempted)${said}`,
    );
    assert.equal(report.copies_taken_for_ours, 0, `another app's copy is never taken for ours${said}`);
    for (const line of lines) assert.ok(!line.includes(token), `a log line leaks the token: ${line}`);
  });
});
