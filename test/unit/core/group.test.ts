// What a fleet run's group says of its members: outcomes at and before the deadline, the summary's order and
// counts, the progress line, the exit code (first match wins), the first error line picked from a report, and
// which targets may show a group.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  firstErrorLine,
  groupExitCode,
  groupOver,
  groupSummary,
  memberLine,
  showsGroup,
  type MemberState,
} from '../../../src/core/group';
import { groupTitle, memberRow, progressKey, progressLine } from '../../../src/core/groupWords';
import { ClusterScope } from '../../../src/core/scope';
import { formatTable } from '../../../src/core/text';
import type { CommandReport } from '../../../src/core/report';

const cluster = (name: string) => ({ subscriptionId: 'sub', resourceGroupName: 'rg', resourceName: name });
const member = (name: string, index: number, rest: Partial<MemberState>): MemberState => ({
  cluster: cluster(name),
  index,
  state: 'planned',
  ...rest,
});
const report = (rest: Partial<CommandReport>): CommandReport =>
  ({ cluster: cluster('c'), commandId: 'id', ...rest }) as CommandReport;

describe('a member', () => {
  it('is running until the deadline, then timed out (tracked) or start unknown (never tracked)', () => {
    const tracked = member('a', 0, { state: 'tracked', commandId: 'x' });
    const planned = member('b', 1, {});
    assert.equal(memberLine(tracked, false).outcome, 'running');
    assert.equal(memberLine(planned, false).outcome, 'running');
    assert.equal(memberLine(tracked, true).outcome, 'timedOut');
    assert.match(memberLine(tracked, true).error!, /POLL_TIMEOUT_MINUTES/);
    assert.equal(memberLine(planned, true).outcome, 'startUnknown');
    assert.match(memberLine(planned, true).error!, /no tracking message/);
  });

  it('keeps its final outcome and error past the deadline', () => {
    const done = member('a', 0, { state: 'final', outcome: 'exitCode', exitCode: 2, error: 'boom' });
    assert.deepEqual(memberLine(done, true), {
      cluster: cluster('a'),
      outcome: 'exitCode',
      exitCode: 2,
      error: 'boom',
    });
    const refused = member('b', 1, { state: 'notStarted', outcome: 'couldNotStart', error: '403' });
    assert.equal(memberLine(refused, true).outcome, 'couldNotStart');
  });
});

describe('the group summary', () => {
  const members = [
    member('ok-1', 0, { state: 'final', outcome: 'succeeded', exitCode: 0, durationSeconds: 12 }),
    member('late', 1, { state: 'tracked', commandId: 'l' }),
    member('refused', 2, { state: 'notStarted', outcome: 'couldNotStart', error: 'AuthorizationFailed' }),
    member('bad', 3, { state: 'final', outcome: 'exitCode', exitCode: 3, error: 'error: no such pod' }),
    member('ok-2', 4, { state: 'final', outcome: 'succeeded', exitCode: 0 }),
    member('never', 5, {}),
  ];
  const base = { groupId: 'g', members, startedAt: '2026-01-01T00:00:00Z' };

  it('while running: no outcome, failures first, then what could not start, then running, then successes', () => {
    const s = groupSummary({ ...base, final: false });
    assert.equal(s.outcome, undefined);
    assert.deepEqual(
      s.members.map((m) => m.cluster.resourceName),
      ['bad', 'refused', 'late', 'never', 'ok-1', 'ok-2'],
    );
    assert.deepEqual(s.counts, { exitCode: 1, couldNotStart: 1, running: 2, succeeded: 2 });
    assert.equal(progressLine(s), '4 of 6 done: 2 ✅ 1 ❌ 1 could not start, 2 running');
    assert.equal(groupTitle(s), 'Running on 6 clusters');
  });

  it('final: what runs is timed out or start unknown; the group failed; exit 1 wins over 3 and 124', () => {
    const s = groupSummary({ ...base, final: true, finishedAt: '2026-01-01T00:30:00Z' });
    assert.equal(s.outcome, 'failed');
    assert.deepEqual(s.counts, { exitCode: 1, couldNotStart: 1, startUnknown: 1, timedOut: 1, succeeded: 2 });
    assert.equal(
      progressLine(s),
      '6 of 6 done: 2 ✅ 1 ❌ 1 could not start 1 start unknown 1 still running at deadline',
    );
    assert.equal(groupExitCode(s.members), 1);
    assert.equal(groupTitle(s), 'Failed on 1 of 6 clusters');
  });

  it('the progress key changes only when a count does', () => {
    const a = groupSummary({ ...base, final: false });
    const b = groupSummary({ ...base, members: [...members].reverse(), final: false });
    assert.equal(progressKey(a), progressKey(b));
    const c = groupSummary({
      ...base,
      members: members.map((m) => (m.index === 1 ? { ...m, state: 'final', outcome: 'succeeded' } : m)),
      final: false,
    });
    assert.notEqual(progressKey(a), progressKey(c));
  });
});

