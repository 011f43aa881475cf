// The answers of Teams webhooks, judged by the kind of endpoint: Workflows and legacy connectors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyTeamsAnswer, teamsEndpointKind } from '../../../../../src/notify/providers/teams/answers';

describe('Teams answers, judged by the kind of endpoint', () => {
  it('tells Workflows from a legacy connector by host', () => {
    assert.equal(teamsEndpointKind('https://prod-00.westeurope.logic.azure.com/workflows/x'), 'workflows');
    assert.equal(teamsEndpointKind('https://default.environment.api.powerplatform.com/powerautomate/x'), 'workflows');
    assert.equal(teamsEndpointKind('https://contoso.webhook.office.com/webhookb2/x'), 'connector');
  });
  it('Workflows: 202 (or 200 from a flow that answers itself) is taken', () => {
    assert.deepEqual(classifyTeamsAnswer('workflows', 202, ''), { ok: true });
    assert.deepEqual(classifyTeamsAnswer('workflows', 200, ''), { ok: true });
    assert.equal((classifyTeamsAnswer('workflows', 204, '') as { failure: string }).failure, 'permanent');
  });
  it('a connector: 200 with "1" is taken; 200 with an error text is not', () => {
    assert.deepEqual(classifyTeamsAnswer('connector', 200, '1'), { ok: true });
    const tooBig = classifyTeamsAnswer(
      'connector',
      200,
      'Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 413',
    );
    assert.deepEqual([tooBig.ok, (tooBig as { failure: string }).failure], [false, 'refused']);
    assert.equal(
      (classifyTeamsAnswer('connector', 200, 'Microsoft Teams endpoint returned HTTP error 429') as { failure: string })
        .failure,
      'transient',
    );
    const other = classifyTeamsAnswer('connector', 200, 'Bad payload received by generic incoming webhook.') as {
      failure: string;
      detail: string;
    };
    assert.deepEqual([other.failure, /Bad payload received/.test(other.detail)], ['permanent', true]);
    assert.equal((classifyTeamsAnswer('connector', 202, '') as { failure: string }).failure, 'permanent');
  });
});
