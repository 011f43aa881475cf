// The only place an ARM URL is made. Each segment is re-checked and encoded, then the result is
// compared with its template, so neither a message nor a command line can steer a request (and the
// bearer token with it) to another host or path.
import { checkClusterRef, checkCommandId } from './message';
import { type ClusterRef } from './cluster';

const CLUSTER_PATH =
  '/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/?#]+/providers/Microsoft\\.ContainerService/managedClusters/[^/?#]+';
const TEMPLATES = {
  cluster: new RegExp(`^${CLUSTER_PATH}$`),
  runCommand: new RegExp(`^${CLUSTER_PATH}/runCommand$`),
  commandResult: new RegExp(`^${CLUSTER_PATH}/commandResults/[A-Za-z0-9_-]+$`),
};

function clusterPath(cluster: ClusterRef): string {
  checkClusterRef(cluster);
  return (
    `/subscriptions/${encodeURIComponent(cluster.subscriptionId)}` +
    `/resourceGroups/${encodeURIComponent(cluster.resourceGroupName)}` +
    `/providers/Microsoft.ContainerService/managedClusters/${encodeURIComponent(cluster.resourceName)}`
  );
}

function build(armEndpoint: string, path: string, apiVersion: string, template: RegExp): string {
  const base = new URL(armEndpoint);
  const url = new URL(path, base.origin);
  url.searchParams.set('api-version', apiVersion);
  if (url.origin !== base.origin || url.pathname !== path || !template.test(url.pathname)) {
    throw new Error('refusing to build an ARM URL outside its template');
  }
  return url.toString();
}

/** GET: a command's result. */
export function commandResultUrl(
  armEndpoint: string,
  cluster: ClusterRef,
  commandId: string,
  apiVersion: string,
): string {
  checkCommandId(commandId);
  return build(
    armEndpoint,
    `${clusterPath(cluster)}/commandResults/${encodeURIComponent(commandId)}`,
    apiVersion,
    TEMPLATES.commandResult,
  );
}

/** GET: the managed cluster (whether it uses AKS-managed Entra ID). */
export function managedClusterUrl(armEndpoint: string, cluster: ClusterRef, apiVersion: string): string {
  return build(armEndpoint, clusterPath(cluster), apiVersion, TEMPLATES.cluster);
}

/** POST: start a command. */
export function runCommandUrl(armEndpoint: string, cluster: ClusterRef, apiVersion: string): string {
  return build(armEndpoint, `${clusterPath(cluster)}/runCommand`, apiVersion, TEMPLATES.runCommand);
}

/** The command id from runCommand's Location: the last path segment of …/commandResults/{id}. */
export function commandIdFromLocation(location: string | undefined): string | undefined {
  if (!location) return undefined;
  let path: string;
  try {
    path = new URL(location, 'https://management.azure.com').pathname;
  } catch {
    return undefined;
  }
  const m = /\/commandResults\/([^/?#]+)$/i.exec(path);
  if (!m) return undefined;
  try {
    return checkCommandId(decodeURIComponent(m[1]!));
  } catch {
    return undefined;
  }
}
