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

/**
 * The subscription a read budget counts against: ARM throttles per subscription whatever the case of its id,
 * so every budget (the app's `arm.` rows, `run --wait`'s) is keyed by the id lower-cased.
 */
export function subscriptionKey(ref: ClusterRef): string {
  return ref.subscriptionId.toLowerCase();
}
