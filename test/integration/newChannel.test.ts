// A new kind of channel needs its own module and one registry line, nothing else: this file defines a stub
// provider ("pager": a live message, a secret token, a token from the app's identity for its own service,
// a pace) and drives it through what a real channel goes through — the configuration, `preview`, and
// delivery by the real handler against Azurite, the ARM stand-in and the managed identity endpoint. No
// production file knows of it.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runPreview } from '../../src/cli/preview';
import { ConfigError, loadConfig } from '../../src/config';
import type { Notification } from '../../src/notify/notification';
import type { Provider, SendResult, SettingsContext } from '../../src/notify/provider';
import { registerProvider } from '../../src/notify/registry';
import { settingNames } from '../../src/settings/catalog';
import { commandKey } from '../../src/store/ledgerRows';
import { CLUSTER, CLUSTER_ID, commandId, harness, setUpStack, stack, tearDownStack } from '../support/stack';

const AUDIENCE = 'https://pager.example';

interface PagerSettings {
  url: string;
  token: string;
  urlSetting: string;
}
interface PagerPayload {
  title: string;
  final: boolean;
}
interface Received {
  method: string;
  path: string;
  body: PagerPayload;
  secret: string | undefined;
  appToken: string | undefined;
}

/** The far side of the wire: pages are created (POST) and updated in place (PUT /pages/<id>). */
async function startPager(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  let next = 0;
  const server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        path: req.url ?? '',
        body: JSON.parse(text) as PagerPayload,
        secret: req.headers['x-pager-secret'] as string | undefined,
        appToken: (req.headers.authorization ?? '').replace(/^Bearer /, '') || undefined,
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: req.method === 'POST' ? `p${++next}` : req.url?.split('/').pop() }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

const pager: Provider<PagerSettings> = {
  kind: 'pager',
  docs: 'docs/channels/pager.md',
  options: {
    URL: { doc: 'The pager service.', example: 'https://pager.example/api' },
    SECRET: { doc: 'The integration secret.', secret: true, example: 'pager-secret-example' },
  },
  readSettings(ctx: SettingsContext) {
    const url = ctx.get('URL');
    if (!url) ctx.fail('URL', 'is required');
    const token = ctx.get('SECRET');
    if (!token) ctx.fail('SECRET', 'is required');
    return { url, token, urlSetting: ctx.nameOf('URL') };
  },
  describe: (s) => `the URL in ${s.urlSetting}`,
  identity: (s) => s.url,
  // A chat channel: it renders the neutral message, whatever report it carries.
  render: (message: Notification): PagerPayload => ({ title: message.headline, final: message.final }),
  asText: (payload) => `PAGE: ${(payload as PagerPayload).title}`,
  maxSendMs: (timeoutMs) => timeoutMs + 1000,
  liveMessage: true,
  // One page each 2 s: a result right after the running page waits for its slot.
  pace: { perSecond: 0.5, burst: 1 },
  appTokenAudience: AUDIENCE,
  async send(settings, payload, ctx): Promise<SendResult> {
    const page = ctx.providerState;
    const appToken = ctx.appToken ?? '';
    const response = await fetch(page ? `${settings.url}/pages/${page}` : `${settings.url}/pages`, {
      method: page ? 'PUT' : 'POST',
      headers: {
        'content-type': 'application/json',
        'x-pager-secret': settings.token,
        authorization: `Bearer ${appToken}`,
      },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(ctx.timeoutMs),
    });
    if (!response.ok) return { ok: false, failure: 'transient', detail: `pager answered ${response.status}` };
    return { ok: true, providerState: ((await response.json()) as { id: string }).id };
  },
};

let far: Awaited<ReturnType<typeof startPager>>;

before(async () => {
  registerProvider(pager);
  // The same channel with an audience of its own: a token the SDK has not cached yet.
  registerProvider({ ...pager, kind: 'pager-b', appTokenAudience: 'https://pager-b.example' });
  // A send that dies after its post (the answer lost with it): what it recorded is all the next attempt knows.
  registerProvider({
    ...pager,
    kind: 'pager-c',
    appTokenAudience: (s) => `https://${new URL(s.url).port}.pager-c.example`,
    async send(settings, payload, ctx): Promise<SendResult> {
      const first = await pager.send(settings, payload, ctx);
      if (ctx.providerState || !first.ok || !first.providerState) return first;
      assert.equal(await ctx.record!(first.providerState), 'recorded');
      return { ok: false, failure: 'transient', detail: 'the holder died after its post' };
    },
  });
  far = await startPager();
  await setUpStack();
});
after(async () => {
  far.server.close();
  await tearDownStack();
});

const SECRET = 'pager-secret-0123456789';
const pagerEnv = () => ({
  NOTIFY_TARGETS: 'oncall',
  NOTIFY_TARGET_ONCALL_KIND: 'pager',
  NOTIFY_TARGET_ONCALL_URL: far.url,
  NOTIFY_TARGET_ONCALL_SECRET: SECRET,
});

