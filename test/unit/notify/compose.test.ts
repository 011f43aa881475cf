// A fleet run's summary as Slack and Teams show it, from its neutral message (notify/compose.ts): groups of
// every size up to 200 within every limit of each channel, untrusted text (first error lines, the command,
// the requester) inert, the counts always shown, the failures first and what does not fit counted on a
// last line.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMemberFailure, type GroupReport } from '../../../src/core/group';
import { checkSlackPayload, checkTeams, groupOfSize, mrkdwnTexts, slackOf, teamsOf } from '../../support/rendering';

const SLACK = { includeLogs: true, mention: '<!subteam^S0OPS>' };
const TEAMS = { includeLogs: true, mention: '29:1abc|Ops on call' };

/** The rows shown are the report's first members (failures first), the rest counted on a last line. */
function checkRows(report: GroupReport, names: string[], note: string | undefined, least: number): void {
  assert.deepEqual(
    names,
    report.members.slice(0, names.length).map((m) => m.cluster.resourceName),
  );
  assert.ok(names.length >= least, `${names.length} rows shown`);
  const left = report.total - names.length;
  if (left > 0) assert.match(note ?? '', new RegExp(`… and ${left} more not shown`));
  else assert.equal(note, undefined);
}

describe('fleet summaries', () => {
  for (const n of [1, 8, 30, 200])
    for (const final of [false, true])
      for (const form of ['full', 'minimal'] as const) {
        it(`Slack: ${n} clusters, ${final ? 'final' : 'running'}, ${form}: within every limit, untrusted text inert`, () => {
          const report = groupOfSize(n, final);
          const p = slackOf(report, SLACK, form);
          checkSlackPayload(p, [SLACK.mention]);
          const texts = mrkdwnTexts(p).map((t) => t.text);
          assert.ok(
            texts.some((t) => t.includes(`of ${n} done`)),
            'the counts are shown',
          );
          if (form === 'minimal') return;
          const table = texts
            .filter((t) => t.startsWith('```'))
            .flatMap((t) => t.slice(3, -3).split('\n'))
            .slice(1);
          const firstSuccess = report.members.findIndex((m) => !isMemberFailure(m.outcome));
          checkRows(
            report,
            table.map((row) => row.split(/\s+/)[0]!),
            texts.find((t) => t.includes('more not shown')),
            Math.min(firstSuccess, 40),
          );
        });

        it(`Teams: ${n} clusters, ${final ? 'final' : 'running'}, ${form}: within the budget, a valid card, inert`, () => {
          const report = groupOfSize(n, final);
          const p = teamsOf(report, TEAMS, form);
          checkTeams(p);
          const body = p.attachments[0].content.body as { type: string; text?: string; inlines?: { text: string }[] }[];
          assert.ok(body.some((e) => e.type === 'TextBlock' && e.text?.includes(`of ${n} done`)));
          if (form === 'minimal') return;
          const rows = body.filter((e) => e.type === 'RichTextBlock' && /^\S+ aks-/.test(e.inlines?.[0]?.text ?? ''));
          checkRows(
            report,
            rows.map((r) => r.inlines![0]!.text.split(' ')[1]!),
            body.find((e) => e.text?.includes('more not shown'))?.text,
            Math.min(n, 50),
          );
        });
      }

  it('a mention only when the group failed', () => {
    assert.ok(!JSON.stringify(slackOf(groupOfSize(8, false), SLACK)).includes('S0OPS'));
    assert.ok(slackOf(groupOfSize(8, true), SLACK).text.startsWith('<!subteam^S0OPS>'));
    assert.ok(!JSON.stringify(teamsOf(groupOfSize(8, false), TEAMS)).includes('<at>'));
    assert.match(JSON.stringify(teamsOf(groupOfSize(8, true), TEAMS)), /<at>Ops on call<\/at>/);
  });
});
