// The commandResults URL: the template on the ARM host, every segment encoded, and no segment that would
// leave the template.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandResultUrl } from '../../../src/core/armUrl';

const SUB = '11111111-2222-3333-4444-555555555555';

describe('ARM URL', () => {
  it('is the commandResults template on the ARM host, with segments encoded', () => {
    const url = commandResultUrl(
      'https://management.azure.com',
      { subscriptionId: SUB, resourceGroupName: 'groupe-é(1)', resourceName: 'aks-1' },
      'abc',
      '2024-09-01',
    );
    assert.equal(
      url,
      `https://management.azure.com/subscriptions/${SUB}/resourceGroups/groupe-%C3%A9(1)/providers/Microsoft.ContainerService/managedClusters/aks-1/commandResults/abc?api-version=2024-09-01`,
    );
  });
  it('refuses segments that would leave the template', () => {
    assert.throws(() =>
      commandResultUrl(
        'https://management.azure.com',
        { subscriptionId: SUB, resourceGroupName: 'rg', resourceName: 'aks' },
        '../x',
        '2024-09-01',
      ),
    );
    assert.throws(() =>
      commandResultUrl(
        'https://management.azure.com',
        { subscriptionId: SUB, resourceGroupName: '..', resourceName: 'aks' },
        'x',
        '2024-09-01',
      ),
    );
  });
});
