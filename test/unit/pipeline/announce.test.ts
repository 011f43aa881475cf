// The running hook of the poll stage: a target whose provider keeps a live message gets the running message
// at the first running poll only, then the result; a failure of it never delays the result.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MESSAGE, memoryWorld, type MemoryWorld } from '../../support/memory';
import { body, finished, run, target } from '../../support/stages';

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
