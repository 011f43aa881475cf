// Example reports for `preview` and for the tests that check every outcome against the limits.
import type { CommandReport, Outcome } from '../core/report';

const CLUSTER = {
  subscriptionId: '00000000-0000-0000-0000-000000000000',
  resourceGroupName: 'rg-platform',
  clusterName: 'aks-prod-weu',
};

export function sampleReport(outcome: Outcome, logs?: string): CommandReport {
  const base: CommandReport = {
    outcome,
    ...CLUSTER,
    clusterResourceId: `/subscriptions/${CLUSTER.subscriptionId}/resourceGroups/${CLUSTER.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${CLUSTER.clusterName}`,
    commandId: 'def7b3ea71bd4f7e9d226ddbc0f00ad9',
    command: 'kubectl rollout status deployment/web -n shop',
    context: {
      requestedBy: 'release-pipeline',
      link: 'https://dev.azure.com/contoso/shop/_build/results?buildId=4242',
    },
    waitedSeconds: 95,
  };
  const ran = { startedAt: '2026-11-27T10:00:00Z', finishedAt: '2026-11-27T10:01:33Z', durationSeconds: 93 };
  switch (outcome) {
    case 'succeeded':
      return {
        ...base,
        ...ran,
        provisioningState: 'Succeeded',
        exitCode: 0,
        logs: logs ?? 'deployment "web" successfully rolled out\n',
      };
    case 'exitCode':
      return {
        ...base,
        ...ran,
        provisioningState: 'Succeeded',
        exitCode: 1,
        logs:
          logs ??
          'Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available...\nerror: timed out waiting for the condition\n',
      };
    case 'failed':
      return {
        ...base,
        provisioningState: 'Failed',
        reason: 'ImagePullBackoff',
        ...(logs !== undefined ? { logs } : {}),
      };
    case 'notFound':
      return {
        ...base,
        detail:
          'ARM answered 404: the command or the cluster was not found (the id may be wrong, or the result expired).',
      };
    case 'forbidden':
      return {
        ...base,
        detail:
          "ARM answered 403: the app's identity lacks Microsoft.ContainerService/managedClusters/commandResults/read on this cluster.",
      };
    case 'timedOut':
      return {
        ...base,
        provisioningState: 'Running',
        waitedSeconds: 7200,
        detail: 'Still running: gave up waiting after 2h 0m; it was still Running.',
      };
    case 'error':
      return { ...base, detail: 'ARM answered 400 InvalidParameter.' };
  }
}

/** The same command while it still runs: the live message a channel posts first, then updates. */
export function sampleRunningReport(): CommandReport {
  const { outcome: _outcome, waitedSeconds: _waited, detail: _detail, ...subject } = sampleReport('error');
  return { ...subject, provisioningState: 'Running', startedAt: '2026-11-27T10:00:00Z' };
}
