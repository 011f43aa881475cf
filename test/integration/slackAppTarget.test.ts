// The Slack app target against the Web API stand-in (bearer tokens, form bodies, ok:false errors, 429 with
// Retry-After, metadata in conversations.history, the three-step upload), with the ledger in Azurite: one
// live message per command and channel, updated in place; full logs byte for byte in the thread; a post
// in doubt found again instead of posted twice; answers classified; a burst paced instead of throttled.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebClient } from '@slack/web-api';
import type { SlackBot, SlackMessage } from '../../dev/slackApiStandIn';
import { METADATA_EVENT, slackApp } from '../../src/notify/providers/slackApp';
import { sampleReport } from '../../src/notify/samples';
import { commandKey, readTarget } from '../../src/store/ledgerRows';
import {
  CLUSTER,
  CLUSTER_ID,
  commandId,
  harness,
  setUpStack,
  stack,
  tearDownStack,
  waitFor,
  type Harness,
} from '../support/stack';
import { otherApp } from '../support/otherApp';
import { messageOf } from '../support/rendering';
import { spawnWorker } from '../support/worker';

before(setUpStack);
after(tearDownStack);

const channelId = () => `C${randomBytes(5).toString('hex').toUpperCase()}`;
const tokenFor = () => `xoxb-${randomBytes(6).toString('hex')}-${randomBytes(10).toString('hex')}`;
const msg = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    clusterResourceId: CLUSTER_ID,
    commandId: id,
    command: 'kubectl rollout status deploy/web',
    ...extra,
  });
const header = (blocks: unknown[] | undefined) =>
  String((blocks?.[0] as { text?: { text?: string } })?.text?.text ?? '');
const isRunning = (m: { blocks?: unknown[] }) => header(m.blocks).includes('Running on');

/** Logs as ARM may return them: long, with escape sequences, mentions, backticks and non-ASCII text. */
function hostileLogs(lines = 400): string {
  return (
    Array.from(
      { length: lines },
      (_, i) => `${i} \u001b[31mERR\u001b[0m <!channel> \`\`\` ünïcödé 🚀 ${'x'.repeat(40)}\r\n`,
    ).join('') + 'last line, no newline'
  );
}

interface App {
  channel: string;
  token: string;
  bot: SlackBot;
  env: Record<string, string>;
}

/** Slack app targets on their own channel(s), and no webhooks. */
function appTargets(targets: { name: string; options?: Record<string, string> }[], channel = channelId()): App {
  const token = tokenFor();
  const bot = stack().slackApi.addBot(token, [channel]);
  const env: Record<string, string> = {
    SLACK_WEBHOOK_URL: '',
    TEAMS_WEBHOOK_URL: '',
    NOTIFY_TARGETS: targets.map((t) => t.name).join(','),
  };
  for (const t of targets) {
    const p = `NOTIFY_TARGET_${t.name.toUpperCase().replace(/-/g, '_')}_`;
    Object.assign(env, { [`${p}KIND`]: 'slack-app', [`${p}CHANNEL`]: channel, [`${p}TOKEN`]: token });
    for (const [k, v] of Object.entries(t.options ?? {})) env[`${p}${k}`] = v;
  }
  return { channel, token, bot, env };
}

const calls = (channel: string, method?: string) =>
  stack().slackApi.calls.filter((c) => c.channel === channel && (!method || c.method === method));
/** Messages with this command's metadata; with `by`, only those that bot posted. */
const ours = (channel: string, id: string, target: string, by?: SlackBot): SlackMessage[] =>
  stack()
    .slackApi.inChannel(channel)
    .filter(
      (m) =>
        m.metadata?.event_payload.command_id === id &&
        m.metadata.event_payload.target === target &&
        (!by || m.botId === by.botId),
    );

async function untilNotified(h: Harness, first: Awaited<ReturnType<Harness['invoke']>>, rounds = 20) {
  let outcome = first;
  for (let i = 0; i < rounds && outcome.kind !== 'notified'; i++)
    outcome = (await h.pollOnce(15_000))?.outcome ?? outcome;
  assert.equal(outcome.kind, 'notified', JSON.stringify(outcome));
  return outcome;
}

