// The function app on Flex Consumption (FC1), Node 24 (the major of the lockfile's pinned `node`: the infra
// test holds the two together), with identity-based connections only.
param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param storageBlobEndpoint string
param storageQueueEndpoint string
param storageTableEndpoint string
param deploymentContainerName string
param appInsightsConnectionString string
@description('Plain (non-secret) settings the code reads, by their names in src/settings/catalog.ts.')
param settings object
@description('Key Vault references for the secret settings, by setting name (keyvault.bicep).')
param keyVaultReferences object
param maximumInstanceCount int
@description('Subnet for VNet integration (empty: none). With it, the app reaches Storage and Key Vault through their private endpoints.')
param subnetId string
@description('The app serves no HTTP endpoint of its own; with network isolation its public endpoint (and SCM, so zip deploys from outside) is closed.')
param networkIsolation bool

var appSettings = union(settings, keyVaultReferences, {
  // Identity-based host storage: no connection string, no key.
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
  AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
  // ARM calls and DefaultAzureCredential use the same user-assigned identity.
  AZURE_CLIENT_ID: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
})

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'notifier' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: networkIsolation ? 'Disabled' : 'Enabled'
    virtualNetworkSubnetId: empty(subnetId) ? null : subnetId
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      // map() rather than a for-loop, whose count would wait for other modules' outputs: a preview that
      // evaluates the template before deployment (bicep snapshot, as test/infra does) then lists each setting.
      appSettings: map(items(appSettings), s => { name: s.key, value: string(s.value) })
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      scaleAndConcurrency: { instanceMemoryMB: 2048, maximumInstanceCount: maximumInstanceCount }
      runtime: { name: 'node', version: '24' }
    }
  }

  // No publishing credentials: deployments go through Entra ID (azd, az functionapp deploy).
  resource ftp 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: { allow: false }
  }
  resource scm 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: { allow: false }
  }
}

output name string = app.name