describe('a channel added from a test file alone', () => {
  it('is configured like every kind: named options, errors that name the setting, secrets masked', () => {
    const config = loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', ...pagerEnv() });
    const target = config.targets.find((t) => t.name === 'oncall')!;
    assert.equal(target.kind, 'pager');
    assert.deepEqual(target.secrets, [SECRET]);
    assert.throws(
      () =>
        loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', ...pagerEnv(), NOTIFY_TARGET_ONCALL_URL: '' }),
      (err: unknown) => err instanceof ConfigError && err.setting === 'NOTIFY_TARGET_ONCALL_URL',
    );
    // A named target's options follow the pattern; the fixed list is the app's and the providers' declared ones.
    assert.ok(!settingNames().some((n) => n.includes('PAGER')));
  });

  it('is previewed from its own render and text, configured or from its declared examples', () => {
    let text = '';
    const out = { write: (s: string) => ((text += s), true) };
    runPreview({ outcome: 'failed', text: true }, out, { ...pagerEnv() });
    assert.match(text, /target "oncall" \(pager\): the message while the command runs\nPAGE: Running on/);
    assert.match(text, /PAGE: Command failed/);
    text = '';
    runPreview({ outcome: 'succeeded', text: true, targets: ['pager'] }, out, {});
    assert.match(text, /PAGE: Command succeeded/);
  });

  it('is delivered by the real handler: a live page posted while the command runs, then updated with the result', async () => {
    const h = await harness(pagerEnv());
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, {
      steps: [{ status: 202, body: { id, properties: { provisioningState: 'Running' } } }],
      result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'ok\n' },
    });
    const before = far.received.length;
    // The pace is judged on a clock that stands still until the result has met it.
    const frozen = performance.now();
    h.rt.deps.monotonic = () => frozen;
    await h.main.sendMessage(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id, targets: ['oncall'] }));
    const outcomes = [];
    for (let i = 0; i < 5 && outcomes.at(-1)?.kind !== 'notified'; i++) {
      const outcome = (await h.pollOnce())!.outcome;
      outcomes.push(outcome);
      if (outcome.kind === 'deferred') h.rt.deps.monotonic = () => performance.now();
    }
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['requeued', 'deferred', 'notified'],
    );
    assert.match((outcomes[1] as { reason: string }).reason, /oncall: paced/);
    const mine = far.received.slice(before);
    assert.deepEqual(
      mine.map((r) => [r.method, r.path, r.body.final]),
      [
        ['POST', '/pages', false],
        ['PUT', '/pages/p1', true],
      ],
    );
    assert.equal(mine[1]!.body.title, 'Command succeeded');
    for (const r of mine) {
      assert.equal(r.secret, SECRET);
      assert.ok(r.appToken && stack().identity.validate(r.appToken, AUDIENCE), "a token for the pager's audience");
    }
    assert.ok(!h.logs.join('\n').includes(SECRET));
    // The app's own resources are never a channel's audience (its identity holds roles on them).
    for (const own of ['https://management.azure.com', 'https://storage.azure.com/', 'https://vault.azure.net']) {
      await assert.rejects(h.rt.deps.appToken!(own), /one of the app's own resources/);
    }
    assert.equal(h.rt.redact(`leaked ${SECRET}`).includes(SECRET), false, 'its secret option is masked in logs');
    const { targets } = await h.rt.ledger.load(commandKey(CLUSTER_ID, id));
    assert.deepEqual(
      targets.map((t) => [t.name, t.state]),
      [['oncall', 'delivered']],
    );
  });

  it('keeps what a send records at once: the next attempt updates the page a dying one posted, with a token for the audience its settings pick', async () => {
    const h = await harness({ ...pagerEnv(), NOTIFY_TARGET_ONCALL_KIND: 'pager-c' });
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'ok\n' } });
    const before = far.received.length;
    await h.main.sendMessage(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id, targets: ['oncall'] }));
    assert.equal((await h.pollOnce())!.outcome.kind, 'deferred');
    assert.equal((await h.pollOnce(15_000))!.outcome.kind, 'notified');
    const mine = far.received.slice(before);
    assert.deepEqual(
      mine.map((r) => r.method),
      ['POST', 'PUT'],
      'the page the dying send posted is updated, not posted again',
    );
    assert.match(mine[1]!.path, /^\/pages\/p\d+$/);
    const audience = `https://${new URL(far.url).port}.pager-c.example`;
    for (const r of mine) assert.ok(r.appToken && stack().identity.validate(r.appToken, audience));
  });

  it('waits out an identity endpoint that is down: nothing is posted without its token, and the page goes once it answers', async () => {
    const h = await harness({
      ...pagerEnv(),
      NOTIFY_TARGET_ONCALL_KIND: 'pager-b',
    });
    // ARM's token first, so that only the pager's is refused.
    await h.rt.deps.arm.read(CLUSTER, commandId());
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'ok\n' } });
    const before = far.received.length;
    await h.main.sendMessage(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id, targets: ['oncall'] }));
    stack().identity.faults.failNext = { count: 100, status: 500 };
    let first;
    try {
      first = (await h.pollOnce())!.outcome;
    } finally {
      stack().identity.faults.failNext = undefined;
    }
    assert.equal(first.kind, 'deferred');
    assert.match(
      (first as { reason: string }).reason,
      /oncall: no token for https:\/\/pager-b\.example from the app's identity/,
    );
    assert.equal(far.received.length, before, 'nothing was posted without the token');
    const next = (await h.pollOnce(15_000))!.outcome;
    assert.equal(next.kind, 'notified');
    assert.deepEqual(
      far.received.slice(before).map((r) => [r.method, r.body.final]),
      [['POST', true]],
    );
  });
});
