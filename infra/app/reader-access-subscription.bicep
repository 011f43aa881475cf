// Assigns the result-reader role to the app's identity on a whole subscription (a clusterScopes entry):
// every cluster in it, those created later included, with no redeploy.
targetScope = 'subscription'

@description('The role definition\'s GUID: the custom role main.bicep creates, or an existing one.')
param roleGuid string
param principalId string

// Named after the principal id: see reader-access.bicep.
resource access 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roleGuid)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleGuid)
  }
}
