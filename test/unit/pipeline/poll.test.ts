// The decision logic over the real ledger logic on an in-memory table and a settable clock: one poll
// chain per command, delivery as its own stage, outages waited out, nothing posted twice without a crash.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBuckets } from '../../../src/core/tokenBucket';
import { RetryableError, type MessageOutcome } from '../../../src/pipeline/context';
import { handleCommandMessage } from '../../../src/pipeline/handleMessage';
import { StoreRejectedError, StoreUnavailableError, type EntityStore } from '../../../src/store/entityStore';
import { Ledger } from '../../../src/store/ledger';
import { COMMAND_ROW, commandKey, readTarget } from '../../../src/store/ledgerRows';
import { CLUSTER_ID, MESSAGE, memoryWorld, quiet, type MemoryWorld } from '../../support/memory';

const KEY = commandKey(CLUSTER_ID, 'abc');
const finished = {
  kind: 'finished' as const,
  result: { provisioningState: 'Succeeded', exitCode: 0, finishedAt: '2026-01-01T00:00:00Z', logs: 'ok' },
};
const body = (w: MemoryWorld, i = -1) =>
  JSON.parse(w.sent.at(i)![0]) as { _notifier: Record<string, unknown>; targets?: string[] };
const run = (w: MemoryWorld, text: string, id: string, extra: Partial<{ insertionTime: Date }> = {}) =>
  handleCommandMessage(text, { id, ...extra }, w.deps, quiet);
const rows = async (w: MemoryWorld) => (await w.store.listPartition(KEY)).entities;
const target = async (w: MemoryWorld, name: string) => readTarget((await rows(w)).find((e) => e.rowKey === name)!);

/** Makes the store fail (as if Table storage were unreachable) while `down()` is true. */
function flaky(store: EntityStore, down: () => boolean): EntityStore {
  const fail = () =>
    Promise.reject(new StoreUnavailableError('the delivery ledger (Table storage) failed: ECONNREFUSED on write'));
  return {
    listPartition: (pk) => (down() ? fail() : store.listPartition(pk)),
    insertAll: (e) => (down() ? fail() : store.insertAll(e)),
    replace: (e, etag) => (down() ? fail() : store.replace(e, etag)),
    merge: (e, etag) => (down() ? fail() : store.merge(e, etag)),
    delete: (pk, rk, etag) => (down() ? fail() : store.delete(pk, rk, etag)),
    listOlderThan: (c) => store.listOlderThan(c),
    listSince: (c) => store.listSince(c),
  };
}

/** A store that refuses, as Table storage does a request it will never take (PropertyValueTooLarge). */
function refusing(store: EntityStore, refuses: (e: Record<string, unknown>) => boolean): EntityStore {
  return {
    ...flaky(store, () => false),
    insertAll: (es) =>
      es.some(refuses)
        ? Promise.reject(
            new StoreRejectedError(
              'the delivery ledger (Table storage) refused the insert with 400 PropertyValueTooLarge',
              400,
              'PropertyValueTooLarge',
            ),
          )
        : store.insertAll(es),
  };
}

describe('a store that refuses a request', () => {
  it("a refused copy is recorded without its command and context, and the result is delivered (shown from the message's own)", async () => {
    const w = memoryWorld();
    const errors: string[] = [];
    w.deps.ledger = new Ledger(refusing(w.store, (e) => e.context !== undefined));
    w.arm = [finished];
    const r = await handleCommandMessage(
      JSON.stringify({ ...JSON.parse(MESSAGE), command: 'kubectl get nodes', context: { who: 'me' } }),
      { id: 'm1' },
      w.deps,
      { ...quiet, error: (m) => errors.push(m) },
    );
    assert.equal(r.kind, 'notified', JSON.stringify(r));
    assert.match(
      errors.join('\n'),
      /refused the insert with 400 PropertyValueTooLarge .*recorded without this copy's command and context/,
    );
    assert.match(JSON.stringify(w.posted.get('slack')), /"who":"me"/);
  });

  it('a refusal in the delivery stage fails that target alone: the others are delivered, nothing is poisoned', async () => {
    const w = memoryWorld({}, ['slack', 'teams']);
    const store = w.store;
    const refused = new StoreRejectedError(
      'the delivery ledger (Table storage) refused the write with 400 InvalidInput',
      400,
      'InvalidInput',
    );
    w.deps.ledger = new Ledger({
      ...refusing(store, () => false),
      replace: (e, etag) =>
        e.rowKey === 'teams' && e.state === 'claimed' ? Promise.reject(refused) : store.replace(e, etag),
    });
    w.arm = [finished];
    const errors: string[] = [];
    const r = await handleCommandMessage(MESSAGE, { id: 'm1' }, w.deps, {
      ...quiet,
      error: (m) => errors.push(m),
    });
    assert.deepEqual(
      r.kind === 'notified' && r.results.map((x) => `${x.target}:${x.status}`).sort(),
      ['slack:delivered', 'teams:failed'],
      JSON.stringify(r),
    );
    assert.match(errors.join('\n'), /target teams: not delivered: .*refused the write with 400 InvalidInput/);
    assert.equal(w.poisoned.length, 0);
  });

  it('a refusal that persists goes to poison at once with its code, not into 24 hours of outage retries', async () => {
    const w = memoryWorld();
    w.deps.ledger = new Ledger(refusing(w.store, () => true));
    const r = await run(w, MESSAGE, 'm1');
    assert.ok(
      r.kind === 'poisoned' && /refused the insert with 400 PropertyValueTooLarge/.test(r.reason),
      JSON.stringify(r),
    );
    assert.equal(w.sent.length, 0, 'no deferral');
  });
});

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
});

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

