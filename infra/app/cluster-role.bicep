// A least-privilege custom role: read run command results, and start commands only when asked.
targetScope = 'subscription'

param roleName string
@description('GUID of the role definition: fixed by the caller so assignments can be named before it exists.')
param roleGuid string
param allowRunCommand bool
@description('Subscriptions where the role may be assigned.')
param assignableScopes array

var readActions = ['Microsoft.ContainerService/managedClusters/commandResults/read']
var runActions = allowRunCommand ? ['Microsoft.ContainerService/managedClusters/runcommand/action'] : []

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: roleGuid
  properties: {
    roleName: roleName
    description: 'aks-command-notifier: read AKS run command results${allowRunCommand ? ' and start run commands' : ''}.'
    type: 'customRole'
    permissions: [{ actions: concat(readActions, runActions), notActions: [] }]
    assignableScopes: assignableScopes
  }
}

output roleDefinitionId string = role.id
output roleGuid string = role.name
