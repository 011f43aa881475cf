// The exported handler against Azurite, the HTTPS ARM stand-in, the managed identity endpoint and the
// Slack/Teams receivers. No mocks on this side of the wire.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { REQUIRED_PERMISSION } from '../../src/core/report';
import {
  CLUSTER,
  CLUSTER_ID,
  commandId,
  harness,
  setUpStack,
  stack,
  tearDownStack,
  visibleCount,
} from '../support/stack';

before(setUpStack);
after(tearDownStack);

const message = (id: string, extra: Record<string, unknown> = {}) => ({
  clusterResourceId: CLUSTER_ID,
  commandId: id,
  ...extra,
});

describe('pipeline (handler)', () => {
  it('202 three times then 200 gives exactly one Slack and one Teams post with the result', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, {
      steps: [202, 202, 202].map((status) => ({ status, body: { id, properties: { provisioningState: 'Running' } } })),
      result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'namespace dummy created\n' },
    });
    await h.main.sendMessage(
      JSON.stringify(message(id, { command: 'kubectl create ns dummy', context: { requestedBy: 'ci' } })),
    );
    const outcomes = [];
    for (let i = 0; i < 4; i++) {
      const r = await h.pollOnce();
      assert.ok(r, `poll ${i + 1} found no message`);
      outcomes.push(r.outcome);
    }
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['requeued', 'requeued', 'requeued', 'notified'],
    );
    assert.equal(await visibleCount(h.main), 0);
    assert.equal(stack().arm.readsFor(id).length, 4);

    const slack = stack().receivers.for('slack', h.channel);
    const teams = stack().receivers.for('teams', h.channel);
    assert.equal(slack.length, 1);
    assert.equal(teams.length, 1);
    const slackJson = JSON.stringify(slack[0]!.body);
    for (const fact of [
      CLUSTER.resourceName,
      id,
      'kubectl create ns dummy',
      'Command succeeded',
      'namespace dummy created',
      'requested by',
    ]) {
      assert.ok(slackJson.includes(fact), `Slack message lacks ${fact}`);
    }
    const card = (teams[0]!.body as { attachments: { contentType: string; content: { version: string } }[] })
      .attachments[0]!;
    assert.equal(card.contentType, 'application/vnd.microsoft.card.adaptive');
    assert.equal(card.content.version, '1.4');
    const teamsJson = JSON.stringify(card);
    for (const fact of [CLUSTER.resourceName, id, 'Exit code', 'namespace dummy created'])
      assert.ok(teamsJson.includes(fact), `card lacks ${fact}`);
  });

  it('keeps a re-enqueued message invisible for the chosen delay', async () => {
    const h = await harness({ POLL_INITIAL_DELAY_SECONDS: '3', POLL_MAX_DELAY_SECONDS: '3' });
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, {});
    const outcome = await h.invoke(message(id));
    assert.equal(outcome.kind, 'requeued');
    assert.ok(
      outcome.kind === 'requeued' && outcome.delaySeconds >= 2 && outcome.delaySeconds <= 3,
      JSON.stringify(outcome),
    );
    const props = await h.main.getProperties();
    assert.equal(props.approximateMessagesCount, 1, 'the message is in the queue');
    const delayMs = (outcome.kind === 'requeued' ? outcome.delaySeconds : 0) * 1000;
    const sentAt = h.sent.at(-1)!.at;
    const invisible = await visibleCount(h.main);
    // Checked only while the delay surely runs: a machine that stalled past it has nothing to show here.
    if (Date.now() - sentAt < delayMs - 500) assert.equal(invisible, 0, 'but not visible yet');
    const r = await h.pollOnce(8000);
    assert.ok(r);
    // From the re-enqueue, not from when this test began to look: a stall in between only makes it longer.
    assert.ok(r.receivedAt - sentAt >= delayMs - 300, `visible ${r.receivedAt - sentAt} ms after the re-enqueue`);
    const body = JSON.parse(r.text) as { _notifier: { attempt: number; firstSeenAt: string; deadlineAt: string } };
    assert.equal(body._notifier.attempt, 1);
    assert.equal(Date.parse(body._notifier.deadlineAt) - Date.parse(body._notifier.firstSeenAt), 120 * 60_000);
  });

  it('honours Retry-After within the max delay', async () => {
    // A 429 empties the read budget; a huge refill rate keeps this test about the delay alone.
    const h = await harness({
      POLL_INITIAL_DELAY_SECONDS: '1',
      POLL_MAX_DELAY_SECONDS: '30',
      ARM_READS_PER_SECOND: '10000',
      ARM_READ_BURST: '10000',
    });
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, {
      steps: [
        { status: 202, body: { properties: { provisioningState: 'Running' } }, headers: { 'retry-after': '4' } },
        { status: 429, body: { error: { code: 'TooManyRequests' } }, headers: { 'retry-after': '2' } },
        { status: 202, headers: { 'retry-after': '600' } },
      ],
    });
    const first = await h.invoke(message(id));
    assert.deepEqual(first.kind === 'requeued' && first.delaySeconds, 4);
    const second = await h.invokeNext();
    assert.ok(second.kind === 'requeued' && second.delaySeconds >= 2, JSON.stringify(second));
    // The 429's Retry-After holds back every read of the subscription (the app's budget), not only this one.
    // Real time: the hold and the read slot are kept on the runtime's own clocks, which this test of the
    // wired runtime does not replace (test/unit/pipeline/poll.test.ts decides the same on a settable clock).
    await new Promise((r) => setTimeout(r, 2100));
    const third = await h.invokeNext();
    assert.deepEqual(
      third.kind === 'requeued' && third.delaySeconds,
      30,
      'Retry-After beyond POLL_MAX_DELAY_SECONDS is capped',
    );
  });

  it('404 ends in one "not found" notification', async () => {
    const h = await harness();
    const id = commandId();
    const outcome = await h.invoke(message(id));
    assert.deepEqual(outcome.kind === 'notified' && outcome.outcome, 'notFound');
    assert.equal(await visibleCount(h.main), 0);
    const [slack] = stack().receivers.for('slack', h.channel);
    assert.match(JSON.stringify(slack!.body), /not found/i);
    assert.equal(stack().receivers.for('teams', h.channel).length, 1);
  });

  it('403 ends in one notification naming the missing permission', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, {
      steps: [
        { status: 403, body: { error: { code: 'AuthorizationFailed', message: 'does not have authorization' } } },
      ],
    });
    const outcome = await h.invoke(message(id));
    assert.deepEqual(outcome.kind === 'notified' && outcome.outcome, 'forbidden');
    const [slack] = stack().receivers.for('slack', h.channel);
    assert.ok(JSON.stringify(slack!.body).includes(REQUIRED_PERMISSION));
    assert.equal(stack().receivers.for('slack', h.channel).length, 1);
    assert.equal(stack().receivers.for('teams', h.channel).length, 1);
  });

  it('a Succeeded result with a non-zero exit code is a failure showing the code; Failed shows the reason', async () => {
    const h = await harness();
    const exitId = commandId();
    const failedId = commandId();
    stack().arm.addCommand(CLUSTER, exitId, { result: { provisioningState: 'succeeded', exitCode: 3, logs: 'boom' } });
    stack().arm.addCommand(CLUSTER, failedId, { result: { provisioningState: 'failed', reason: 'ImagePullBackoff' } });
    const a = await h.invoke(message(exitId));
    const b = await h.invoke(message(failedId));
    assert.deepEqual([a.kind === 'notified' && a.outcome, b.kind === 'notified' && b.outcome], ['exitCode', 'failed']);
    const posts = stack()
      .receivers.for('slack', h.channel)
      .map((r) => JSON.stringify(r.body));
    assert.ok(posts[0]!.includes('exit code 3'));
    assert.ok(posts[1]!.includes('ImagePullBackoff'));
  });

  it('429 and 5xx re-enqueue with backoff instead of failing the invocation', async () => {
    const h = await harness({
      POLL_INITIAL_DELAY_SECONDS: '2',
      POLL_MAX_DELAY_SECONDS: '20',
      ARM_READS_PER_SECOND: '10000',
      ARM_READ_BURST: '10000',
    });
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, {
      steps: [
        { status: 429, body: { error: { code: 'TooManyRequests' } } },
        { status: 503 },
        { status: 503 },
        { status: 503 },
      ],
    });
    const throttled = await h.invoke(
      message(id, {
        _notifier: {
          attempt: 3,
          firstSeenAt: new Date().toISOString(),
          deadlineAt: new Date(Date.now() + 3600_000).toISOString(),
          lastDelaySeconds: 4,
        },
      }),
    );
    assert.ok(
      throttled.kind === 'requeued' && throttled.delaySeconds >= 6,
      `throttled poll backs off from the last delay: ${JSON.stringify(throttled)}`,
    );
    // 503 three times: the pipeline's two quick retries, then a delayed re-enqueue.
    const unavailable = await h.invokeNext();
    assert.equal(unavailable.kind, 'requeued');
    assert.equal(stack().arm.readsFor(id).length, 4);
  });

  it('gives up at the deadline with a "still running" notification, never silently', async () => {
    const h = await harness({ POLL_TIMEOUT_MINUTES: '0.05' });
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, {});
    const past = new Date(Date.now() - 5000).toISOString();
    const outcome = await h.invoke(
      message(id, {
        _notifier: { attempt: 9, firstSeenAt: new Date(Date.now() - 65_000).toISOString(), deadlineAt: past },
      }),
    );
    assert.deepEqual(outcome.kind === 'notified' && outcome.outcome, 'timedOut');
    assert.match(JSON.stringify(stack().receivers.for('slack', h.channel)[0]!.body), /gave up waiting/);
  });

  it('sends a malformed message to the poison queue with the reason, and a bad path segment never reaches ARM', async () => {
    const h = await harness();
    const before = stack().arm.requests.length;
    const bad = [
      'not json at all',
      JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: '../../../subscriptions' }),
      JSON.stringify({ clusterResourceId: `${CLUSTER_ID}/../../x`, commandId: 'abc' }),
      JSON.stringify({
        subscriptionId: CLUSTER.subscriptionId,
        resourceGroupName: 'rg%2F..',
        resourceName: 'aks',
        commandId: 'abc',
      }),
      JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: 'abc?x=1' }),
      JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: 'abc', targets: ['nope'] }),
    ];
    for (const text of bad) {
      const outcome = await h.invoke(text);
      assert.equal(outcome.kind, 'poisoned', text);
    }
    assert.equal(stack().arm.requests.length, before, 'no ARM request was made');
    const poisoned = (await h.poison.receiveMessages({ numberOfMessages: 32 })).receivedMessageItems.map(
      (m) => JSON.parse(m.messageText) as { reason: string; original: string },
    );
    assert.equal(poisoned.length, bad.length);
    assert.deepEqual(poisoned.map((p) => p.original).sort(), [...bad].sort());
    assert.ok(poisoned.every((p) => p.reason.length > 10));
    assert.ok(poisoned.some((p) => /unknown notification target\(s\): nope/.test(p.reason)));
  });

  it('accepts base64-encoded messages and the API page field names', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 0 } });
    const text = Buffer.from(JSON.stringify({ ...CLUSTER, commandId: id })).toString('base64');
    const outcome = await h.invoke(text);
    assert.deepEqual(outcome.kind === 'notified' && outcome.outcome, 'succeeded');
  });

  it('sends the bearer token only to ARM and logs no token, identity header or webhook URL', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, {
      steps: [{ status: 202 }],
      result: { provisioningState: 'Succeeded', exitCode: 0 },
    });
    await h.invoke(message(id));
    await h.invokeNext();
    const reads = stack().arm.readsFor(id);
    assert.ok(reads.length === 2 && reads.every((r) => r.authorized), 'ARM got a valid token each time');
    assert.ok(
      stack().receivers.received.every((r) => r.authorization === undefined),
      'no webhook got an Authorization header',
    );
    const secrets = [
      ...stack().identity.tokens.keys(),
      stack().identity.header,
      h.env.SLACK_WEBHOOK_URL!,
      h.env.TEAMS_WEBHOOK_URL!,
    ];
    assert.ok(h.logs.length > 0);
    for (const line of h.logs)
      for (const secret of secrets) assert.ok(!line.includes(secret), `log line leaks a secret: ${line}`);
  });
});