describe('rolling deploys', () => {
  it('reads messages and ledger rows of other versions without poisoning them', async () => {
    const w = memoryWorld({}, ['slack', 'teams']);
    // 0.1's bookkeeping (no v, no gen) and a future version's unknown fields.
    const v1 = JSON.stringify({
      ...JSON.parse(MESSAGE),
      _notifier: {
        attempt: 3,
        firstSeenAt: '2025-12-31T23:50:00Z',
        deadlineAt: '2026-01-01T01:50:00Z',
        lastDelaySeconds: 6,
      },
    });
    assert.equal((await run(w, v1, 'old')).kind, 'requeued');
    const v3 = JSON.stringify({
      ...JSON.parse(MESSAGE),
      _notifier: { v: 3, attempt: 4, gen: 'x', shiny: { new: true }, stage: 'later' },
    });
    assert.notEqual((await run(w, v3, 'new')).kind, 'poisoned');
    // Rows of another version: slack delivered, teams claimed with a field this one does not know for its lease.
    const etagOf = async (rk: string) => (await rows(w)).find((e) => e.rowKey === rk)!.etag;
    await w.store.replace({ partitionKey: KEY, rowKey: 'slack', state: 'delivered' }, await etagOf('slack'));
    await w.store.replace(
      { partitionKey: KEY, rowKey: 'teams', state: 'claimed', until: w.clock.now - 1 },
      await etagOf('teams'),
    );
    w.arm = [finished];
    w.clock.now += 6000;
    const r = await run(w, w.sent.at(-1)![0], 'after');
    assert.deepEqual(r.kind === 'notified' && r.results.map((x) => `${x.target}:${x.status}`).sort(), [
      'slack:skipped',
      'teams:delivered',
    ]);
    assert.equal(w.posted.get('slack'), undefined);
  });
});

describe('the running hook (targets with a live message)', () => {
  const live = (w: MemoryWorld, name: string, notifyOn: 'all' | 'failure' = 'all') => {
    const t = w.deps.targets.get(name)!;
    (w.deps.targets as Map<string, typeof t>).set(name, {
      ...t,
      notifyOn,
      provider: { ...t.provider, liveMessage: true },
    });
  };
  const outcomes = (w: MemoryWorld, name: string) =>
    (w.posted.get(name) ?? []).map((p) => (p as { report: { outcome?: string } }).report.outcome ?? 'running');

  it('posts the running message at the first running poll only; the result goes to the same target after', async () => {
    const w = memoryWorld({}, ['app', 'hook']);
    live(w, 'app');
    await run(w, MESSAGE, 'm1');
    assert.deepEqual(outcomes(w, 'app'), ['running']);
    assert.deepEqual(outcomes(w, 'hook'), [], 'providers without a live message ignore the hook');
    assert.equal(body(w)._notifier.announced, true);
    assert.equal((await target(w, 'app')).state, 'pending', 'handed back for the result');
    await run(w, w.sent.at(-1)![0], 'm2');
    assert.deepEqual(outcomes(w, 'app'), ['running'], 'not posted again at the next poll');
    w.arm = [finished];
    await run(w, w.sent.at(-1)![0], 'm3');
    assert.deepEqual(outcomes(w, 'app'), ['running', 'succeeded']);
    assert.deepEqual(outcomes(w, 'hook'), ['succeeded']);
  });

  it('a transient failure of the running message is tried again at the next poll, without delaying the result', async () => {
    const w = memoryWorld({}, ['app']);
    live(w, 'app');
    w.answers.set('app', [{ ok: false, failure: 'transient', detail: '503', status: 503 }]);
    await run(w, MESSAGE, 'm1');
    assert.equal(body(w)._notifier.announced, undefined);
    const row = await target(w, 'app');
    assert.equal(row.state, 'pending');
    assert.equal(row.waitMs, 0, 'the result is not held back');
    await run(w, w.sent.at(-1)![0], 'm2');
    assert.deepEqual(outcomes(w, 'app'), ['running']);
    assert.equal(body(w)._notifier.announced, true);
  });

  it('a target that is told of failures only gets no running message', async () => {
    const w = memoryWorld({}, ['app']);
    live(w, 'app', 'failure');
    await run(w, MESSAGE, 'm1');
    assert.deepEqual(outcomes(w, 'app'), []);
  });
});
