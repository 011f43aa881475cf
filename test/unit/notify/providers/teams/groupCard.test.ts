// The Teams card of a fleet run: groups of every size up to 200 within the card's byte budget, a valid
// Adaptive Card 1.4, untrusted text only in TextRuns, the failures first and what does not fit counted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderTeamsGroup } from '../../../../../src/notify/providers/teams/groupCard';
import { checkTeams, groupOfSize } from '../../../../support/rendering';

const OPTIONS = { armEndpoint: 'https://management.azure.com', includeLogs: true, mention: '29:1abc|Ops on call' };

describe('Teams fleet summaries', () => {
  for (const n of [1, 8, 30, 200])
    for (const final of [false, true])
      for (const form of ['full', 'minimal'] as const)
        it(`${n} clusters, ${final ? 'final' : 'running'}, ${form}: within the budget, a valid card, inert`, () => {
          const report = groupOfSize(n, final);
          const p = renderTeamsGroup(report, OPTIONS, form);
          checkTeams(p);
          const body = p.attachments[0].content.body as { type: string; text?: string; inlines?: { text: string }[] }[];
          assert.ok(body.some((e) => e.type === 'TextBlock' && e.text?.includes(`of ${n} done`)));
          if (form === 'minimal') return;
          const rows = body.filter((e) => e.type === 'RichTextBlock' && /^\S+ aks-/.test(e.inlines?.[0]?.text ?? ''));
          const names = rows.map((r) => r.inlines![0]!.text.split(' ')[1]);
          assert.deepEqual(
            names,
            report.members.slice(0, names.length).map((m) => m.cluster.resourceName),
          );
          assert.ok(names.length >= Math.min(n, 50), `${names.length} rows shown`);
          const left = n - names.length;
          const note = body.find((e) => e.text?.includes('more not shown'));
          if (left > 0) assert.match(note?.text ?? '', new RegExp(`… and ${left} more not shown`));
          else assert.equal(note, undefined);
        });
});
