// A least-privilege custom role: read run command results, nothing else. The notifier never starts
// commands: callers start them with their own identity (`aks-command-notifier run`), so the cluster's audit
// trail names them; the built-ins that can read results (Azure Kubernetes Service Contributor, Contributor)
// grant far more.
targetScope = 'subscription'

param roleName string
@description('GUID of the role definition: fixed by the caller so assignments can be named before it exists.')
param roleGuid string
@description('Where the role may be assigned: the deployment\'s subscription, each listed cluster\'s resource group, each cluster scope. The deployer needs the right to write role definitions at each (docs/deploy.md).')
param assignableScopes array

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: roleGuid
  properties: {
    roleName: roleName
    description: 'aks-command-notifier: read AKS run command results.'
    type: 'customRole'
    permissions: [{ actions: ['Microsoft.ContainerService/managedClusters/commandResults/read'] }]
    assignableScopes: assignableScopes
  }
}

output roleDefinitionId string = role.id
output roleGuid string = role.name