describe('token hygiene against redirects', () => {
  it('never follows a Location or a redirect to another host with the token', async () => {
    const { createServer } = await import('node:https');
    const seen: string[] = [];
    const evil = createServer({ key: stack().tls.key, cert: stack().tls.cert }, (req, res) => {
      seen.push(`${req.method} ${req.url} auth=${req.headers.authorization ? 'yes' : 'no'}`);
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end('{"properties":{"provisioningState":"Succeeded","exitCode":0}}');
    });
    await new Promise<void>((r) => evil.listen(0, 'localhost', r));
    const evilUrl = `https://localhost:${(evil.address() as { port: number }).port}/steal`;
    try {
      const h = await harness();
      const id = commandId();
      stack().arm.addCommand(CLUSTER, id, {
        steps: [
          { status: 202, headers: { location: evilUrl } },
          { status: 307, headers: { location: evilUrl } },
          { status: 302, headers: { location: evilUrl } },
        ],
      });
      assert.equal((await h.invoke(message(id))).kind, 'requeued');
      const redirected = await h.invokeNext();
      assert.deepEqual(redirected.kind === 'notified' && redirected.outcome, 'error');
      assert.deepEqual(seen, [], 'the other host got nothing');
      assert.match(JSON.stringify(stack().receivers.for('slack', h.channel)[0]!.body), /redirects are not followed/);
    } finally {
      evil.close();
    }
  });
});

