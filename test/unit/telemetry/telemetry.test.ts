// The app's metrics and spans, read back with an in-memory reader and span exporter: each metric for each
// outcome, and no secret in any span.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ArmRead } from '../../../src/core/armAnswer';
import { TokenBuckets } from '../../../src/core/tokenBucket';
import { createRedactor } from '../../../src/log';
import { createQueueHandler } from '../../../src/pipeline/queueTrigger';
import { monitorQueues } from '../../../src/pipeline/queueMonitor';
import type { Runtime } from '../../../src/runtime';
import { metricPoints, OnDemandMetricReader, type MetricPoint } from '../../../src/telemetry/setup';
import { createTelemetry, METRICS } from '../../../src/telemetry/telemetry';
import { CLUSTER_ID, memoryWorld, type MemoryWorld } from '../../support/memory';

function instrumented(targets = ['slack', 'teams']) {
  const reader = new OnDemandMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const w = memoryWorld(
    { telemetry: createTelemetry(meterProvider.getMeter('test'), tracerProvider.getTracer('test')) },
    targets,
  );
  const secrets = ['https://hooks.slack.com/services/T000/B000/secretsecretsecret', 'super-secret-identity-header'];
  const rt = {
    config: { queueName: 'q', poisonQueueName: 'q-poison' },
    deps: w.deps,
    redact: createRedactor(secrets),
  } as unknown as Runtime;
  const handler = createQueueHandler(() => rt);
  let n = 0;
  const run = (message: unknown) =>
    handler(message, {
      triggerMetadata: { dequeueCount: 1, id: `m${++n}` },
      log: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    } as never);
  return { w, reader, spans, run, secrets };
}

const points = async (reader: OnDemandMetricReader) => metricPoints(await reader.read());
const value = (ps: MetricPoint[], name: string, attrs: Record<string, unknown> = {}) =>
  ps
    .filter((p) => p.name === name && Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))
    .reduce((sum, p) => sum + (typeof p.value === 'number' ? p.value : p.value.count), 0);
const msg = (commandId: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId, ...extra });

function answer(w: MemoryWorld, ...reads: ArmRead[]) {
  w.arm = reads;
}

