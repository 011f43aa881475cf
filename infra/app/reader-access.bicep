// Assigns the result-reader role to the app's identity in one resource group, which may be in any
// subscription: on one cluster (clusterName), or on the whole resource group (clusterName empty), so that
// a cluster created there later is covered with no redeploy.
param clusterName string
@description('The role definition\'s GUID: the custom role main.bicep creates, or an existing one (role definitions are tenant-wide; assignable where their scopes say).')
param roleGuid string
param principalId string

var roleDefinitionId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleGuid)
var onCluster = !empty(clusterName)

// Not deployed on a resource group grant; named anyway, since ARM still checks the id of a resource whose
// condition is false.
resource cluster 'Microsoft.ContainerService/managedClusters@2025-10-01' existing = if (onCluster) {
  name: onCluster ? clusterName : 'none'
}

// Named after the principal id, not the identity's resource id: `azd down` deletes the identity but not
// this assignment (it lives outside the resource group), and a new identity of the same name must get a
// new assignment rather than collide with the old one's name.
resource clusterAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (onCluster) {
  scope: cluster
  name: guid(cluster.id, principalId, roleGuid)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: roleDefinitionId
  }
}

resource groupAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!onCluster) {
  name: guid(resourceGroup().id, principalId, roleGuid)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: roleDefinitionId
  }
}
