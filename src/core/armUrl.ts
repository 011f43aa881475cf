// The only place an ARM URL is made. Each segment is re-checked and encoded, then the result is
// compared with the template, so a message cannot steer the request to another host or path.
import { checkClusterRef, checkCommandId, type ClusterRef } from './message';

const TEMPLATE =
  /^\/subscriptions\/[0-9a-fA-F-]{36}\/resourceGroups\/[^/?#]+\/providers\/Microsoft\.ContainerService\/managedClusters\/[^/?#]+\/commandResults\/[A-Za-z0-9_-]+$/;

export function commandResultUrl(armEndpoint: string, cluster: ClusterRef, commandId: string, apiVersion: string): string {
  checkClusterRef(cluster);
  checkCommandId(commandId);
  const base = new URL(armEndpoint);
  const path =
    `/subscriptions/${encodeURIComponent(cluster.subscriptionId)}` +
    `/resourceGroups/${encodeURIComponent(cluster.resourceGroupName)}` +
    `/providers/Microsoft.ContainerService/managedClusters/${encodeURIComponent(cluster.resourceName)}` +
    `/commandResults/${encodeURIComponent(commandId)}`;
  const url = new URL(path, base.origin);
  url.searchParams.set('api-version', apiVersion);
  if (url.origin !== base.origin || url.pathname !== path || !TEMPLATE.test(url.pathname)) {
    throw new Error('refusing to build an ARM URL outside the commandResults template');
  }
  return url.toString();
}
