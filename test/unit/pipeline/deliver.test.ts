// The deliver stage, over the real ledger logic on an in-memory table and a settable clock: transient
// failures deferred with backoff (never a re-poll), refused payloads sent again minimal, permanent failures
// kept until the configuration changes, the delivery deadline, ledger outages waited out, nothing posted twice.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ledger } from '../../../src/store/ledger';
import { MESSAGE, memoryWorld } from '../../support/memory';
import { body, finished, flaky, run, target } from '../../support/stages';

describe('delivery stage', () => {
  it('a transient failure re-enqueues the delivery (never the poll), backing off; nothing is thrown', async () => {
    const w = memoryWorld({}, ['slack', 'teams']);
    w.arm = [finished];
    w.answers.set('slack', [{ ok: false, failure: 'transient', detail: 'Slack answered 503', status: 503 }]);
    const r = await run(w, MESSAGE, 'm1');
    assert.ok(r.kind === 'deferred' && r.delaySeconds === 3, JSON.stringify(r));
    assert.equal(body(w)._notifier.stage, 'deliver');
    assert.equal((await target(w, 'slack')).state, 'pending');
    assert.equal((await target(w, 'teams')).state, 'delivered');
    // A copy that comes back too early does not post; at the right time it does, and ARM is not asked again.
    const reads = w.armReads;
    w.clock.now += 1000;
    const early = await run(w, w.sent[0]![0], 'm2');
    assert.equal(early.kind, 'deferred');
    assert.equal(w.posted.get('slack'), undefined);
    w.clock.now += 2000;
    const done = await run(w, w.sent[1]![0], 'm3');
    assert.equal(done.kind, 'notified');
    assert.equal(w.posted.get('slack')!.length, 1);
    assert.equal(w.posted.get('teams')!.length, 1);
    assert.equal(w.armReads, reads, 'delivery never re-reads ARM');
  });

  it('an absurd Retry-After is believed for 15 minutes at most, and poisons nothing', async () => {
    const w = memoryWorld();
    w.arm = [finished];
    w.answers.set('slack', [
      {
        ok: false,
        failure: 'transient',
        detail: 'Slack answered 429 rate_limited',
        status: 429,
        retryAfterSeconds: 99_999_999,
      },
    ]);
    const r = await run(w, MESSAGE, 'm1');
    assert.ok(r.kind === 'deferred' && r.delaySeconds === 900, JSON.stringify(r));
    assert.equal((await target(w, 'slack')).waitMs, 900_000);
    assert.equal(w.poisoned.length, 0);
    w.clock.now += 900_000;
    assert.equal((await run(w, w.sent[0]![0], 'm2')).kind, 'notified');
  });

  it('a refused payload is sent again at once in the minimal form, and the ledger says so', async () => {
    const w = memoryWorld();
    w.arm = [finished];
    w.answers.set('slack', [
      { ok: false, failure: 'refused', detail: 'Slack answered 400 invalid_blocks', status: 400 },
    ]);
    const r = await run(w, MESSAGE, 'm1');
    assert.deepEqual(r.kind === 'notified' && r.results[0], {
      target: 'slack',
      status: 'delivered',
      form: 'minimal',
      attempts: 2,
      lagMs: 0,
      inDoubt: false,
    });
    assert.equal((await target(w, 'slack')).form, 'minimal');
    assert.equal((w.posted.get('slack')![0] as { form: string }).form, 'minimal');
  });

  it("a permanent failure is recorded and not retried, until the target's configuration changes", async () => {
    const w = memoryWorld();
    w.arm = [finished];
    w.answers.set('slack', [{ ok: false, failure: 'permanent', detail: 'Slack answered 404 no_service', status: 404 }]);
    await run(w, MESSAGE, 'm1');
    assert.deepEqual([(await target(w, 'slack')).state, (await target(w, 'slack')).failure], ['failed', 'permanent']);
    await run(w, MESSAGE, 'again');
    assert.equal(w.posted.get('slack'), undefined, 'the same configuration is not tried again');
    (w.deps.targets.get('slack')!.settings as { channel: string }).channel = 'fixed';
    const r = await run(w, MESSAGE, 'redriven');
    assert.equal(r.kind, 'notified');
    assert.equal(w.posted.get('fixed')!.length, 1, 'a changed configuration is tried again');
  });

  it('gives up at the delivery deadline: poison with the target, the time waited and the last error', async () => {
    const w = memoryWorld({ delivery: { timeoutHours: 1, maxDelaySeconds: 900 } });
    w.arm = [finished];
    w.answers.set(
      'slack',
      Array.from({ length: 100 }, () => ({
        ok: false as const,
        failure: 'transient' as const,
        detail: 'Slack answered 503',
        status: 503,
      })),
    );
    let outcome = await run(w, MESSAGE, 'm0');
    for (let i = 1; i < 50 && outcome.kind === 'deferred'; i++) {
      w.clock.now += outcome.delaySeconds * 1000;
      outcome = await run(w, w.sent.at(-1)![0], `m${i}`);
    }
    assert.equal(outcome.kind, 'poisoned');
    const [, reason] = w.poisoned[0]!;
    assert.match(
      reason,
      /delivery deadline passed: target slack not delivered after 1h \d+m \(last error: Slack answered 503\)/,
    );
    assert.deepEqual([(await target(w, 'slack')).state, (await target(w, 'slack')).failure], ['failed', 'expired']);
    // Brought back (redrive strips the bookkeeping): a fresh window, and the target is tried again.
    w.answers.set('slack', []);
    assert.equal((await run(w, MESSAGE, 'redriven')).kind, 'notified');
  });

  it('a post the ledger could not record is recorded by the next round, never posted again', async () => {
    let down = false;
    const w = memoryWorld();
    w.deps.ledger = new Ledger(flaky(w.store, () => down));
    w.arm = [finished];
    const provider = w.deps.targets.get('slack')!.provider;
    const send = provider.send.bind(provider);
    provider.send = async (s, p, c) => {
      const r = await send(s, p, c);
      down = true; // Table storage goes away right after the post
      return r;
    };
    const r = await run(w, MESSAGE, 'm1');
    assert.ok(r.kind === 'deferred', JSON.stringify(r));
    const note = (body(w)._notifier.sent as { target: string }[])[0];
    assert.equal(note?.target, 'slack');
    down = false;
    provider.send = send;
    w.clock.now += 5000;
    const next = await run(w, w.sent.at(-1)![0], 'm2');
    assert.equal(next.kind, 'notified');
    assert.equal(w.posted.get('slack')!.length, 1, 'posted once');
    assert.equal((await target(w, 'slack')).state, 'delivered');
  });

  it('waits out a ledger outage by re-enqueueing with backoff, then delivers', async () => {
    let down = true;
    const w = memoryWorld();
    w.deps.ledger = new Ledger(flaky(w.store, () => down));
    w.arm = [finished];
    const delays: number[] = [];
    let outcome = await run(w, MESSAGE, 'm0');
    for (let i = 1; i < 8 && outcome.kind === 'deferred'; i++) {
      delays.push(outcome.delaySeconds);
      if (i === 6) down = false;
      w.clock.now += outcome.delaySeconds * 1000;
      outcome = await run(w, w.sent.at(-1)![0], `m${i}`);
    }
    assert.deepEqual(delays, [2, 4, 8, 16, 32, 60], "backoff doubles, capped at the poll stage's max delay");
    assert.equal(outcome.kind, 'notified');
    assert.equal(w.posted.get('slack')!.length, 1);
    assert.equal(w.poisoned.length, 0);
  });
});
