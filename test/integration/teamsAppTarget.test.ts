// The Teams app target against the Bot Connector stand-in (HTTPS, a bearer token for the bot service's
// audience from the managed identity endpoint, new threads, updates in place, replies, Teams' refusals),
// with the ledger in Azurite: one live card per command, replaced in place by the result; the full logs
// byte for byte in its thread; each classified answer behaving as classified; the card's life (deleted,
// app uninstalled, channel changed, redeliver).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BOT_SERVICE_AUDIENCE, type TeamsActivity, type TeamsThreadMessage } from '../../dev/botConnectorStandIn';
import { openOperatorStores } from '../../src/cli/operator';
import { redeliver } from '../../src/cli/redeliver';
import { loadConfig, ConfigError } from '../../src/config';
import { compose } from '../../src/notify/compose';
import { payloadFor } from '../../src/notify/provider';
import { TEAMS_MAX_BYTES } from '../../src/notify/teams/card';
import { sampleReport } from '../../src/notify/samples';
import { REPLIES_MAX, splitLogs } from '../../src/notify/providers/teamsApp/replies';
import { commandKey } from '../../src/store/ledgerRows';
import {
  CLUSTER,
  CLUSTER_ID,
  commandId,
  harness,
  setUpStack,
  stack,
  tearDownStack,
  type Harness,
} from '../support/stack';

before(setUpStack);
after(tearDownStack);

const channelId = () => `19:${randomBytes(16).toString('hex')}@thread.tacv2`;
const msg = (id: string) =>
  JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id, command: 'kubectl rollout status deploy/web' });
const title = (a: TeamsActivity | undefined) => String(a?.attachments?.[0]?.content?.body?.[0]?.items?.[0]?.text ?? '');
const runs = (a: TeamsActivity | undefined): string => JSON.stringify(a?.attachments?.[0]?.content ?? {});
/** The log text a reply carries. */
const replyText = (a: TeamsActivity) => String(a.attachments?.[0]?.content?.body?.[1]?.inlines?.[0]?.text ?? '');

/** Logs as ARM may return them: long, with escape sequences, markdown, mentions and non-ASCII text. */
function hostileLogs(lines = 400): string {
  return (
    Array.from(
      { length: lines },
      (_, i) =>
        `${i} \u001b[31mERR\u001b[0m **bold** [click](https://evil.example) <at>all</at> ünïcödé 🚀 ${'x'.repeat(40)}\r\n`,
    ).join('') + 'last line, no newline'
  );
}

function teamsTarget(channel = channelId(), options: Record<string, string> = {}) {
  stack().bot.addChannel(channel);
  const env: Record<string, string> = {
    SLACK_WEBHOOK_URL: '',
    TEAMS_WEBHOOK_URL: '',
    NOTIFY_TARGETS: 'ops',
    NOTIFY_TARGET_OPS_KIND: 'teams-app',
    NOTIFY_TARGET_OPS_CHANNEL: channel,
    NOTIFY_TARGET_OPS_SERVICE_URL: stack().bot.url,
  };
  for (const [k, v] of Object.entries(options)) env[`NOTIFY_TARGET_OPS_${k}`] = v;
  return { channel, env };
}

const OK = { provisioningState: 'Succeeded', exitCode: 0, logs: 'ok\n' };

/** A harness on these settings, and a command ARM knows: final at the first read (OK), unless told otherwise. */
async function withCommand(env: Record<string, string>, command: { runSeconds?: number; result?: typeof OK } = {}) {
  const h = await harness(env);
  const id = commandId();
  stack().arm.addCommand(CLUSTER, id, { ...command, result: command.result ?? OK });
  return { h, id };
}

/** The target's row in the ledger. */
const rowOf = async (h: Harness, id: string) => (await h.rt.ledger.load(commandKey(CLUSTER_ID, id))).targets[0]!;

async function untilSettled(h: Harness, rounds = 20) {
  let last;
  for (let i = 0; i < rounds; i++) {
    const got = await h.pollOnce(15_000);
    if (!got) break;
    last = got.outcome;
    if (last.kind === 'notified' || last.kind === 'poisoned') break;
  }
  return last;
}

const calls = (channel: string) => stack().bot.calls.filter((c) => c.channel === channel);
const cards = (channel: string): TeamsThreadMessage[] => stack().bot.inChannel(channel);

