// Storage for the host (blobs), the command queue and its poison queue, the delivery ledger (table), the
// stored results and the Flex Consumption deployment package. Shared keys are off: every client uses
// Entra ID. Every data role is granted on the one container, queue or table it is for, never on the account.
param name string
param location string
param tags object
@description('The app identity.')
param principalId string
@description('Known before deployment (the identity\'s resource id): names the role assignments, so What-If can predict them.')
param principalKey string
param queueName string
param deliveryTableName string
param resultContainerName string
param deploymentContainerName string
param producerPrincipalIds array
@description('People or groups who run status, redrive and redeliver: the data roles those need, on the same narrow scopes.')
param operatorPrincipalIds array
@description('No public network access: reachable only through private endpoints (see network.bicep).')
param networkIsolation bool
@description('Log Analytics workspace for the queue and table logs.')
param workspaceId string
@description('Storage log categories to keep for the queue and table services (StorageRead, StorageWrite, StorageDelete). docs/operations.md estimates their cost.')
param logCategories array

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageQueueDataReader: '19e7f393-937e-4f77-808e-94535e297925'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageTableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6'
}

resource account 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: networkIsolation ? 'Disabled' : 'Enabled'
    networkAcls: { defaultAction: networkIsolation ? 'Deny' : 'Allow', bypass: 'AzureServices' }
  }

  resource blobs 'blobServices' = {
    name: 'default'
    resource deployment 'containers' = {
      name: deploymentContainerName
      properties: { publicAccess: 'None' }
    }
    // Final results (logs up to 512 kB), written only by the app; deleted after the ledger's retention.
    resource results 'containers' = {
      name: resultContainerName
      properties: { publicAccess: 'None' }
    }
    // The host's own containers (timer locks, host id, function keys), created here so that the host's
    // role can be granted on them alone instead of on the account.
    resource hosts 'containers' = {
      name: 'azure-webjobs-hosts'
      properties: { publicAccess: 'None' }
    }
    resource secrets 'containers' = {
      name: 'azure-webjobs-secrets'
      properties: { publicAccess: 'None' }
    }
  }

  resource queues 'queueServices' = {
    name: 'default'
    resource commands 'queues' = {
      name: queueName
    }
    resource poison 'queues' = {
      name: '${queueName}-poison'
    }
  }

  resource tables 'tableServices' = {
    name: 'default'
    resource deliveries 'tables' = {
      name: deliveryTableName
    }
  }
}

// The app's identity, and operators: each role on the one container, queue or table it is for.
// Containers: the host keeps its locks, host id and keys in the two azure-webjobs-* containers (Blob Data
// Owner, as the Functions docs require for host storage; container-scoped, since the containers exist);
// Flex Consumption reads the package from the deployment container with the app's identity; the app writes
// and reads its stored results. Operators read stored results (redeliver checks one exists).
var containerGrants = concat(
  [
    { container: 'azure-webjobs-hosts', principal: principalId, key: principalKey, role: roles.storageBlobDataOwner, type: 'ServicePrincipal' }
    { container: 'azure-webjobs-secrets', principal: principalId, key: principalKey, role: roles.storageBlobDataOwner, type: 'ServicePrincipal' }
    { container: deploymentContainerName, principal: principalId, key: principalKey, role: roles.storageBlobDataContributor, type: 'ServicePrincipal' }
    { container: resultContainerName, principal: principalId, key: principalKey, role: roles.storageBlobDataContributor, type: 'ServicePrincipal' }
  ],
  map(operatorPrincipalIds, o => { container: resultContainerName, principal: o, key: o, role: roles.storageBlobDataReader, type: '' })
)
// Queues: read, hide, delete and add messages, and move failures to the poison queue (Reader + Processor
// cannot release messages or write the poison queue). Operators: redrive moves poison messages back.
var queueGrants = flatten(map(
  concat([{ principal: principalId, key: principalKey, type: 'ServicePrincipal' }], map(operatorPrincipalIds, o => { principal: o, key: o, type: '' })),
  p => [
    { queue: queueName, principal: p.principal, key: p.key, role: roles.storageQueueDataContributor, type: p.type }
    { queue: '${queueName}-poison', principal: p.principal, key: p.key, role: roles.storageQueueDataContributor, type: p.type }
  ]
))
// The ledger: the app claims and records deliveries; operators read it (status) and reset targets (redeliver).
var tableGrants = concat(
  [{ principal: principalId, key: principalKey, type: 'ServicePrincipal' }],
  map(operatorPrincipalIds, o => { principal: o, key: o, type: '' })
)

resource grantedContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' existing = [
  for g in containerGrants: {
    parent: account::blobs
    name: g.container
  }
]

resource containerRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (g, i) in containerGrants: {
    scope: grantedContainers[i]
    name: guid(account.id, 'container', g.container, g.key, g.role)
    dependsOn: [account::blobs::deployment, account::blobs::results, account::blobs::hosts, account::blobs::secrets]
    properties: {
      principalId: g.principal
      principalType: empty(g.type) ? null : g.type
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', g.role)
    }
  }
]

resource grantedQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2025-01-01' existing = [
  for g in queueGrants: {
    parent: account::queues
    name: g.queue
  }
]

resource queueRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (g, i) in queueGrants: {
    scope: grantedQueues[i]
    name: guid(account.id, 'queue', g.queue, g.key, g.role)
    dependsOn: [account::queues::commands, account::queues::poison]
    properties: {
      principalId: g.principal
      principalType: empty(g.type) ? null : g.type
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', g.role)
    }
  }
]

resource tableRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for g in tableGrants: {
    scope: account::tables::deliveries
    name: guid(account::tables::deliveries.id, g.key, roles.storageTableDataContributor)
    properties: {
      principalId: g.principal
      principalType: empty(g.type) ? null : g.type
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    }
  }
]

// Who enqueued what, who read the ledger: the queue and table services' logs, in the chosen categories.
// The newest diagnostic settings API is a preview; the older GA one (2016-09-01) is another resource.
#disable-next-line use-recent-api-versions
resource queueLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(logCategories)) {
  name: 'queue-logs'
  scope: account::queues
  properties: {
    workspaceId: workspaceId
    logs: [for c in logCategories: { category: c, enabled: true }]
  }
}

#disable-next-line use-recent-api-versions
resource tableLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(logCategories)) {
  name: 'table-logs'
  scope: account::tables
  properties: {
    workspaceId: workspaceId
    logs: [for c in logCategories: { category: c, enabled: true }]
  }
}

// Producers may only add messages to the command queue.
resource producers 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for producer in producerPrincipalIds: {
    scope: account::queues::commands
    name: guid(account::queues::commands.id, producer, roles.storageQueueDataMessageSender)
    properties: {
      principalId: producer
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    }
  }
]

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
output deploymentContainerName string = deploymentContainerName
