// Assigns the custom role to the app's identity on one existing cluster (any resource group/subscription).
param clusterName string
@description('The custom role\'s GUID (role definitions are tenant-wide; assignable where its scopes say).')
param roleGuid string
param principalId string
@description('Known before deployment (the identity\'s resource id): names the assignment.')
param principalKey string

var roleDefinitionId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleGuid)

resource cluster 'Microsoft.ContainerService/managedClusters@2025-10-01' existing = {
  name: clusterName
}

resource access 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: cluster
  name: guid(cluster.id, principalKey, roleGuid)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: roleDefinitionId
  }
}