describe('ARM read budget', () => {
  it("defers polls beyond the budget without calling ARM, and follows ARM's remaining-reads header", async () => {
    // The budget refills with time: its clock stands still here, so that a slow machine between two
    // invocations cannot refill a token and turn a deferral into a read.
    const frozen = () => 1_000_000;
    const h = await harness({ ARM_READ_BURST: '1', ARM_READS_PER_SECOND: '1' });
    h.rt.deps.monotonic = frozen;
    const ids = [commandId(), commandId(), commandId()];
    for (const id of ids) stack().arm.addCommand(CLUSTER, id, {});
    const outcomes = [];
    for (const id of ids) outcomes.push(await h.invoke(message(id)));
    assert.deepEqual(
      outcomes.map((o) => o.kind === 'requeued' && o.state),
      ['Running', 'deferred (read budget)', 'deferred (read budget)'],
    );
    assert.deepEqual(
      outcomes.slice(1).map((o) => o.kind === 'requeued' && o.delaySeconds),
      [1, 2],
      'spaced one slot apart',
    );
    assert.deepEqual(
      ids.map((id) => stack().arm.readsFor(id).length),
      [1, 0, 0],
    );

    const h2 = await harness({ ARM_READ_BURST: '100' });
    h2.rt.deps.monotonic = frozen;
    const a = commandId();
    const b = commandId();
    stack().arm.addCommand(CLUSTER, a, {
      steps: [{ status: 202, headers: { 'x-ms-ratelimit-remaining-subscription-reads': '0' } }],
    });
    stack().arm.addCommand(CLUSTER, b, {});
    await h2.invoke(message(a));
    const deferred = await h2.invoke(message(b));
    assert.deepEqual(deferred.kind === 'requeued' && deferred.state, 'deferred (read budget)');
    assert.equal(stack().arm.readsFor(b).length, 0);
  });

  it("counts case variants of one subscription as one, as ARM's throttling does", async () => {
    const h = await harness({ ARM_READ_BURST: '1', ARM_READS_PER_SECOND: '1' });
    h.rt.deps.monotonic = () => 1_000_000;
    const sub = 'abcdef01-2222-3333-4444-5555555555aa';
    const variants = [
      sub,
      sub.toUpperCase(),
      'ABCDEF01-2222-3333-4444-5555555555aa',
      'abcdef01-2222-3333-4444-5555555555AA',
    ];
    const ids = variants.map(() => commandId());
    for (const id of ids) stack().arm.addCommand({ ...CLUSTER, subscriptionId: sub }, id, {});
    const outcomes = [];
    for (const [i, subscriptionId] of variants.entries())
      outcomes.push(await h.invoke({ ...CLUSTER, subscriptionId, commandId: ids[i] }));
    assert.deepEqual(
      outcomes.map((o) => o.kind === 'requeued' && o.state),
      ['Running', 'deferred (read budget)', 'deferred (read budget)', 'deferred (read budget)'],
    );
    assert.deepEqual(
      ids.map((id) => stack().arm.readsFor(id).length),
      [1, 0, 0, 0],
    );
  });
});
