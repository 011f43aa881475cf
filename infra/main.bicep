// aks-command-notifier: a Flex Consumption function app that waits for AKS run command results and posts
// them to chat channels. Everything authenticates with one user-assigned managed identity: no keys.
// The template knows no channel: which targets exist is the app's settings (extraAppSettings for the plain
// ones, secretSettings for the credentials), so a new kind of target needs no edit here.
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
@description('Secret app settings: setting name → value (e.g. SLACK_WEBHOOK_URL, NOTIFY_TARGET_OPS_TOKEN). Each non-empty one is stored in Key Vault as the secret named by lowercasing it and turning _ into - (slack-webhook-url), and the app reads it through a Key Vault reference; empty ones are skipped, so azd can map variables that are not set.')
param secretSettings object = {}

@description('Settings passed to the app as they are: tuning (POLL_TIMEOUT_MINUTES) and the non-secret part of the targets (NOTIFY_TARGETS, NOTIFY_DEFAULT_TARGETS, NOTIFY_TARGET_<NAME>_KIND, _CHANNEL, SLACK_CLUSTERS). Secrets belong in secretSettings.')
param extraAppSettings object = {}

@minValue(1)
@maxValue(1000)
@description('Most instances the function app scales out to. The app gets it as MAX_INSTANCE_COUNT: an instance that cannot reach the shared budgets keeps to 1/this of the ARM read budget. One instance serves the read budget of about two subscriptions (docs/performance.md, Scale out).')
param maximumInstanceCount int = 4

@description('People or groups who run status, redrive and redeliver: the data roles those need (docs/operations.md).')
param operatorPrincipalIds array = []

@description('A VNet, private endpoints for Storage and Key Vault, public access off on Storage, Key Vault and the app; Application Insights and Log Analytics keep public (Entra-only) ingestion and query (docs/operations.md, Network isolation).')
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

@description('An Azure Bot for teams-app targets (Teams as an app, one live card per command): single tenant, the app\'s identity, the Teams channel (docs/channels/teams-app.md).')
param teamsBot bool = false

@description('Storage log categories kept for the queue and table services. StorageRead is off by default: the host polls the queue every 2 s even when idle (docs/operations.md estimates the cost).')
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
  bot: 'bot-${environmentName}-${take(token, 6)}'
}
var identityKey = resourceId(subscription().subscriptionId, names.resourceGroup, 'Microsoft.ManagedIdentity/userAssignedIdentities', names.identity)
var clusterRoleName = 'AKS command result reader (${environmentName})'
var clusterRoleGuid = guid(subscription().id, clusterRoleName)
// The code's defaults (src/settings/catalog.ts, channels' included); test/infra checks that they agree.
var appDefaults = loadJsonContent('app/settings.json')
// A plain boolean of whether the alert webhook is given: a module's bool parameter is then passed a bool, not
// an expression over a secure parameter (arm-ttk: parameter types consistent between parent and module).
var hasAlertWebhook = !empty(alertWebhookUrl)
// The settings to store, by name only (no value): keyvault.bicep outputs their references, which must not
// depend on a secure parameter. Empty values are skipped, so an unset azd variable makes no secret.
var secretSettingNames = filter(objectKeys(secretSettings), k => !empty(secretSettings[k]))

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
    secretSettings: secretSettings
    settingNames: secretSettingNames
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
    // MAX_INSTANCE_COUNT last: the safe share of the budgets must match the plan, whatever extraAppSettings say.
    settings: union(
      appDefaults,
      { ARM_ENDPOINT: environment().resourceManager },
      extraAppSettings,
      { MAX_INSTANCE_COUNT: string(maximumInstanceCount) }
    )
    keyVaultReferences: keyVault.outputs.appSettings
    maximumInstanceCount: maximumInstanceCount
    networkIsolation: networkIsolation
    subnetId: networkIsolation ? network!.outputs.appSubnetId : ''
  }
}

module bot 'app/teams-bot.bicep' = if (teamsBot) {
  scope: rg
  name: 'teams-bot'
  params: { name: names.bot, tags: tags, identityClientId: identity.outputs.clientId, identityResourceId: identity.outputs.id }
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
output TEAMS_BOT_ID string = teamsBot ? identity.outputs.clientId : ''
