// The poll stage, over the real ledger logic on an in-memory table and a settable clock: one poll chain per
// command (a second copy or a fork stops, a quiet chain is taken over), bookkeeping read back and clamped,
// ARM's failures waited out until the deadline, budgets on the monotonic clock.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBuckets } from '../../../src/core/tokenBucket';
import { RetryableError, type MessageOutcome } from '../../../src/pipeline/context';
import { StoreUnavailableError } from '../../../src/store/entityStore';
import { Ledger } from '../../../src/store/ledger';
import { COMMAND_ROW } from '../../../src/store/ledgerRows';
import { CLUSTER_ID, MESSAGE, memoryWorld } from '../../support/memory';
import { body, finished, flaky, rows, run } from '../../support/stages';

describe('poll stage', () => {
  it('throws a RetryableError when the re-enqueue fails, so the host retries the original', async () => {
    const w = memoryWorld();
    w.deps.queue.send = async () => Promise.reject(new Error('503 ServerBusy'));
    await assert.rejects(
      run(w, MESSAGE, 'm1'),
      (e: unknown) => e instanceof RetryableError && /could not re-enqueue: 503/.test(e.message),
    );
  });

  it('re-enqueues with bookkeeping that the next poll reads back, and steps the chain in one write', async () => {
    const w = memoryWorld();
    const r = await run(w, MESSAGE, 'm1', { insertionTime: new Date('2025-12-31T23:59:00Z') });
    assert.deepEqual(r, { kind: 'requeued', delaySeconds: 6, attempt: 1, state: 'Running' });
    const book = body(w)._notifier;
    assert.deepEqual(
      { ...book, etag: typeof book.etag },
      {
        v: 2,
        attempt: 1,
        firstSeenAt: '2025-12-31T23:59:00.000Z',
        deadlineAt: '2026-01-01T01:59:00.000Z',
        lastDelaySeconds: 6,
        gen: 2,
        etag: 'string',
        stage: 'poll',
        round: 0,
        dueAt: w.clock.now + 6000,
        parent: 'm1',
      },
    );
    // The next message steps the chain with one conditional write: the row now holds generation 3.
    w.clock.now += 6000;
    await run(w, w.sent[0]![0], 'm2');
    const row = (await rows(w)).find((e) => e.rowKey === COMMAND_ROW)!;
    assert.equal(row.gen, 3);
    assert.equal(row.owner, 'm2');
  });

  it('announces "gave up" with the last error when ARM keeps failing past the deadline', async () => {
    const w = memoryWorld();
    w.arm = [{ kind: 'transient', detail: 'ARM answered 503', status: 503, throttled: true }];
    const past = JSON.stringify({
      ...JSON.parse(MESSAGE),
      _notifier: { attempt: 50, firstSeenAt: '2025-12-31T22:00:00Z', deadlineAt: '2025-12-31T23:59:59Z' },
    });
    const r = await run(w, past, 'm1');
    assert.deepEqual(r.kind === 'notified' && r.outcome, 'timedOut');
    assert.match(JSON.stringify(w.posted.get('slack')), /the last poll failed: ARM answered 503/);
    assert.equal(w.sent.length, 0);
  });

  it('a second copy of a command being polled stops without reading ARM; its targets are recorded and delivered at the end', async () => {
    const w = memoryWorld({}, ['slack', 'teams']);
    await run(w, JSON.stringify({ ...JSON.parse(MESSAGE), targets: ['slack'], context: { who: 'first' } }), 'm1');
    const readsBefore = w.armReads;
    const second = await run(
      w,
      JSON.stringify({ ...JSON.parse(MESSAGE), targets: ['teams'], context: { who: 'second' } }),
      'c2',
    );
    assert.equal(second.kind, 'another-copy-polls');
    assert.equal(w.armReads, readsBefore, 'the second copy did not poll ARM');
    assert.equal(w.sent.length, 1, 'and did not re-enqueue itself');
    w.arm = [finished];
    w.clock.now += 6000;
    const done = await run(w, w.sent[0]![0], 'm2');
    assert.deepEqual(done.kind === 'notified' && done.results.map((x) => `${x.target}:${x.status}`).sort(), [
      'slack:delivered',
      'teams:delivered',
    ]);
    // Each target shows the context of the copy that named it.
    assert.match(JSON.stringify(w.posted.get('slack')), /"who":"first"/);
    assert.match(JSON.stringify(w.posted.get('teams')), /"who":"second"/);
  });

  it('a forked chain (a message re-enqueued twice after a crash) keeps one successor polling', async () => {
    const w = memoryWorld();
    await run(w, MESSAGE, 'm0');
    const m1 = w.sent[0]![0];
    w.clock.now += 6000;
    await run(w, m1, 'm1');
    const m2 = w.sent[1]![0];
    // The host retries m1 (its worker died after the re-enqueue and before completing it): m1 may redo its step.
    w.clock.now += 1000;
    const again = await run(w, m1, 'm1');
    assert.equal(again.kind, 'requeued');
    const m2b = w.sent[2]![0];
    w.clock.now += 6000;
    const outcomes = [await run(w, m2, 'm2'), await run(w, m2b, 'm2b')];
    assert.deepEqual(
      outcomes.map((o) => o.kind).sort(),
      ['another-copy-polls', 'requeued'],
      'exactly one copy goes on polling',
    );
  });

  // Seen in the scale test beside the fleet fault run (issue 29): Table storage timed out after a copy's
  // step; the copy it re-enqueued carried the ETag from before that step, found the chain "live", and
  // stopped, and nothing polled the command again.
  it('a copy re-enqueued after a ledger outage that struck after its step polls on: the row names its parent', async () => {
    const w = memoryWorld();
    let down = false;
    w.deps.ledger = new Ledger(flaky(w.store, () => down));
    await run(w, MESSAGE, 'm0');
    w.clock.now += 6000;
    const read = w.deps.arm.read;
    w.arm = [finished];
    // Table storage goes away right after m1's step, while it reads ARM.
    w.deps.arm.read = async (...args) => ((down = true), read(...args));
    const cut = await run(w, w.sent[0]![0], 'm1');
    assert.equal(cut.kind, 'deferred');
    assert.equal(body(w)._notifier.parent, 'm1');
    down = false;
    w.deps.arm.read = read;
    w.clock.now += 5000;
    const next = await run(w, w.sent.at(-1)![0], 'm2');
    assert.equal(next.kind, 'notified', JSON.stringify(next));
  });

  it('a copy re-enqueued after a step whose answer was lost (the write took effect) polls on', async () => {
    const w = memoryWorld();
    let loseNext = true;
    const store = w.store;
    const lost =
      (write: (...a: never[]) => Promise<unknown>) =>
      async (...a: never[]) => {
        const written = await write(...a);
        if (!loseNext) return written;
        loseNext = false;
        throw new StoreUnavailableError('the delivery ledger (Table storage) timed out on write');
      };
    w.deps.ledger = new Ledger({
      ...flaky(store, () => false),
      replace: lost(store.replace.bind(store) as never) as never,
      merge: lost(store.merge.bind(store) as never) as never,
    });
    const first = await run(w, MESSAGE, 'm0');
    assert.equal(first.kind, 'deferred', JSON.stringify(first));
    w.arm = [finished];
    w.clock.now += 5000;
    const next = await run(w, w.sent.at(-1)![0], 'm1');
    assert.equal(next.kind, 'notified', JSON.stringify(next));
  });

  it("a forged copy that names the owner as its parent cannot end the command early: the row's deadline holds", async () => {
    const w = memoryWorld();
    await run(w, MESSAGE, 'm0');
    w.clock.now += 6000;
    const now = new Date(w.clock.now).toISOString();
    const forged = JSON.stringify({
      ...JSON.parse(MESSAGE),
      _notifier: { attempt: 0, parent: 'm0', firstSeenAt: now, deadlineAt: now },
    });
    const r = await run(w, forged, 'f1');
    assert.equal(r.kind, 'requeued', JSON.stringify(r));
    assert.equal(w.posted.size, 0, 'nobody heard "timed out"');
  });

  it('takes over a chain that went quiet beyond its lease', async () => {
    const w = memoryWorld();
    await run(w, MESSAGE, 'm0');
    w.clock.now += 10 * 60_000; // the chain's message never came back (say, poisoned after a bug)
    const fresh = await run(w, MESSAGE, 'redriven');
    assert.equal(fresh.kind, 'requeued');
  });

  it('a forged stored-result stage is a fresh poll: a message cannot claim a result', async () => {
    const w = memoryWorld();
    w.arm = [finished];
    const forged = JSON.stringify({ ...JSON.parse(MESSAGE), _notifier: { attempt: 3, stage: 'deliver', round: 2 } });
    const r = await run(w, forged, 'm1');
    assert.equal(w.armReads, 1, 'ARM was asked');
    assert.equal(r.kind, 'notified');
  });

  for (const [what, firstSeenAt, deadlineAt] of [
    ['in 2099', '2099-01-01T00:00:00Z', '2099-01-01T02:00:00Z'],
    ['six days after now', '2026-01-01T00:00:00Z', '2026-01-07T00:00:00Z'],
  ]) {
    it(`clamps forged bookkeeping: a deadline ${what} ends at firstSeen + POLL_TIMEOUT_MINUTES`, async () => {
      const w = memoryWorld({ timeoutMinutes: 0.1, schedule: { initialDelaySeconds: 1, maxDelaySeconds: 3 } });
      const forged = JSON.stringify({
        ...JSON.parse(MESSAGE),
        _notifier: { attempt: 0, firstSeenAt, deadlineAt, lastDelaySeconds: 0 },
      });
      let text = forged;
      let outcome: MessageOutcome | undefined;
      for (let i = 0; i < 20 && outcome?.kind !== 'notified'; i++) {
        outcome = await run(w, text, `m${i}`, { insertionTime: new Date(w.clock.now) });
        if (outcome.kind === 'requeued') {
          text = w.sent.at(-1)![0];
          w.clock.now += outcome.delaySeconds * 1000;
        }
      }
      assert.deepEqual(outcome?.kind === 'notified' && outcome.outcome, 'timedOut');
      assert.ok(w.armReads <= 10, `${w.armReads} ARM reads`);
    });
  }

  it('a wall clock stepping back an hour does not stall polls: budgets run on the monotonic clock', async () => {
    const w = memoryWorld({ readBudget: new TokenBuckets({ burst: 5, perSecond: 1 }) });
    let mono = 0;
    w.deps.monotonic = () => mono;
    const kinds: string[] = [];
    for (let i = 0; i < 20; i++) {
      w.clock.now -= 3600_000 / 20; // NTP steps the wall clock back
      mono += 1500;
      kinds.push(
        (await run(w, JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: `c${i}` }), `m${i}`)).kind ===
          'requeued' && w.sent.at(-1)![1] > 10
          ? 'deferred'
          : 'ok',
      );
    }
    assert.ok(!kinds.includes('deferred'), kinds.join());
  });

  it('a poll given a later slot goes at it on any instance without paying again; a slot in a new message is not honoured', async () => {
    // Two instances, each with its own bucket: one token each, and nothing more for a minute.
    const rate = { burst: 1, perSecond: 1 / 60 };
    const a = memoryWorld({ readBudget: new TokenBuckets(rate) });
    const mono = () => a.clock.now;
    a.deps.monotonic = mono;
    await run(a, JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: 'first' }), 'm0');
    const first = await run(a, MESSAGE, 'm1');
    assert.equal(first.kind === 'requeued' && first.state, 'deferred (read budget)');
    const book = body(a)._notifier;
    assert.equal(book.readSlotAt, a.clock.now + 60_000, 'its slot, a minute ahead, paid for by this instance');
    assert.equal(book.dueAt, a.clock.now, 'due now: the wait is measured from here');
    const deferred = a.sent.at(-1)![0];
    // Instance b (same ledger, its own bucket, already spent) takes the message back at its slot.
    const b = memoryWorld({ readBudget: new TokenBuckets(rate), ledger: a.deps.ledger });
    b.clock.now = a.clock.now + 60_000;
    b.deps.monotonic = () => b.clock.now;
    await run(b, JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: 'other' }), 'm2');
    const reads = b.armReads;
    const back = await run(b, deferred, 'm3');
    assert.equal(back.kind === 'requeued' && back.state, 'Running', 'read at its slot');
    assert.equal(b.armReads, reads + 1);
    assert.equal(body(b)._notifier.readSlotAt, undefined, 'the slot is used up');
    // A producer cannot hand itself a slot: without the chain's ETag a slot is ignored.
    const forged = JSON.stringify({
      clusterResourceId: CLUSTER_ID,
      commandId: 'forged',
      _notifier: { attempt: 0, readSlotAt: b.clock.now },
    });
    const f = await run(b, forged, 'm4');
    assert.equal(f.kind === 'requeued' && f.state, 'deferred (read budget)');
  });

  it("an absurd Retry-After on a 429 holds the subscription's reads back no longer than POLL_MAX_DELAY_SECONDS", async () => {
    const w = memoryWorld({ readBudget: new TokenBuckets({ burst: 5, perSecond: 1 }) });
    w.deps.monotonic = () => w.clock.now;
    w.arm = [
      {
        kind: 'transient',
        detail: 'ARM throttled the read (429)',
        status: 429,
        throttled: true,
        retryAfterSeconds: 1e9,
      },
      { kind: 'running', provisioningState: 'Running' },
    ];
    await run(w, MESSAGE, 'm1');
    w.clock.now += 1000;
    const other = await run(w, JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: 'other' }), 'm2');
    assert.ok(
      other.kind === 'requeued' && other.delaySeconds <= w.deps.schedule.maxDelaySeconds,
      JSON.stringify(other),
    );
  });
});
