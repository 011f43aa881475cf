// A managed cluster's coordinates and its resource id: shared by the message contract, reports and the
// ARM client. No validation library here, so that renderers stay light (the start-up bundle uses them).

export interface ClusterRef {
  subscriptionId: string;
  resourceGroupName: string;
  resourceName: string;
}

export function clusterResourceId(ref: ClusterRef): string {
  return `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${ref.resourceName}`;
}
