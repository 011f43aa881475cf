// The Slack summary of a fleet run: groups of every size up to 200 within every Block Kit limit, untrusted
// text (first error lines, the command, the requester) inert, the counts always shown, the failures first and
// what does not fit counted on a last line.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMemberFailure } from '../../../../src/core/group';
import { renderSlackGroup } from '../../../../src/notify/slack/groupBlocks';
import { checkSlackPayload, groupOfSize, mrkdwnTexts } from '../../../support/rendering';

const OPTIONS = { armEndpoint: 'https://management.azure.com', includeLogs: true, mention: '<!subteam^S0OPS>' };

describe('Slack fleet summaries', () => {
  for (const n of [1, 8, 30, 200])
    for (const final of [false, true])
      for (const form of ['full', 'minimal'] as const)
        it(`${n} clusters, ${final ? 'final' : 'running'}, ${form}: within every limit, untrusted text inert`, () => {
          const report = groupOfSize(n, final);
          const p = renderSlackGroup(report, OPTIONS, form);
          checkSlackPayload(p, [OPTIONS.mention]);
          const texts = mrkdwnTexts(p).map((t) => t.text);
          assert.ok(
            texts.some((t) => t.includes(`${n} of ${n} done`) || t.includes(`of ${n} done`)),
            'the counts are shown',
          );
          if (form === 'minimal') return;

          // The table: the rows shown are the report's first members (failures first), the rest counted.
          const table = texts
            .filter((t) => t.startsWith('```'))
            .flatMap((t) => t.slice(3, -3).split('\n'))
            .slice(1);
          const names = table.map((row) => row.split(/\s+/)[0]);
          assert.deepEqual(
            names,
            report.members.slice(0, names.length).map((m) => m.cluster.resourceName),
          );
          const firstSuccess = report.members.findIndex((m) => !isMemberFailure(m.outcome));
          assert.ok(names.length >= Math.min(firstSuccess, 40), `${names.length} rows shown`);
          const left = report.total - names.length;
          const note = texts.find((t) => t.includes('more not shown'));
          if (left > 0) assert.match(note ?? '', new RegExp(`… and ${left} more not shown`));
          else assert.equal(note, undefined);
        });

  it('a mention only when the group failed', () => {
    const running = renderSlackGroup(groupOfSize(8, false), OPTIONS);
    assert.ok(!JSON.stringify(running).includes('S0OPS'));
    const failed = renderSlackGroup(groupOfSize(8, true), OPTIONS);
    assert.ok(failed.text.startsWith('<!subteam^S0OPS>'));
  });
});
