// The decision logic with in-memory adapters: what is retried by the host and what is decided.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ArmRead } from '../../src/core/armAnswer';
import { processPollMessage, RetryableError, type PollDeps } from '../../src/pipeline/pollCommand';
import type { Notifier } from '../../src/notify/notifier';

const MESSAGE = JSON.stringify({ clusterResourceId: '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks', commandId: 'abc' });
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

function deps(answer: ArmRead, overrides: Partial<PollDeps> = {}): PollDeps & { sent: unknown[]; posted: unknown[] } {
  const sent: unknown[] = [];
  const posted: unknown[] = [];
  const notifier: Notifier = {
    target: { name: 'slack', kind: 'slack', url: 'https://x.invalid', urlSetting: 'SLACK_WEBHOOK_URL', notifyOn: 'all', includeLogs: true },
    wants: () => true,
    render: (r) => r,
    send: async (p) => void posted.push(p),
  };
  return {
    sent,
    posted,
    schedule: { initialDelaySeconds: 5, maxDelaySeconds: 60 },
    timeoutMinutes: 120,
    arm: { read: async () => answer },
    queue: { send: async (t, d) => void sent.push([t, d]), sendPoison: async () => undefined },
    notifiers: new Map([['slack', notifier]]),
    defaultTargets: ['slack'],
    ledger: { claim: async () => ({ kind: 'claimed', etag: '*' }), markDelivered: async () => undefined, markFailed: async () => undefined, release: async () => undefined },
    webhookTimeoutMs: 1000,
    now: () => Date.parse('2026-01-01T00:00:00Z'),
    random: () => 0,
    ...overrides,
  };
}

describe('processPollMessage', () => {
  it('throws a RetryableError when the re-enqueue fails, so the host retries the original', async () => {
    const d = deps({ kind: 'running', provisioningState: 'Running' }, { queue: { send: async () => Promise.reject(new Error('503 ServerBusy')), sendPoison: async () => undefined } });
    await assert.rejects(processPollMessage(MESSAGE, { dequeueCount: 1 }, d, quiet), (e: unknown) => e instanceof RetryableError && /could not re-enqueue: 503/.test(e.message));
  });

  it('announces "gave up" with the last error when ARM keeps failing past the deadline', async () => {
    const past = JSON.stringify({ ...JSON.parse(MESSAGE), _notifier: { attempt: 50, firstSeenAt: '2025-12-31T22:00:00Z', deadlineAt: '2025-12-31T23:59:59Z' } });
    const d = deps({ kind: 'transient', detail: 'ARM answered 503', status: 503, throttled: true });
    const r = await processPollMessage(past, { dequeueCount: 1 }, d, quiet);
    assert.deepEqual(r.kind === 'notified' && r.outcome, 'timedOut');
    assert.match(JSON.stringify(d.posted[0]), /the last poll failed: ARM answered 503/);
    assert.equal(d.sent.length, 0);
  });

  it('re-enqueues with bookkeeping that the next poll reads back', async () => {
    const d = deps({ kind: 'running', provisioningState: 'Running' });
    const r = await processPollMessage(MESSAGE, { dequeueCount: 1, insertionTime: new Date('2025-12-31T23:59:00Z') }, d, quiet);
    assert.deepEqual(r, { kind: 'requeued', delaySeconds: 6, attempt: 1, state: 'Running' });
    const [text] = d.sent[0] as [string, number];
    const book = JSON.parse(text)._notifier;
    assert.deepEqual(book, { attempt: 1, firstSeenAt: '2025-12-31T23:59:00.000Z', deadlineAt: '2026-01-01T01:59:00.000Z', lastDelaySeconds: 6 });
  });
});

describe('recording a delivery', () => {
  it('retries the ledger write, then completes rather than failing into a second post', async () => {
    let writes = 0;
    const d = deps({ kind: 'finished', result: { provisioningState: 'Succeeded', exitCode: 0 } });
    d.ledger = { ...d.ledger, markDelivered: async () => {
      writes++;
      throw new Error('ECONNREFUSED');
    } };
    const errors: string[] = [];
    const r = await processPollMessage(MESSAGE, { dequeueCount: 1 }, d, { ...quiet, error: (m) => void errors.push(m) });
    assert.deepEqual(r.kind === 'notified' && r.results.map((x) => x.status), ['delivered']);
    assert.equal(d.posted.length, 1);
    assert.equal(writes, 4, 'four attempts before giving up');
    assert.match(errors.join('\n'), /delivered, but the delivery could not be recorded/);
  });
});