describe('metrics', () => {
  it('count commands tracked and finished, by outcome', async () => {
    const t = instrumented();
    const finals: [string, ArmRead, string][] = [
      ['ok', { kind: 'finished', result: { provisioningState: 'Succeeded', exitCode: 0 } }, 'succeeded'],
      ['bad', { kind: 'finished', result: { provisioningState: 'Failed', reason: 'x' } }, 'failed'],
      ['gone', { kind: 'notFound' }, 'notFound'],
      ['denied', { kind: 'forbidden', status: 403 }, 'forbidden'],
      ['odd', { kind: 'rejected', status: 400, detail: 'ARM answered 400' }, 'rejected'],
    ];
    for (const [id, read] of finals) {
      answer(t.w, read);
      await t.run(msg(id));
    }
    const ps = await points(t.reader);
    assert.equal(value(ps, METRICS.commandsTracked), 5);
    for (const [, , outcome] of finals) assert.equal(value(ps, METRICS.commandsFinished, { outcome }), 1, outcome);
  });

  it("count polls by the class of ARM's answer", async () => {
    const t = instrumented();
    const reads: [ArmRead, string][] = [
      [{ kind: 'running', provisioningState: 'Running' }, '202'],
      [{ kind: 'transient', detail: '429', status: 429, throttled: true }, '429'],
      [{ kind: 'transient', detail: '503', status: 503, throttled: true }, '5xx'],
      [{ kind: 'transient', detail: 'reset', throttled: false }, 'network'],
      [{ kind: 'forbidden', status: 401 }, '401/403'],
      [{ kind: 'notFound' }, '404'],
      [{ kind: 'finished', result: { provisioningState: 'Succeeded', exitCode: 0 } }, '200'],
    ];
    for (const [i, [read]] of reads.entries()) {
      answer(t.w, read);
      await t.run(msg(`c${i}`));
    }
    const ps = await points(t.reader);
    for (const [, cls] of reads) assert.equal(value(ps, METRICS.polls, { answer: cls }), 1, cls);
  });

  it('count deliveries by target, status and form, and the notification lag per target', async () => {
    const t = instrumented(['slack', 'teams']);
    t.w.clock.now = Date.parse('2026-01-01T00:00:30Z');
    answer(t.w, {
      kind: 'finished',
      result: { provisioningState: 'Succeeded', exitCode: 0, finishedAt: '2026-01-01T00:00:00Z' },
    });
    t.w.answers.set('slack', [{ ok: false, failure: 'refused', detail: '400 invalid_blocks', status: 400 }]);
    t.w.answers.set('teams', [{ ok: false, failure: 'transient', detail: '503', status: 503 }]);
    await t.run(msg('lag'));
    let ps = await points(t.reader);
    assert.equal(value(ps, METRICS.deliveries, { target: 'slack', status: 'delivered', form: 'minimal' }), 1);
    assert.equal(value(ps, METRICS.deliveries, { target: 'teams', status: 'retry-later' }), 1);
    const lag = ps.find((p) => p.name === METRICS.notificationLag && p.attributes.target === 'slack')!.value as {
      count: number;
      sum: number;
    };
    assert.deepEqual([lag.count, lag.sum], [1, 30], 'delivery time − finishedAt, in seconds');
    t.w.answers.set('teams', [{ ok: false, failure: 'permanent', detail: '404 no_service', status: 404 }]);
    t.w.clock.now += 10_000;
    await t.run(t.w.sent.at(-1)![0]);
    ps = await points(t.reader);
    assert.equal(value(ps, METRICS.deliveries, { target: 'teams', status: 'failed' }), 1);
    assert.equal(value(ps, METRICS.deliveries, { target: 'slack', status: 'delivered', form: 'full' }), 0);
  });

  it('count deferrals and poison moves by reason, and read-budget deferrals', async () => {
    const t = instrumented(['slack']);
    t.w.deps.readBudget = new TokenBuckets({ burst: 1, perSecond: 1 });
    await t.run(msg('a'));
    await t.run(msg('b')); // over the budget
    answer(t.w, { kind: 'finished', result: { provisioningState: 'Succeeded', exitCode: 0 } });
    t.w.answers.set('slack', [{ ok: false, failure: 'transient', detail: '503', status: 503 }]);
    t.w.clock.now += 60_000;
    t.w.deps.readBudget = undefined;
    await t.run(msg('c'));
    await t.run('not json');
    await t.run(msg('d', { targets: ['nobody'] }));
    const ps = await points(t.reader);
    assert.equal(value(ps, METRICS.readBudgetDeferrals), 1);
    assert.equal(value(ps, METRICS.deferrals, { reason: 'read-budget' }), 1);
    assert.equal(value(ps, METRICS.deferrals, { reason: 'delivery' }), 1);
    assert.equal(value(ps, METRICS.poisoned, { reason: 'invalid-message' }), 1);
    assert.equal(value(ps, METRICS.poisoned, { reason: 'unknown-target' }), 1);
  });

  it('measure the queues for the backlog and poison alerts', async () => {
    const t = instrumented();
    const queue = {
      ensureQueues: async () => undefined,
      main: {
        getProperties: async () => ({ approximateMessagesCount: 7 }),
        peekMessages: async () => ({ peekedMessageItems: [{ insertedOn: new Date(Date.now() - 90_000) }] }),
      },
      poison: {
        getProperties: async () => ({ approximateMessagesCount: 2 }),
        peekMessages: async () => ({ peekedMessageItems: [] }),
      },
    };
    const lines: string[] = [];
    await monitorQueues(queue as never, t.w.deps.telemetry!, {
      info: (l) => lines.push(l),
      warn: (l) => lines.push(l),
      error: () => undefined,
    });
    const ps = await points(t.reader);
    assert.equal(value(ps, METRICS.queueMessages, { queue: 'main' }), 7);
    assert.equal(value(ps, METRICS.queueMessages, { queue: 'poison' }), 2);
    assert.ok(Math.abs(value(ps, METRICS.queueOldestAge, { queue: 'main' }) - 90) <= 1);
    assert.match(lines.join('\n'), /2 in poison: look at them/);
  });
});

describe('spans', () => {
  it('one per message, with the command, cluster, attempt and outcome — and no secret', async () => {
    const t = instrumented(['slack']);
    answer(
      t.w,
      { kind: 'running', provisioningState: 'Running' },
      { kind: 'finished', result: { provisioningState: 'Succeeded', exitCode: 0, logs: t.secrets[0] } },
    );
    await t.run(msg('abc', { command: `echo ${t.secrets[0]}`, context: { note: t.secrets[1]! } }));
    await t.run(t.w.sent.at(-1)![0]);
    await t.run('garbage');
    const spans = t.spans.getFinishedSpans();
    assert.equal(spans.length, 3);
    const [first, second, third] = spans;
    assert.deepEqual(
      [
        first!.attributes['aks.command_id'],
        first!.attributes['aks.cluster'],
        first!.attributes['aks.attempt'],
        first!.attributes['aks.outcome'],
        first!.attributes['aks.arm.answer'],
      ],
      ['abc', 'aks', 1, 'requeued', '202'],
    );
    assert.deepEqual(
      [second!.attributes['aks.outcome'], second!.attributes['aks.result'], second!.attributes['messaging.message.id']],
      ['notified', 'succeeded', 'm2'],
    );
    assert.deepEqual(
      second!.events.map((e) => [e.name, e.attributes?.['aks.target'], e.attributes?.['aks.delivery.status']]),
      [['delivery', 'slack', 'delivered']],
    );
    assert.deepEqual(
      [third!.attributes['aks.outcome'], third!.attributes['aks.poison_reason']],
      ['poisoned', 'invalid-message'],
    );
    // Nothing a message or ARM carried that could be a secret, by the redactor's own list.
    const redact = createRedactor(t.secrets);
    for (const s of spans) {
      const text = JSON.stringify({
        name: s.name,
        attributes: s.attributes,
        events: s.events.map((e) => e.attributes),
      });
      assert.equal(redact(text), text, `a span carries a secret: ${text}`);
      assert.ok(!text.includes('echo'), 'no command text');
    }
  });
});
