// aks-command-notifier: a Flex Consumption function app that waits for AKS run command results and posts
// them to Slack/Teams. Everything authenticates with one user-assigned managed identity: no keys.
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('Name of the environment (azd: AZURE_ENV_NAME); used to name resources.')
param environmentName string

@minLength(1)
@description('Region for all resources. Flex Consumption must be available there.')
param location string

@description('Resource group to create (default: rg-<environmentName>).')
param resourceGroupName string = ''

@description('Clusters whose command results the app may read: [{ subscriptionId?, resourceGroup, name }].')
param clusters array = []

@description('Principal ids (pipelines, apps) allowed to enqueue command ids: Storage Queue Data Message Sender on the queue.')
param producerPrincipalIds array = []

@secure()
@description('Slack incoming webhook URL (stored in Key Vault). Empty: no Slack target.')
param slackWebhookUrl string = ''

@secure()
@description('Teams Workflows webhook URL (stored in Key Vault). Empty: no Teams target.')
param teamsWebhookUrl string = ''

@secure()
@description('Bot token (xoxb-…) of a Slack app (stored in Key Vault): the "slack-app" target, one live message per command. Empty: none.')
param slackBotToken string = ''

@description('Channel id (C…, from the channel details) the Slack app posts to; required with slackBotToken.')
param slackChannelId string = ''

@description('Settings passed to the app as they are (e.g. POLL_TIMEOUT_MINUTES, NOTIFY_TARGETS). Secrets belong in Key Vault.')
param extraAppSettings object = {}

@minValue(1)
@maxValue(1000)
@description('Most instances the function app scales out to.')
param maximumInstanceCount int = 40

@description('People or groups who run status, redrive and redeliver: the data roles those need (README, Operate).')
param operatorPrincipalIds array = []

@description('A VNet, private endpoints for Storage and Key Vault, public access off on Storage, Key Vault and the app; Application Insights and Log Analytics keep public (Entra-only) ingestion and query (README, Network isolation).')
param networkIsolation bool = false

@description('Email addresses the alerts notify.')
param alertEmails array = []

@secure()
@description('A webhook the alerts notify (a chat or an incident tool); empty for none.')
param alertWebhookUrl string = ''

@minValue(5)
@maxValue(1440)
@description('Alert when the oldest command message has waited this long.')
param backlogAlertMinutes int = 15

@description('Storage log categories kept for the queue and table services. StorageRead is off by default: the host polls the queue every 2 s even when idle (README estimates the cost).')
param storageLogCategories array = ['StorageWrite', 'StorageDelete']

var tags = { 'azd-env-name': environmentName, app: 'aks-command-notifier' }
var token = toLower(uniqueString(subscription().id, environmentName, location))
var names = {
  resourceGroup: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  identity: 'id-${environmentName}'
  storage: take('st${replace(environmentName, '-', '')}${token}', 24)
  logAnalytics: 'log-${environmentName}'
  appInsights: 'appi-${environmentName}'
  keyVault: take('kv-${take(replace(environmentName, '_', '-'), 10)}-${token}', 24)
  plan: 'plan-${environmentName}'
  functionApp: 'func-${environmentName}-${take(token, 6)}'
  vnet: 'vnet-${environmentName}'
}
var identityKey = resourceId(subscription().subscriptionId, names.resourceGroup, 'Microsoft.ManagedIdentity/userAssignedIdentities', names.identity)
var clusterRoleName = 'AKS command result reader (${environmentName})'
var clusterRoleGuid = guid(subscription().id, clusterRoleName)
// The defaults of src/config.ts; test/infra checks that they agree.
var appDefaults = loadJsonContent('app/settings.json')
var hasSlackApp = !empty(slackChannelId)
// Plain booleans of whether each secret is given: a module's bool parameter is then passed a bool, not an
// expression over a secure parameter (arm-ttk: parameter types consistent between parent and module).
var hasSlackWebhook = !empty(slackWebhookUrl)
var hasTeamsWebhook = !empty(teamsWebhookUrl)
var hasAlertWebhook = !empty(alertWebhookUrl)
// Targets: the zero-config webhooks, plus the Slack app as a named target; every one configured is a default.
var targetSettings = hasSlackApp
  ? {
      NOTIFY_TARGETS: 'slack-app'
      NOTIFY_TARGET_SLACK_APP_KIND: 'slack-app'
      NOTIFY_TARGET_SLACK_APP_CHANNEL: slackChannelId
      NOTIFY_DEFAULT_TARGETS: join(filter([hasSlackWebhook ? 'slack' : '', hasTeamsWebhook ? 'teams' : '', 'slack-app'], t => !empty(t)), ',')
    }
  : {}

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: names.resourceGroup
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  scope: rg
  name: 'identity'
  params: { name: names.identity, location: location, tags: tags }
}