describe('Teams app target', () => {
  it('posts a running card at the first poll that sees the command running, replaces it in place with the result, and puts the full logs in its thread byte for byte', async () => {
    const t = teamsTarget();
    const h = await harness(t.env);
    const id = commandId();
    // Several replies' worth.
    const logs = hostileLogs(1500);
    stack().arm.addCommand(CLUSTER, id, {
      runSeconds: 2,
      result: { provisioningState: 'Succeeded', exitCode: 1, logs },
    });
    const first = await h.invoke(msg(id));
    assert.equal(first.kind, 'requeued');
    assert.equal(cards(t.channel).length, 1, 'a running card within one poll');
    assert.match(title(cards(t.channel)[0]!.versions[0]), /Running on/);
    const outcome = await untilSettled(h);
    assert.equal(outcome?.kind, 'notified', JSON.stringify(outcome));
    const [card, ...others] = cards(t.channel);
    assert.equal(others.length, 0, 'one card per command');
    assert.equal(card!.versions.length, 2, 'updated in place');
    assert.match(title(card!.versions[1]), /exited with code 1|failed/i);
    const final = card!.versions[1]!;
    assert.ok(
      Buffer.byteLength(JSON.stringify(final)) <= TEAMS_MAX_BYTES + 200,
      'the card stays within the webhook card budget',
    );
    assert.match(runs(final), /Logs \(end\)/);
    assert.match(runs(final), /The full logs follow in this thread/);
    // Inert: no markdown anywhere untrusted text lands, only TextRuns.
    for (const e of final.attachments![0]!.content!.body as Record<string, unknown>[])
      if (e.type === 'TextBlock')
        assert.ok(!String(e.text).includes('evil.example'), 'untrusted text only in TextRuns');
    assert.ok(card!.replies.length > 1);
    assert.equal(card!.replies.length, splitLogs(logs).parts.length);
    assert.equal(card!.replies.map(replyText).join(''), logs, 'the full logs, byte for byte, in the thread');
    assert.ok(card!.replies.every((r) => r.replyToId === card!.activityId));
    for (const c of calls(t.channel))
      assert.ok(c.authorization && stack().identity.validate(c.authorization.slice(7), BOT_SERVICE_AUDIENCE));
    const row = await rowOf(h, id);
    assert.equal(row.state, 'delivered');
    assert.match(row.providerState ?? '', new RegExp(card!.activityId));
  });

  it('posts a command already final at first sight as final, without replies when the card shows every line', async () => {
    const t = teamsTarget();
    const { h, id } = await withCommand(t.env);
    assert.equal((await h.invoke(msg(id))).kind, 'notified');
    const [card] = cards(t.channel);
    assert.equal(card!.versions.length, 1);
    assert.match(title(card!.versions[0]), /succeeded/i);
    assert.equal(card!.replies.length, 0);
  });

  it('splits logs into replies within the bot message limit, at most REPLIES_MAX, saying what is left out', () => {
    const logs = hostileLogs(6000);
    const { parts, omittedBytes } = splitLogs(logs);
    assert.ok(parts.length <= REPLIES_MAX);
    for (const p of parts) assert.ok(Buffer.byteLength(JSON.stringify(p)) <= 60 * 1024 + 2);
    assert.equal(Buffer.byteLength(parts.join('')) + omittedBytes, Buffer.byteLength(logs));
    const arm512k = 'y'.repeat(100) + '\n';
    const whole = splitLogs(arm512k.repeat(Math.floor(512_000 / arm512k.length)));
    assert.equal(whole.omittedBytes, 0, "ARM's 512 kB of plain logs fit whole");
    const oneLine = splitLogs('🚀'.repeat(40_000));
    assert.equal(oneLine.parts.join(''), '🚀'.repeat(40_000), 'a long line splits at code points');
  });

  it('classifies answers: not installed, unknown channel, refused token, too big, throttled', async () => {
    // Not installed in the team: failed, with the fix.
    {
      const t = teamsTarget();
      stack().bot.install(t.channel, false);
      const { h, id } = await withCommand(t.env);
      await h.invoke(msg(id));
      const row = await rowOf(h, id);
      assert.equal(row.state, 'failed');
      assert.match(row.lastError ?? '', /403 BotNotInConversationRoster.*install the app in the team/);
    }
    // A channel the service does not know: check _CHANNEL.
    {
      const t = teamsTarget();
      const { h, id } = await withCommand({ ...t.env, NOTIFY_TARGET_OPS_CHANNEL: channelId() });
      await h.invoke(msg(id));
      const row = await rowOf(h, id);
      assert.equal(row.state, 'failed');
      assert.match(row.lastError ?? '', /404 ConversationNotFound.*check that NOTIFY_TARGET_OPS_CHANNEL/);
    }
    // 401: the bot registration or identity.
    {
      const t = teamsTarget();
      stack().bot.fault = (_op, ch) => (ch === t.channel ? { status: 401, code: 'Unauthorized' } : undefined);
      try {
        const { h, id } = await withCommand(t.env);
        await h.invoke(msg(id));
        const row = await rowOf(h, id);
        assert.equal(row.state, 'failed');
        assert.match(row.lastError ?? '', /401.*the Azure Bot's app id must be the app's identity/);
      } finally {
        stack().bot.fault = undefined;
      }
    }
    // 413: the minimal card.
    {
      const t = teamsTarget();
      stack().bot.fault = (op, ch, body) =>
        ch === t.channel && op === 'create' && JSON.stringify(body).length > 8000
          ? { status: 413, code: 'MessageSizeTooBig' }
          : undefined;
      try {
        const h = await harness(t.env);
        const id = commandId();
        const logs = hostileLogs();
        stack().arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Failed', exitCode: 2, logs } });
        assert.equal((await h.invoke(msg(id))).kind, 'notified');
        const [card] = cards(t.channel);
        assert.ok(!runs(card!.versions[0]).includes('Logs (end)'), 'the minimal card');
        assert.match(runs(card!.versions[0]), /The full logs follow in this thread/);
        assert.equal(card!.replies.map(replyText).join(''), logs);
        const row = await rowOf(h, id);
        assert.equal(row.form, 'minimal');
      } finally {
        stack().bot.fault = undefined;
      }
    }
    // 429 with Retry-After (and 412, 502, 504): deferred as every channel, then posted once.
    for (const status of [429, 412, 502, 504]) {
      const t = teamsTarget();
      let refused = 0;
      stack().bot.fault = (_op, ch) => (ch === t.channel && refused++ === 0 ? { status, retryAfter: 1 } : undefined);
      try {
        const { h, id } = await withCommand(t.env);
        const first = await h.invoke(msg(id));
        assert.equal(first.kind, 'deferred', `${status}: ${JSON.stringify(first)}`);
        assert.equal((await untilSettled(h))?.kind, 'notified');
        assert.equal(cards(t.channel).length, 1);
      } finally {
        stack().bot.fault = undefined;
      }
    }
  });

  it('lives as a card does: deleted → posted again; app uninstalled → failed with the fix, then redeliver posts a new card; _CHANNEL changed → the next card goes there', async () => {
    // Deleted by a member while the command runs: the result is posted again, once.
    {
      const t = teamsTarget();
      const { h, id } = await withCommand(t.env, { runSeconds: 2 });
      await h.invoke(msg(id));
      stack().bot.deleteMessage(cards(t.channel)[0]!.conversationId);
      assert.equal((await untilSettled(h))?.kind, 'notified');
      const left = cards(t.channel);
      assert.equal(left.length, 1);
      assert.match(title(left[0]!.versions.at(-1)), /succeeded/i);
      assert.ok(h.logs.some((l) => /the card was deleted in the channel; it was posted again/.test(l)));
    }
    // Uninstalled after the card was posted: the result's update is refused for good (no second thread), and
    // the target fails with the fix.
    {
      const t = teamsTarget();
      const { h, id } = await withCommand(t.env, { runSeconds: 2 });
      await h.invoke(msg(id));
      assert.equal(cards(t.channel).length, 1);
      stack().bot.install(t.channel, false);
      await untilSettled(h);
      assert.equal(cards(t.channel).length, 1);
      const row = await rowOf(h, id);
      assert.equal(row.state, 'failed');
      assert.match(
        row.lastError ?? '',
        /update: .*403 BotNotInConversationRoster.*removed from the team after its card was posted.*install the app/,
      );
      // Installed again, redeliver posts a new card with the result.
      stack().bot.install(t.channel, true);
      await redeliver(openOperatorStores(h.env), { cluster: CLUSTER_ID, commandId: id }, () => undefined);
      assert.equal((await untilSettled(h))?.kind, 'notified');
      const now = cards(t.channel);
      assert.equal(now.length, 2, 'a new card');
      assert.match(title(now[1]!.versions[0]), /succeeded/i);
    }
    // _CHANNEL changed while the command runs: the result goes to the new channel.
    {
      const t = teamsTarget();
      const { h, id } = await withCommand(t.env, { runSeconds: 2 });
      await h.invoke(msg(id));
      const moved = teamsTarget();
      const h2 = await harness({ ...t.env, NOTIFY_TARGET_OPS_CHANNEL: moved.channel, COMMAND_QUEUE_NAME: h.queueName });
      assert.equal((await untilSettled(h2))?.kind, 'notified');
      assert.equal(cards(moved.channel).length, 1);
      assert.match(title(cards(moved.channel)[0]!.versions[0]), /succeeded/i);
    }
  });

  it('sends its token to the bot service only: no redirect followed, no proxy used; another 403 names _TENANT', async () => {
    // A redirect to another host: not followed, so the token never reaches it.
    const seen: string[] = [];
    const other = createServer((req, res) => {
      seen.push(String(req.headers.authorization ?? 'none'));
      res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"x","activityId":"1"}');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    const proxy = createNetServer((socket) => (seen.push('proxy'), socket.destroy()));
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const saved = {
      HTTPS_PROXY: process.env.HTTPS_PROXY,
      https_proxy: process.env.https_proxy,
      NO_PROXY: process.env.NO_PROXY,
      no_proxy: process.env.no_proxy,
    };
    try {
      const t = teamsTarget();
      stack().bot.fault = (_op, ch) =>
        ch === t.channel ? { redirectTo: `${otherUrl}/teams/v3/conversations` } : undefined;
      const { h, id } = await withCommand(t.env);
      await h.invoke(msg(id));
      const row = await rowOf(h, id);
      assert.equal(row.state, 'failed');
      assert.match(row.lastError ?? '', /302.*check NOTIFY_TARGET_OPS_SERVICE_URL/);
      stack().bot.fault = undefined;
      // A proxy in the environment is not used for the bot service (the token would pass through it).
      const t2 = teamsTarget();
      const target = loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', ...t2.env }).targets.find(
        (x) => x.name === 'ops',
      )!;
      const appToken = await h.rt.deps.appToken!(BOT_SERVICE_AUDIENCE);
      const payload = payloadFor(target, compose(sampleReport('succeeded'), 'https://management.azure.com'), 'full');
      const p = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      Object.assign(process.env, { HTTPS_PROXY: p, https_proxy: p });
      delete process.env.NO_PROXY;
      delete process.env.no_proxy;
      const sent = await target.provider.send(target.settings, payload, { timeoutMs: 2000, appToken });
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      assert.equal(sent.ok, true, JSON.stringify(sent));
      assert.equal(cards(t2.channel).length, 1, 'posted directly');
      assert.deepEqual(seen, [], 'neither the redirect target nor the proxy saw a request');
    } finally {
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      stack().bot.fault = undefined;
      other.close();
      proxy.close();
    }
    // A 403 that is not about the roster (here: the tenant does not match the team's) names _TENANT.
    const t = teamsTarget();
    const { h, id } = await withCommand({ ...t.env, NOTIFY_TARGET_OPS_TENANT: '11111111-2222-3333-4444-555555555555' });
    await h.invoke(msg(id));
    const row = await rowOf(h, id);
    assert.match(row.lastError ?? '', /403 Forbidden.*check that NOTIFY_TARGET_OPS_TENANT names the team's tenant/);
  });

  it('refuses settings that would send its token elsewhere, or that name no channel', () => {
    const base = { AzureWebJobsStorage: 'UseDevelopmentStorage=true', ...teamsTarget().env };
    for (const [option, value] of [
      ['SERVICE_URL', 'https://evil.example/teams/'],
      ['SERVICE_URL', 'http://smba.trafficmanager.net/teams/'],
      ['CHANNEL', 'General'],
      ['TENANT', 'contoso'],
    ] as const) {
      assert.throws(
        () => loadConfig({ ...base, [`NOTIFY_TARGET_OPS_${option}`]: value }),
        (err: unknown) => err instanceof ConfigError && err.setting === `NOTIFY_TARGET_OPS_${option}`,
        `${option}=${value}`,
      );
    }
    const gov = loadConfig({
      ...base,
      NOTIFY_TARGET_OPS_SERVICE_URL: 'https://smba.infra.gov.teams.microsoft.us/teams',
    });
    const target = gov.targets.find((x) => x.name === 'ops')!;
    assert.equal(
      (target.provider.appTokenAudience as (s: unknown) => string)(target.settings),
      'https://api.botframework.us',
    );
  });
});
