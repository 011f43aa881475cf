// What a notification says of a command: the outcome and the facts a report takes from ARM's final answer,
// here from the examples of ARM's API page, read as ARM returns them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyArmResponse, type ArmAnswer } from '../../../src/core/armAnswer';
import { parsePollRequest } from '../../../src/core/message';
import { buildReport, finalAnswer } from '../../../src/core/report';

const res = (status: number, body?: unknown, headers: Record<string, string> = {}) => ({
  status,
  headers,
  bodyText: body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body),
});
const NOW = Date.parse('2026-01-01T00:00:00Z');

describe('reports of ARM answers', () => {
  it('maps the API page examples to the right outcomes', () => {
    const req = parsePollRequest({
      clusterResourceId:
        '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/clustername1',
      commandId: 'def7b3ea71bd4f7e9d226ddbc0f00ad9',
    });
    const ok = classifyArmResponse(
      res(200, {
        id: 'def7',
        properties: {
          provisioningState: 'succeeded',
          exitCode: 0,
          startedAt: '2021-02-17T00:28:20Z',
          finishedAt: '2021-02-17T00:28:33Z',
          logs: 'namespace dummy created',
        },
      }),
      NOW,
    );
    const reportForAnswer = (r: typeof req, answer: ArmAnswer, waitedSeconds: number) =>
      buildReport({ cluster: r.cluster, commandId: r.commandId, waitedSeconds }, finalAnswer(answer)!);
    const okReport = reportForAnswer(req, ok, 10);
    assert.equal(okReport.outcome, 'succeeded');
    assert.equal(okReport.durationSeconds, 13);
    const failed = reportForAnswer(
      req,
      classifyArmResponse(res(200, { properties: { provisioningState: 'failed', reason: 'ImagePullBackoff' } }), NOW),
      10,
    );
    assert.deepEqual([failed.outcome, failed.reason], ['failed', 'ImagePullBackoff']);
    const exit = reportForAnswer(
      req,
      classifyArmResponse(res(200, { properties: { provisioningState: 'Succeeded', exitCode: 2 } }), NOW),
      10,
    );
    assert.deepEqual([exit.outcome, exit.exitCode], ['exitCode', 2]);
  });
});