describe('Slack app target', () => {
  it('posts a running message at the first poll that sees the command running, then updates that same message; logs cut from it arrive whole in its thread', async () => {
    const app = appTargets([{ name: 'ops' }]);
    const h = await harness(app.env);
    const id = commandId();
    const logs = hostileLogs();
    stack().arm.addCommand(CLUSTER, id, {
      runSeconds: 2,
      result: { provisioningState: 'Succeeded', exitCode: 1, logs },
    });
    const first = await h.invoke(msg(id));
    assert.equal(first.kind, 'requeued');
    // Within one poll of first sight: read back from the channel's history, as a user would see it.
    const history = await new WebClient(app.token, { slackApiUrl: stack().slackApi.url }).conversations.history({
      channel: app.channel,
      include_all_metadata: true,
    });
    const ownReads = calls(app.channel, 'conversations.history').length;
    assert.equal(history.messages?.length, 1);
    assert.match(String(history.messages?.[0]?.text), /Running on aks-test/);
    assert.deepEqual(history.messages?.[0]?.metadata, {
      event_type: METADATA_EVENT,
      event_payload: { command_id: id, cluster: CLUSTER_ID.toLowerCase(), target: 'ops' },
    });
    const live = ours(app.channel, id, 'ops');
    assert.equal(live.length, 1);
    assert.ok(isRunning(live[0]!), header(live[0]!.blocks));
    assert.match(
      JSON.stringify(live[0]!.blocks),
      /kubectl rollout status deploy\/web/,
      'the running message shows the command',
    );

    await untilNotified(h, first);
    const after = ours(app.channel, id, 'ops');
    assert.equal(after.length, 1, 'one message per command and channel');
    assert.equal(after[0]!.ts, live[0]!.ts, 'the running message was updated in place');
    assert.equal(after[0]!.versions.length, 2, 'posted once, updated once');
    assert.match(header(after[0]!.blocks), /Command failed: exit code 1/);
    assert.match(JSON.stringify(after[0]!.blocks), /full logs in thread/);
    assert.doesNotMatch(JSON.stringify(after[0]!.blocks), /\u001b|<!channel>/, 'the message itself stays inert');
    // The file: byte for byte ARM's logs, in the message's thread, named after cluster and command.
    assert.equal(after[0]!.files.length, 1);
    const file = after[0]!.files[0]!;
    assert.equal(file.name, `aks-test-${id}.log`);
    assert.equal(file.threadTs, after[0]!.ts);
    assert.ok(file.bytes.equals(Buffer.from(logs, 'utf8')), "the thread file is byte-identical to ARM's logs");
    // The token went to the API only: the pre-signed upload URL got the bytes without it.
    const upload = stack()
      .slackApi.calls.filter((c) => c.method === 'upload')
      .at(-1)!;
    assert.equal(upload.authorization, undefined);
    assert.ok(calls(app.channel).every((c) => c.authorization === `Bearer ${app.token}`));
    assert.equal(calls(app.channel, 'conversations.history').length, ownReads, 'no lookup without a doubt');
    for (const line of h.logs) assert.ok(!line.includes(app.token), `a log line leaks the token: ${line}`);
  });

  it('posts the final message directly when the command was already final; _LOGS=false gets no file; _ON=failure no running message and nothing for a success', async () => {
    const app = appTargets([{ name: 'ops' }, { name: 'quiet', options: { ON: 'failure', LOGS: 'false' } }]);
    const h = await harness({ ...app.env, NOTIFY_DEFAULT_TARGETS: 'ops,quiet' });
    const failed = commandId();
    const ok = commandId();
    stack().arm.addCommand(CLUSTER, failed, {
      result: { provisioningState: 'Failed', reason: 'ImagePullBackoff', logs: hostileLogs(200) },
    });
    stack().arm.addCommand(CLUSTER, ok, {
      runSeconds: 2,
      result: { provisioningState: 'Succeeded', exitCode: 0, logs: hostileLogs(200) },
    });

    await untilNotified(h, await h.invoke(msg(failed)));
    const [opsFailed] = ours(app.channel, failed, 'ops');
    const [quietFailed] = ours(app.channel, failed, 'quiet');
    assert.equal(opsFailed?.versions.length, 1, 'posted once, final');
    assert.equal(opsFailed?.files.length, 1);
    assert.equal(quietFailed?.versions.length, 1);
    assert.equal(quietFailed?.files.length, 0, '_LOGS=false: no file');
    assert.doesNotMatch(JSON.stringify(quietFailed?.blocks), /Logs/);

    const first = await h.invoke(msg(ok));
    assert.equal(first.kind, 'requeued');
    assert.equal(ours(app.channel, ok, 'ops').length, 1, 'ops: running message');
    assert.equal(ours(app.channel, ok, 'quiet').length, 0, 'quiet: no running message');
    await untilNotified(h, first);
    assert.equal(ours(app.channel, ok, 'quiet').length, 0, 'quiet: nothing for a success');
    const [opsOk] = ours(app.channel, ok, 'ops');
    assert.equal(opsOk?.versions.length, 2);
    assert.match(header(opsOk?.blocks), /Command succeeded/);
  });

  it('a post whose answer never came is found in the history and updated, not posted twice', async () => {
    const app = appTargets([{ name: 'ops' }]);
    const h = await harness({ ...app.env, WEBHOOK_TIMEOUT_SECONDS: '1' });
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'done' } });
    let slow = true;
    stack().slackApi.fault = (method, ch) => {
      if (ch !== app.channel || method !== 'chat.postMessage' || !slow) return undefined;
      slow = false;
      return { answerDelayMs: 2500 }; // Slack takes the post; the client gives up first
    };
    try {
      const first = await h.invoke(msg(id));
      assert.equal(first.kind, 'deferred');
      assert.ok(
        h.logs.some((l) => /looks for it first where the channel can be searched/.test(l)),
        h.logs.join('\n'),
      );
      // Real time: the stand-in answers the post 2.5 s after the client gave up (at 1 s); it is taken by then.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(ours(app.channel, id, 'ops').length, 1, 'Slack took the first post');
      await untilNotified(h, first);
    } finally {
      stack().slackApi.fault = undefined;
    }
    const found = ours(app.channel, id, 'ops');
    assert.equal(found.length, 1, 'exactly one message');
    assert.equal(found[0]!.versions.length, 2, 'adopted and updated');
    assert.equal(calls(app.channel, 'conversations.history').length, 1, 'one lookup');
    assert.equal(calls(app.channel, 'chat.postMessage').length, 1);
    const { entities } = await h.rt.ledger.store.listPartition(commandKey(CLUSTER_ID, id));
    const row = readTarget(entities.find((e) => e.rowKey === 'ops')!);
    assert.equal(row.state, 'delivered');
    assert.equal(row.unsureSince, undefined, 'the doubt is cleared');
  });

  it('another app copies our message after the answer to our running post was lost: ours is found by its author and finished, the copy left alone', async () => {
    const app = appTargets([{ name: 'ops' }]);
    const other = otherApp([app.channel]);
    const h = await harness({ ...app.env, WEBHOOK_TIMEOUT_SECONDS: '1' });
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, {
      runSeconds: 3,
      result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'done' },
    });
    let copies: Promise<unknown>[] = [];
    stack().slackApi.fault = (method, ch, call) => {
      if (ch !== app.channel || method !== 'chat.postMessage' || call.token !== app.token || copies.length > 0)
        return undefined;
      // Slack takes our post but the answer is lost; meanwhile the other app posts a copy (newer than ours).
      copies = [new Promise((r) => setTimeout(r, 200)).then(() => other.copy(app.channel, call.args))];
      return { answerDelayMs: 2500 };
    };
    try {
      const first = await h.invoke(msg(id));
      assert.equal(first.kind, 'requeued');
      await Promise.all(copies);
      assert.equal(ours(app.channel, id, 'ops').length, 2, 'our post and the copy carry the same metadata');
      await untilNotified(h, first);
    } finally {
      stack().slackApi.fault = undefined;
    }
    const mine = ours(app.channel, id, 'ops', app.bot);
    assert.equal(mine.length, 1, 'one message of ours');
    assert.ok(!isRunning(mine[0]!), 'and it is final');
    assert.ok(mine[0]!.versions.length >= 2, 'the running message was updated in place');
    const copy = ours(app.channel, id, 'ops', other.bot);
    assert.equal(copy.length, 1);
    assert.equal(copy[0]!.versions.length, 1, 'the copy was left alone');
    assert.equal(
      calls(app.channel).filter((c) => c.error === 'cant_update_message').length,
      0,
      'the copy was never taken for ours',
    );
    assert.ok(
      h.logs.some((l) =>
        /1 message\(s\) in the channel carry this command's metadata but were not posted by this app/.test(l),
      ),
      h.logs.join('\n'),
    );
  });

  it('an update answered cant_update_message (the recorded message is not ours) finishes the message our bot posted instead of posting a second, even when that lookup fails once', async () => {
    const app = appTargets([{ name: 'ops' }]);
    const other = otherApp([app.channel]);
    const h = await harness(app.env);
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, {
      runSeconds: 2,
      result: { provisioningState: 'Failed', reason: 'ImagePullBackoff' },
    });
    assert.equal((await h.invoke(msg(id))).kind, 'requeued');
    const [running] = ours(app.channel, id, 'ops', app.bot);
    assert.ok(running && isRunning(running));
    const copied = await other.copy(app.channel, {
      text: running.text,
      blocks: running.blocks,
      metadata: running.metadata,
    });
    // The ledger now names the copy (a row rewritten by hand, or a Slack that mixed them up).
    const key = commandKey(CLUSTER_ID, id);
    const row = readTarget((await h.rt.ledger.store.listPartition(key)).entities.find((e) => e.rowKey === 'ops')!);
    assert.ok(
      await h.rt.ledger.writeTarget(key, row, {
        providerState: JSON.stringify({ channel: app.channel, ts: copied.ts }),
      }),
    );
    // Real time: the command runs 2 s on the ARM stand-in's clock; the next poll must find it final.
    await new Promise((r) => setTimeout(r, 2000));
    // And the first lookup after the refusal is throttled: the next attempt must still look before it posts.
    let throttled = false;
    stack().slackApi.fault = (method, ch) =>
      ch === app.channel && method === 'conversations.history' && !throttled
        ? ((throttled = true), { status: 429, retryAfter: 1 })
        : undefined;
    try {
      await untilNotified(h, await h.invokeNext());
    } finally {
      stack().slackApi.fault = undefined;
    }
    assert.ok(throttled);
    const mine = ours(app.channel, id, 'ops', app.bot);
    assert.equal(mine.length, 1, 'no second message of ours');
    assert.ok(!isRunning(mine[0]!), 'ours is final');
    assert.equal(ours(app.channel, id, 'ops', other.bot)[0]!.versions.length, 1, 'the copy was left alone');
    assert.equal(calls(app.channel).filter((c) => c.error === 'cant_update_message').length, 1);
  });

  it('a claim left by a worker that died mid-post: the next delivery finds the message by its metadata and adopts it', async () => {
    const app = appTargets([{ name: 'ops' }]);
    const h = await harness(app.env);
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'done' } });
    // What a dead worker leaves: the command final, the target claimed with a lease that has run out, and
    // its post in the channel (Slack took it; the worker died before it could record the ts).
    const key = commandKey(CLUSTER_ID, id);
    const stall = await h.invoke(msg(id), { id: 'first' });
    assert.equal(stall.kind, 'notified');
    const posted = ours(app.channel, id, 'ops')[0]!;
    const { entities } = await h.rt.ledger.store.listPartition(key);
    const delivered = readTarget(entities.find((e) => e.rowKey === 'ops')!);
    await h.rt.ledger.writeTarget(key, delivered, { state: 'pending', providerState: undefined, waitMs: 0 });
    const pending = readTarget((await h.rt.ledger.store.listPartition(key)).entities.find((e) => e.rowKey === 'ops')!);
    await h.rt.ledger.claim(key, pending, 1);
    // Real time: the claim's 1 s lease is judged on the Table's clock (Azurite's), as in Azure.
    await new Promise((r) => setTimeout(r, 1100));
    const again = await h.rt.ledger.load(key);
    assert.equal(again.targets[0]!.state, 'claimed');

    const outcome = await h.invoke(msg(id), { id: 'second' });
    assert.equal(outcome.kind, 'notified', JSON.stringify(outcome));
    assert.ok(h.logs.some((l) => /ended without a record.*looking for a post it had in flight/.test(l)));
    const found = ours(app.channel, id, 'ops');
    assert.equal(found.length, 1, 'no second message');
    assert.equal(found[0]!.ts, posted.ts);
    assert.equal(found[0]!.versions.length, 2, 'the message was found and updated (idempotent)');
    assert.equal(calls(app.channel, 'conversations.history').length, 1);
  });

  it('classifies answers: membership, token and scope failures are permanent with the fix; 429 defers by Retry-After; 5xx is transient', async () => {
    const app = appTargets([{ name: 'ops' }]);
    const h = await harness({
      ...app.env,
      NOTIFY_TARGETS: 'ops,elsewhere,badtoken',
      NOTIFY_TARGET_ELSEWHERE_KIND: 'slack-app',
      NOTIFY_TARGET_ELSEWHERE_CHANNEL: channelId(),
      NOTIFY_TARGET_ELSEWHERE_TOKEN: app.token,
      NOTIFY_TARGET_BADTOKEN_KIND: 'slack-app',
      NOTIFY_TARGET_BADTOKEN_CHANNEL: channelId(),
      NOTIFY_TARGET_BADTOKEN_TOKEN: 'xoxb-revoked-000000000000',
      NOTIFY_DEFAULT_TARGETS: 'ops,elsewhere,badtoken',
    });
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 2, logs: 'x' } });
    const script = [{ status: 429, retryAfter: 2 }, { status: 503 }];
    stack().slackApi.fault = (method, ch) =>
      ch === app.channel && method === 'chat.postMessage' && script.length ? script.shift() : undefined;
    try {
      const first = await h.invoke(msg(id));
      assert.ok(first.kind === 'deferred' && first.delaySeconds >= 2, JSON.stringify(first));
      const byTarget = Object.fromEntries(first.results.map((r) => [r.target, r]));
      assert.equal(byTarget.elsewhere?.status, 'failed');
      assert.equal(byTarget.badtoken?.status, 'failed');
      assert.ok(
        h.logs.some((l) =>
          /target elsewhere: permanent failure.*not_in_channel: invite the bot to the channel.*NOTIFY_TARGET_ELSEWHERE_CHANNEL/.test(
            l,
          ),
        ),
        h.logs.join('\n'),
      );
      assert.ok(
        h.logs.some((l) => /target badtoken: permanent failure.*invalid_auth: the bot token is not valid/.test(l)),
      );
      await untilNotified(h, first);
    } finally {
      stack().slackApi.fault = undefined;
    }
    assert.deepEqual(
      calls(app.channel, 'chat.postMessage').map((c) => c.status),
      [429, 503, 200],
    );
    const gap = calls(app.channel, 'chat.postMessage')[1]!.at - calls(app.channel, 'chat.postMessage')[0]!.at;
    assert.ok(gap >= 2000, `Retry-After honoured (${gap} ms)`);
    assert.equal(ours(app.channel, id, 'ops').length, 1);
    for (const line of h.logs)
      assert.ok(!line.includes(app.token) && !line.includes('xoxb-revoked'), `a log line leaks a token: ${line}`);

    // missing_scope names the scope to add.
    const h2 = await harness(appTargets([{ name: 'ops' }]).env);
    const id2 = commandId();
    stack().arm.addCommand(CLUSTER, id2, { result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'x' } });
    stack().slackApi.fault = (method) =>
      method === 'chat.postMessage' ? { error: 'missing_scope', needed: 'chat:write' } : undefined;
    try {
      const r = await h2.invoke(msg(id2));
      assert.ok(r.kind === 'notified' && r.results[0]?.status === 'failed', JSON.stringify(r));
    } finally {
      stack().slackApi.fault = undefined;
    }
    assert.ok(
      h2.logs.some((l) => /missing_scope: add the scope chat:write to the app and reinstall it/.test(l)),
      h2.logs.join('\n'),
    );
  });

  it('classifies every answer the issue names, one call each, against the Web API stand-in', async () => {
    const channel = channelId();
    const token = tokenFor();
    stack().slackApi.addBot(token, [channel]);
    const settings = {
      channel,
      token,
      apiUrl: stack().slackApi.url,
      channelSetting: 'NOTIFY_TARGET_OPS_CHANNEL',
      tokenSetting: 'NOTIFY_TARGET_OPS_TOKEN',
    };
    const payload = slackApp.render(messageOf(sampleReport('failed')), { includeLogs: true, target: 'ops' }, 'full');
    const expect: [Record<string, unknown>, string, RegExp][] = [
      [{ error: 'channel_not_found' }, 'permanent', /channel id.*invite it/],
      [{ error: 'not_in_channel' }, 'permanent', /invite the bot/],
      [{ error: 'invalid_auth' }, 'permanent', /bot token is not valid: reinstall/],
      [{ error: 'account_inactive' }, 'permanent', /deactivated.*reinstall/],
      [{ error: 'token_revoked' }, 'permanent', /revoked/],
      [{ error: 'missing_scope', needed: 'files:write' }, 'permanent', /add the scope files:write/],
      [{ status: 429, retryAfter: 7 }, 'transient', /429 ratelimited/],
      [{ error: 'ratelimited' }, 'transient', /ratelimited/],
      [{ error: 'internal_error' }, 'transient', /internal_error/],
      [{ status: 500 }, 'transient', /HTTP 500/],
      [{ status: 503 }, 'transient', /HTTP 503/],
      [{ error: 'invalid_blocks' }, 'refused', /invalid_blocks/],
      [{ error: 'msg_too_long' }, 'refused', /msg_too_long/],
    ];
    try {
      for (const [fault, failure, detail] of expect) {
        stack().slackApi.fault = (method) => (method === 'chat.postMessage' ? (fault as never) : undefined);
        const r = await slackApp.send(settings, payload, { timeoutMs: 2000 });
        assert.ok(
          !r.ok && r.failure === failure && detail.test(r.detail),
          `${JSON.stringify(fault)} → ${JSON.stringify(r)}`,
        );
        if (fault.retryAfter) assert.equal(!r.ok && r.retryAfterSeconds, 7);
        assert.ok(!JSON.stringify(r).includes(token));
      }
      // Network: a refused connection never sent anything; a timeout may have (the lookup covers it).
      const port = await new Promise<number>((done) => {
        const srv = createServer().listen(0, '127.0.0.1', () => {
          const p = (srv.address() as AddressInfo).port;
          srv.close(() => done(p));
        });
      });
      const closed = await slackApp.send({ ...settings, apiUrl: `http://127.0.0.1:${port}/api/` }, payload, {
        timeoutMs: 2000,
      });
      assert.ok(!closed.ok && closed.failure === 'transient' && !closed.mayHaveArrived, JSON.stringify(closed));
      stack().slackApi.fault = (method) => (method === 'chat.postMessage' ? { answerDelayMs: 1500 } : undefined);
      const slow = await slackApp.send(settings, payload, { timeoutMs: 500 });
      assert.ok(!slow.ok && slow.failure === 'transient' && slow.mayHaveArrived, JSON.stringify(slow));
    } finally {
      stack().slackApi.fault = undefined;
    }
  });

  it('a burst of 50 commands finishing together in one channel is delivered without a 429 storm', async () => {
    const app = appTargets([{ name: 'ops' }]);
    const h = await harness(app.env);
    const ids = Array.from({ length: 50 }, () => commandId());
    for (const id of ids)
      stack().arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'ok' } });
    await Promise.all(ids.map((id) => h.main.sendMessage(msg(id))));
    const worker = spawnWorker(h.env);
    try {
      await waitFor(
        '50 messages',
        () => ids.every((id) => ours(app.channel, id, 'ops').length > 0) || undefined,
        120_000,
      );
    } finally {
      await worker.stop();
    }
    const limited = calls(app.channel).filter((c) => c.status === 429).length;
    const posts = calls(app.channel, 'chat.postMessage');
    const seconds = (posts.at(-1)!.at - posts[0]!.at) / 1000;
    console.log(`burst: 50 commands, ${posts.length} posts over ${seconds.toFixed(1)} s, ${limited} answered 429`);
    assert.ok(limited <= 1, `${limited} calls were rate limited`);
    for (const id of ids) assert.equal(ours(app.channel, id, 'ops').length, 1);
  });
});