describe('the exit code of a fleet run', () => {
  const lines = (...outcomes: string[]) => outcomes.map((outcome) => ({ outcome }) as never);
  it('first match wins: 1 failed, 3 not started, 124 still running, 0 all succeeded', () => {
    for (const failed of ['failed', 'exitCode', 'error', 'notFound', 'forbidden'])
      assert.equal(groupExitCode(lines('succeeded', 'couldNotStart', 'timedOut', failed)), 1, failed);
    assert.equal(groupExitCode(lines('succeeded', 'startUnknown', 'timedOut')), 3);
    assert.equal(groupExitCode(lines('couldNotStart')), 3);
    assert.equal(groupExitCode(lines('succeeded', 'timedOut')), 124);
    assert.equal(groupExitCode(lines('running')), 124);
    assert.equal(groupExitCode(lines('succeeded', 'succeeded')), 0);
  });

  it('over when every member is, or at the deadline', () => {
    const done = [member('a', 0, { state: 'final', outcome: 'succeeded' })];
    const running = [member('a', 0, { state: 'tracked' })];
    assert.equal(groupOver(done, 0, 10), true);
    assert.equal(groupOver(running, 9, 10), false);
    assert.equal(groupOver(running, 10, 10), true);
  });
});

describe('the first error line', () => {
  it('is none for a success', () => {
    assert.equal(firstErrorLine(report({ outcome: 'succeeded', logs: 'error: ignored' })), undefined);
  });

  it('of a non-zero exit: the first error-like line of the logs, else the last line', () => {
    assert.equal(
      firstErrorLine(report({ outcome: 'exitCode', exitCode: 1, logs: 'pulling\nError from server (NotFound)\nx' })),
      'Error from server (NotFound)',
    );
    assert.equal(firstErrorLine(report({ outcome: 'exitCode', exitCode: 1, logs: 'one\ntwo\n\n' })), 'two');
  });

  it("of a failure: ARM's reason first, control characters gone, clipped", () => {
    const line = firstErrorLine(
      report({ outcome: 'failed', reason: `\n\u001b[31mquota\u0007 ${'x'.repeat(400)}\nmore` }),
    );
    assert.ok(line!.startsWith('[31mquota') || line!.startsWith('quota'), line);
    assert.doesNotMatch(line!, /[\u0000-\u001f]/);
    assert.ok(line!.length <= 160, String(line!.length));
  });
});

describe('the plain-text table', () => {
  it('pads every column but the last', () => {
    const rows = formatTable([
      ['CLUSTER', 'OUTCOME', 'EXIT'],
      ['a-long-name', 'exit code 2', '2'],
      ['b', 'succeeded', ''],
    ]);
    assert.deepEqual(rows, ['CLUSTER      OUTCOME      EXIT', 'a-long-name  exit code 2  2', 'b            succeeded']);
    assert.deepEqual(
      memberRow({ cluster: cluster('a'), outcome: 'exitCode', exitCode: 2, durationSeconds: 75, error: 'e' }).slice(
        0,
        3,
      ),
      ['a', 'exit code 2', '2'],
    );
  });
});

describe('which targets may show a group', () => {
  const members = [member('aks-a', 0, {}), member('aks-b', 1, {})];
  const target = (patterns: string[]) => ({ scope: new ClusterScope(patterns) });
  const only = (name: string) =>
    `/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/${name}`;
  it('one allowed every member (every kind of channel shows any report)', () => {
    assert.equal(showsGroup(target([]), members), true);
    assert.equal(showsGroup(target([only('aks-*')]), members), true);
    assert.equal(showsGroup(target([only('aks-a')]), members), false, 'a member it may not hear of');
    assert.equal(showsGroup(target([only('aks-a')]), members.slice(0, 1)), true);
  });
});
