// Storage for the host (blobs), the command queue and its poison queue, the delivery ledger (table) and the
// Flex Consumption deployment container. Shared keys are off: every client uses Entra ID.
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

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
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
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
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

// The Functions host keeps its leases and the deployment package in blobs.
resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: account
  name: guid(account.id, principalKey, roles.storageBlobDataOwner)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

// Read, delete, update (visibility) and add messages, and write the poison queue: the Reader+Processor
// pair cannot release messages or move them to the poison queue.
resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: account
  name: guid(account.id, principalKey, roles.storageQueueDataContributor)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
  }
}

// The delivery ledger: which command was announced to which target.
resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: account::tables::deliveries
  name: guid(account::tables::deliveries.id, principalKey, roles.storageTableDataContributor)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
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
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
output deploymentContainerName string = deploymentContainerName