module storage 'app/storage.bicep' = {
  scope: rg
  name: 'storage'
  params: {
    name: names.storage
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    principalKey: identityKey
    queueName: appDefaults.COMMAND_QUEUE_NAME
    deliveryTableName: appDefaults.DELIVERY_TABLE_NAME
    resultContainerName: appDefaults.RESULT_CONTAINER_NAME
    deploymentContainerName: 'app-package-${take(names.functionApp, 32)}'
    producerPrincipalIds: producerPrincipalIds
    operatorPrincipalIds: operatorPrincipalIds
    networkIsolation: networkIsolation
    workspaceId: monitoring.outputs.workspaceId
    logCategories: storageLogCategories
  }
}

module monitoring 'app/monitoring.bicep' = {
  scope: rg
  name: 'monitoring'
  params: {
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    principalKey: identityKey
  }
}

module keyVault 'app/keyvault.bicep' = {
  scope: rg
  name: 'keyvault'
  params: {
    name: names.keyVault
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    principalKey: identityKey
    slackWebhookUrl: slackWebhookUrl
    teamsWebhookUrl: teamsWebhookUrl
    slackBotToken: slackBotToken
    hasSlack: hasSlackWebhook
    hasTeams: hasTeamsWebhook
    hasSlackApp: hasSlackApp
    networkIsolation: networkIsolation
    workspaceId: monitoring.outputs.workspaceId
  }
}

module network 'app/network.bicep' = if (networkIsolation) {
  scope: rg
  name: 'network'
  params: {
    name: names.vnet
    location: location
    tags: tags
    storageAccountId: storage.outputs.id
    keyVaultId: keyVault.outputs.id
  }
}

module alerts 'app/alerts.bicep' = {
  scope: rg
  name: 'alerts'
  params: {
    namePrefix: environmentName
    location: location
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
    emails: alertEmails
    webhookUrl: alertWebhookUrl
    hasWebhook: hasAlertWebhook
    backlogMinutes: backlogAlertMinutes
  }
}

module functionApp 'app/function.bicep' = {
  scope: rg
  name: 'function'
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.connectionString
    settings: union(appDefaults, { ARM_ENDPOINT: environment().resourceManager }, targetSettings, extraAppSettings)
    keyVaultReferences: keyVault.outputs.appSettings
    maximumInstanceCount: maximumInstanceCount
    networkIsolation: networkIsolation
    subnetId: networkIsolation ? network!.outputs.appSubnetId : ''
  }
}

module clusterRole 'app/cluster-role.bicep' = if (!empty(clusters)) {
  name: 'cluster-role'
  params: {
    roleName: clusterRoleName
    roleGuid: clusterRoleGuid
    assignableScopes: union(
      [subscription().id],
      map(clusters, c => '/subscriptions/${c.?subscriptionId ?? subscription().subscriptionId}')
    )
  }
}

module clusterAccess 'app/cluster-access.bicep' = [
  for (cluster, i) in clusters: {
    name: 'cluster-access-${i}'
    scope: resourceGroup(cluster.?subscriptionId ?? subscription().subscriptionId, cluster.resourceGroup)
    dependsOn: [clusterRole]
    params: {
      clusterName: cluster.name
      roleGuid: clusterRoleGuid
      principalId: identity.outputs.principalId
      principalKey: identityKey
    }
  }
]

output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output COMMAND_QUEUE_URL string = uri(storage.outputs.queueEndpoint, appDefaults.COMMAND_QUEUE_NAME)
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
output IDENTITY_CLIENT_ID string = identity.outputs.clientId
output IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output KEY_VAULT_NAME string = keyVault.outputs.name
