// The function's side of doctor, over the real ledger logic on an in-memory table and a settable clock: a
// probe dropped, a doctor message answered in the ledger, a cluster read at most once a minute whoever asks,
// the fixed test notification once per target (a copy of the message posts nothing more), and what a
// producer may not put in either message.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusterRead, doctorRunTag, type DoctorAnswer } from '../../../src/core/doctor';
import { TokenBuckets } from '../../../src/core/tokenBucket';
import { parseQueueMessage } from '../../../src/core/groupMessage';
import { handleCommandMessage } from '../../../src/pipeline/journey';
import { boundedJson, doctorKey, readDoctorAnswer } from '../../../src/store/doctorRows';
import { CLUSTER_ID, memoryWorld, quiet } from '../../support/memory';

const doctor = (body: Record<string, unknown>) => JSON.stringify({ doctor: { id: 'doctor-run-1', ...body } });

describe('doctor and probe messages', () => {
  it('a probe is dropped with a logged reason: nothing read, posted or poisoned', async () => {
    const w = memoryWorld();
    const lines: string[] = [];
    const r = await handleCommandMessage(JSON.stringify({ probe: 'p1234567' }), { id: 'm' }, w.deps, {
      ...quiet,
      info: (l) => lines.push(l),
    });
    assert.equal(r.kind, 'recorded');
    assert.match(lines.join('\n'), /probe p1234567: a producer checked that it may enqueue here; dropped/);
    assert.equal(w.armReads, 0);
    assert.equal(w.posted.size, 0);
    assert.equal(w.poisoned.length, 0);
  });

  it('answers in the ledger: its targets without their values, each cluster read once a minute whoever asks', async () => {
    const w = memoryWorld({}, ['slack', 'teams']);
    w.arm = [{ kind: 'notFound', error: { code: 'NotFound', message: 'Command x was not found.' } }];
    const r = await handleCommandMessage(
      doctor({ clusters: [CLUSTER_ID], targets: ['slack', 'nope'] }),
      {},
      w.deps,
      quiet,
    );
    assert.equal(r.kind, 'recorded', JSON.stringify(r));
    const answer = (await readDoctorAnswer(w.store, 'doctor-run-1'))!;
    assert.deepEqual(
      answer.targets.map((t) => [t.name, t.kind, t.where]),
      [
        ['slack', 'fake', 'channel slack'],
        ['teams', 'fake', 'channel teams'],
      ],
    );
    assert.deepEqual(answer.unknownTargets, ['nope']);
    assert.deepEqual(answer.clusters, [{ id: CLUSTER_ID, result: 'readable', detail: answer.clusters[0]!.detail }]);
    assert.equal(w.armReads, 1);

    // Other doctor runs within the minute get the recorded read; after it, ARM is asked again.
    for (const id of ['doctor-run-2', 'doctor-run-3']) {
      w.clock.now += 20_000;
      await handleCommandMessage(JSON.stringify({ doctor: { id, clusters: [CLUSTER_ID] } }), {}, w.deps, quiet);
      const a = (await readDoctorAnswer(w.store, id))!;
      assert.equal(a.clusters[0]!.result, 'readable');
      assert.ok(a.clusters[0]!.readAt, 'says when it was read');
    }
    assert.equal(w.armReads, 1, 'one read in the minute');
    w.clock.now += 21_000;
    await handleCommandMessage(doctor({ id: 'doctor-run-4', clusters: [CLUSTER_ID] }), {}, w.deps, quiet);
    assert.equal(w.armReads, 2);
    assert.equal(w.posted.size, 0, 'nothing posted without notify');
  });

  it('notify: the fixed test notification once per target, failure-only ones too; a copy posts nothing more', async () => {
    const w = memoryWorld({}, ['slack', 'teams']);
    w.deps.targets.get('teams')!.notifyOn = 'failure';
    const text = doctor({ notify: true });
    const first = await handleCommandMessage(text, { id: 'm1' }, w.deps, quiet);
    assert.equal(first.kind, 'notified', JSON.stringify(first));
    const again = await handleCommandMessage(text, { id: 'm2' }, w.deps, quiet);
    assert.notEqual(again.kind, 'poisoned');
    for (const name of ['slack', 'teams']) {
      const posts = w.posted.get(name) ?? [];
      assert.equal(posts.length, 1, name);
      const { report } = posts[0] as { report: { test?: boolean; logs?: string; command?: string; context?: unknown } };
      assert.equal(report.test, true);
      // The run's id is the sender's word: a channel shows its digest.
      assert.equal((report as { commandId?: string }).commandId, doctorRunTag('doctor-run-1'));
      assert.doesNotMatch(JSON.stringify(report), /doctor-run-1/);
      assert.match(report.logs!, /^A test notification from aks-command-notifier doctor --notify/);
      assert.equal(report.command, undefined);
      assert.equal(report.context, undefined);
    }
    const { targets } = await w.deps.ledger.load(doctorKey('doctor-run-1'));
    assert.deepEqual(
      targets.map((t) => [t.name, t.state]),
      [
        ['slack', 'delivered'],
        ['teams', 'delivered'],
      ],
    );
  });

  it('what a producer may not send: text for the channel, more than 20 clusters, a bad id or cluster', () => {
    for (const [body, why] of [
      [{ doctor: { id: 'doctor-run-1', text: 'hello @channel' } }, /unknown field/],
      [{ doctor: { id: 'doctor-run-1' }, command: 'x' }, /unknown field/],
      [{ doctor: { id: 'doctor-run-1', clusters: Array(21).fill(CLUSTER_ID) } }, /at most 20 clusters/],
      [{ doctor: { id: 'x' } }, /8-64 letters/],
      [{ doctor: { id: 'doctor-run-1', clusters: ['/subscriptions/x'] } }, /clusterResourceId must be/],
      [{ doctor: { id: 'doctor-run-1', targets: ['Bad Name'] } }, /target name/],
      [{ probe: 'p1234567', text: 'x' }, /unknown field/],
    ] as const)
      assert.throws(() => parseQueueMessage(JSON.stringify(body)), why, JSON.stringify(body));
    const ok = parseQueueMessage(
      doctor({ clusters: [CLUSTER_ID, CLUSTER_ID.toUpperCase().replace('/SUBSCRIPTIONS', '/subscriptions')] }),
    );
    assert.equal(ok.kind === 'doctor' && ok.req.clusters.length, 1, 'a cluster named twice (any case) is read once');
  });

  it('"default" names the default targets; a doctor read waits for no one: with no read token free now, busy and unread', async () => {
    const w = memoryWorld({}, ['slack', 'teams']);
    w.deps.defaultTargets = ['teams'];
    const sub = '11111111-2222-3333-4444-555555555555';
    const spent = new TokenBuckets({ burst: 1, perSecond: 0.001 });
    const untouched = new TokenBuckets({ burst: 1, perSecond: 0.001 });
    for (const b of [spent, untouched]) await b.take(sub, w.clock.now);
    w.deps.readBudget = spent;
    await handleCommandMessage(doctor({ targets: ['default'], clusters: [CLUSTER_ID] }), {}, w.deps, quiet);
    const answer = (await readDoctorAnswer(w.store, 'doctor-run-1'))!;
    assert.deepEqual(answer.unknownTargets, []);
    assert.equal(answer.clusters[0]!.result, 'busy');
    assert.equal(w.armReads, 0);
    // No debt left behind: a command's poll waits no longer than it would have without the doctor run.
    assert.equal(await spent.take(sub, w.clock.now), await untouched.take(sub, w.clock.now));
  });

  it('an answer too large for a Table property is shortened, and says so, never cut mid-JSON', () => {
    const target = (i: number) => ({
      name: `t${i}`,
      kind: 'slack',
      where: 'x'.repeat(2000),
      isDefault: false,
      notifyOn: 'all' as const,
      clusters: 'all',
      checks: [{ name: 'settings', ok: true, detail: 'y'.repeat(2000) }],
    });
    const answer: DoctorAnswer = {
      v: 1,
      id: 'doctor-run-1',
      at: '2026-01-01T00:00:00Z',
      targets: Array.from({ length: 200 }, (_, i) => target(i)),
      defaultTargets: [],
      unknownTargets: [],
      clusters: [],
      notify: [],
    };
    const json = boundedJson(answer);
    assert.ok(json.length <= 30_000, `${json.length}`);
    const back = JSON.parse(json) as DoctorAnswer;
    assert.equal(back.truncated, true);
    assert.ok(back.targets.length > 0 && back.targets.length < 200);
  });

  it('what a read of a random command id means', () => {
    assert.equal(clusterRead({ kind: 'notFound' }).result, 'readable');
    assert.equal(clusterRead({ kind: 'forbidden', status: 403 }).result, 'forbidden');
    assert.equal(
      clusterRead({
        kind: 'notFound',
        error: {
          code: 'ResourceNotFound',
          message:
            "The Resource 'Microsoft.ContainerService/managedClusters/aks' under resource group 'rg' was not found.",
        },
      }).result,
      'clusterNotFound',
    );
    for (const code of ['ResourceGroupNotFound', 'SubscriptionNotFound'])
      assert.equal(clusterRead({ kind: 'notFound', error: { code, message: 'x' } }).result, 'clusterNotFound', code);
    assert.equal(clusterRead({ kind: 'transient', detail: 'timeout', throttled: false }).result, 'error');
  });
});
