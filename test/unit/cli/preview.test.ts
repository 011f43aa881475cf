// `preview`: what it prints for the example Teams target is a valid card for every outcome, and an unknown
// outcome is refused, naming the ones there are.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OUTCOMES } from '../../../src/core/report';
import { cardProblems } from '../../support/cards';

describe('preview', () => {
  it('prints the exact payload of every outcome for the example targets', async () => {
    const { runPreview } = await import('../../../src/cli/preview');
    for (const outcome of OUTCOMES) {
      let out = '';
      runPreview({ outcome, targets: ['teams'] }, { write: (s: string) => ((out += s), true) });
      const json = JSON.parse(out.slice(out.indexOf('\n') + 1)) as { attachments: { content: unknown }[] };
      assert.deepEqual(cardProblems(json.attachments[0]!.content), [], outcome);
    }
    assert.throws(() => runPreview({ outcome: 'maybe' }), /--outcome must be one of/);
  });
});
