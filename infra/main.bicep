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
@description('Region for all resources (azd: AZURE_LOCATION). Flex Consumption must be available there.')
@metadata({ azd: { type: 'location' } })
param location string

@description('Resource group to create (default: rg-<environmentName>).')
param resourceGroupName string = ''

@description('Clusters whose command results the app may read, each a resource id (what `az aks list --query "[].id"` prints) or { subscriptionId?, resourceGroup, name }: the reader role is assigned on each.')
param clusters array = []

@description('Subscriptions or resource groups whose clusters the app may read, those created later included: the reader role is assigned at that scope, so a new cluster there needs no redeploy. Each a subscription id, /subscriptions/<id> or /subscriptions/<id>/resourceGroups/<name>.')
param clusterScopes array = []

@description('An existing role definition to assign on the clusters and scopes instead of creating the custom reader role (where custom roles are not allowed): its GUID or resource id. It must allow Microsoft.ContainerService/managedClusters/commandResults/read there (docs/deploy.md).')
param clusterRoleDefinitionId string = ''

@description('Principal ids (pipelines, apps) allowed to enqueue command ids: Storage Queue Data Message Sender on the queue.')
param producerPrincipalIds array = []

@description('People or groups who run status, redrive and redeliver: the data roles those need (docs/operations.md).')
param operatorPrincipalIds array = []

@description('The deploying principal (azd: AZURE_PRINCIPAL_ID). With grantDeployerRoles it is a producer and an operator, so that its first `run` can enqueue what it starts and `status` can read.')
param deployerPrincipalId string = ''

@description('Give deployerPrincipalId the producer and operator roles. Turn off where the deployer is a pipeline that should hold no data access.')
param grantDeployerRoles bool = true

@secure()
@description('Secret app settings: setting name → value (e.g. SLACK_WEBHOOK_URL, NOTIFY_TARGET_OPS_TOKEN). Each non-empty one is stored in Key Vault as the secret named by lowercasing it and turning _ into - (slack-webhook-url), and the app reads it through a Key Vault reference; empty ones are skipped, so azd can map variables that are not set.')
param secretSettings object = {}

@secure()
@description('More secret app settings, as secretSettings, merged over it: with azd the one variable NOTIFIER_SECRET_SETTINGS (a JSON object) carries the secrets of named targets, so that none needs an edit of main.parameters.json.')
param extraSecretSettings object = {}

@description('Settings passed to the app as they are: tuning (POLL_TIMEOUT_MINUTES) and the non-secret part of the targets (NOTIFY_TARGETS, NOTIFY_DEFAULT_TARGETS, NOTIFY_TARGET_<NAME>_KIND, _CHANNEL, SLACK_CLUSTERS). Secrets belong in secretSettings.')
param extraAppSettings object = {}

@minValue(1)
@maxValue(1000)
@description('Most instances the function app scales out to. The app gets it as MAX_INSTANCE_COUNT: an instance that cannot reach the shared budgets keeps to 1/this of the ARM read budget. One instance serves the read budget of about two subscriptions (docs/performance.md, Scale out).')
param maximumInstanceCount int = 4

@description('Private endpoints for Storage and Key Vault, public access off on Storage, Key Vault and the app, the app in a VNet; Application Insights and Log Analytics keep public (Entra-only) ingestion and query (docs/operations.md, Network isolation).')
param networkIsolation bool = false

@description('With networkIsolation, when the template makes the VNet: its address space, from which two /26 subnets are cut (so /25 or larger).')
param vnetAddressPrefix string = '10.42.0.0/24'

@description('With networkIsolation: an existing subnet for the app\'s VNet integration (delegated to Microsoft.App/environments, in the deployment\'s region) instead of a VNet made here. Give privateEndpointSubnetId with it.')
param appSubnetId string = ''

@description('With networkIsolation: an existing subnet for the private endpoints of Storage and Key Vault. Give appSubnetId with it.')
param privateEndpointSubnetId string = ''

@description('With networkIsolation: existing private DNS zones by service, { blob?, queue?, table?, vault? } → zone resource id (e.g. a hub\'s centrally managed privatelink zones, which its DNS already serves). The template makes, and links to the app\'s VNet, only the zones not given.')
param privateDnsZoneIds object = {}

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

@description('Key Vault purge protection. On, a deleted vault or secret cannot be purged for 7 days, so no one can destroy the secrets for good before then; but `azd down` then `azd up` on the same environment fails on the vault\'s name until then, and once on it stays on. Off (the default), `azd down --purge` frees the name; the secrets are webhook URLs and tokens that their own service can issue again.')
param keyVaultPurgeProtection bool = false

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
// The code's defaults (src/settings/catalog.ts, channels' included); test/infra checks that they agree.
var appDefaults = loadJsonContent('app/settings.json')
// A plain boolean of whether the alert webhook is given: a module's bool parameter is then passed a bool, not
// an expression over a secure parameter (arm-ttk: parameter types consistent between parent and module).
var hasAlertWebhook = !empty(alertWebhookUrl)
// The settings to store, by name only (no value): keyvault.bicep outputs their references, which must not
// depend on a secure parameter. Empty values are skipped, so an unset azd variable makes no secret.
var secrets = union(secretSettings, extraSecretSettings)
var secretSettingNames = filter(objectKeys(secrets), k => !empty(secrets[k]))

// Who may enqueue and who operates: the deployer too (unless turned off), so that its first `run` can
// enqueue the command it starts. Lowercased, so that a principal listed twice gets one assignment.
var deployer = grantDeployerRoles && !empty(deployerPrincipalId) ? [toLower(deployerPrincipalId)] : []
var producers = union(map(producerPrincipalIds, p => toLower(p)), deployer)
var operators = union(map(operatorPrincipalIds, p => toLower(p)), deployer)

// Clusters, each as { subscriptionId, resourceGroup, name }, whichever form it was given in; anything else
// fails the deployment before it starts, naming the entry.
var clusterIds = map(
  clusters,
  c =>
    string(c) == c
      ? string(c)
      : '/subscriptions/${c.?subscriptionId ?? subscription().subscriptionId}/resourceGroups/${c.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${c.name}'
)
// A cluster or scope listed twice (in two forms, or two cases) is assigned once: two nested deployments
// writing one assignment at once would collide.
var uniqueClusterIds = filter(
  clusterIds,
  (id, i) => indexOf(map(clusterIds, x => toLower(x)), toLower(id)) == i
)
var clusterTargets = map(
  uniqueClusterIds,
  id =>
    length(split(id, '/')) == 9 && toLower(join(
        [split(id, '/')[1], split(id, '/')[3], split(id, '/')[5], split(id, '/')[6], split(id, '/')[7]],
        '/'
      )) == 'subscriptions/resourcegroups/providers/microsoft.containerservice/managedclusters'
      ? { subscriptionId: split(id, '/')[2], resourceGroup: split(id, '/')[4], name: split(id, '/')[8] }
      : fail('clusters: "${take(id, 300)}" is not an AKS cluster: give its resource id (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ContainerService/managedClusters/<name>) or { subscriptionId?, resourceGroup, name }')
)
// Scopes, each as { subscriptionId, resourceGroup } (resourceGroup empty for a whole subscription).
var givenScopeIds = map(clusterScopes, s => startsWith(s, '/') ? s : '/subscriptions/${s}')
var scopeIds = filter(
  givenScopeIds,
  (id, i) => indexOf(map(givenScopeIds, x => toLower(x)), toLower(id)) == i
)
var scopeTargets = map(
  scopeIds,
  id =>
    length(split(id, '/')) == 3 && toLower(split(id, '/')[1]) == 'subscriptions'
      ? { subscriptionId: split(id, '/')[2], resourceGroup: '' }
      : length(split(id, '/')) == 5 && toLower('${split(id, '/')[1]}/${split(id, '/')[3]}') == 'subscriptions/resourcegroups'
          ? { subscriptionId: split(id, '/')[2], resourceGroup: split(id, '/')[4] }
          : fail('clusterScopes: "${take(id, 300)}" is neither a subscription (<id> or /subscriptions/<id>) nor a resource group (/subscriptions/<id>/resourceGroups/<name>)')
)
// Where the reader role is assigned: on each cluster, on each resource group scope (reader-access.bicep)
// and on each subscription scope (reader-access-subscription.bicep).
var groupGrants = concat(
  map(clusterTargets, c => { subscriptionId: c.subscriptionId, resourceGroup: c.resourceGroup, clusterName: c.name }),
  map(filter(scopeTargets, s => !empty(s.resourceGroup)), s => {
    subscriptionId: s.subscriptionId
    resourceGroup: s.resourceGroup
    clusterName: ''
  })
)
var subscriptionGrants = filter(scopeTargets, s => empty(s.resourceGroup))
var readsClusters = !empty(clusterTargets) || !empty(scopeTargets)
// The reader role: an existing one given by GUID or id, or the custom role made here. The made role's GUID
// and name are unique per deployment (subscription and resource group): role names are unique in the
// tenant, so the same environment name in another subscription gets a role of its own.
var existingRoleGuid = last(split(clusterRoleDefinitionId, '/'))
var createRole = readsClusters && empty(clusterRoleDefinitionId)
var roleGuid = empty(clusterRoleDefinitionId)
  ? guid(subscription().id, names.resourceGroup, 'aks-command-result-reader')
  : length(existingRoleGuid) == 36
      ? existingRoleGuid
      : fail('clusterRoleDefinitionId: "${take(clusterRoleDefinitionId, 300)}" is neither a role definition GUID nor its resource id')
var roleName = 'AKS command result reader (${names.resourceGroup}, ${subscription().subscriptionId})'
// Where the made role may be assigned: this subscription, and elsewhere each cluster's resource group and
// each scope, no wider, so that the deployer needs rights there only (docs/deploy.md, Who may deploy).
var assignableScopes = union(
  [subscription().id],
  map(
    filter(
      concat(map(clusterTargets, c => '/subscriptions/${c.subscriptionId}/resourceGroups/${c.resourceGroup}'), scopeIds),
      id => toLower(split(id, '/')[2]) != toLower(subscription().subscriptionId)
    ),
    id => toLower(id)
  )
)

// Network isolation with parts of one's own (network.bicep): the given ids are checked here, before
// anything is deployed.
var givenZones = filter(items(privateDnsZoneIds), z => !empty(z.value))
var isolated = networkIsolation
  ? true
  : !empty(appSubnetId) || !empty(privateEndpointSubnetId) || !empty(givenZones)
      ? fail('appSubnetId, privateEndpointSubnetId and privateDnsZoneIds apply with networkIsolation (azd: NETWORK_ISOLATION=true): set it, or clear them (azd: an empty string for a subnet, an empty object for PRIVATE_DNS_ZONE_IDS)')
      : false
var zonesNeedSubnets = !empty(givenZones) && empty(appSubnetId)
  ? fail('privateDnsZoneIds go with your own subnets (appSubnetId, privateEndpointSubnetId): a VNet made here is not served by your zones\' DNS, and the template does not link zones it does not own')
  : true
var subnets = map(
  empty(appSubnetId) && empty(privateEndpointSubnetId)
    ? []
    : empty(appSubnetId) || empty(privateEndpointSubnetId)
        ? fail('appSubnetId and privateEndpointSubnetId go together: give both subnets, or neither to have the template make the VNet')
        : [appSubnetId, privateEndpointSubnetId],
  id =>
    length(split(id, '/')) == 11 && toLower(join(
        [split(id, '/')[1], split(id, '/')[3], split(id, '/')[5], split(id, '/')[6], split(id, '/')[7], split(id, '/')[9]],
        '/'
      )) == 'subscriptions/resourcegroups/providers/microsoft.network/virtualnetworks/subnets'
      ? id
      : fail('appSubnetId, privateEndpointSubnetId: "${take(id, 300)}" is not a subnet\'s resource id (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<name>)')
)
// A zone is checked by its name's service part, which no cloud changes (privatelink.blob.…,
// privatelink.vaultcore.…), so that what is given passes on as given.
var zones = toObject(
  givenZones,
  z => z.key,
  z =>
    !contains(['blob', 'queue', 'table', 'vault'], z.key)
      ? fail('privateDnsZoneIds: "${take(z.key, 40)}" is no service here (blob, queue, table, vault)')
      : length(split(string(z.value), '/')) == 9 && startsWith(
            toLower(last(split(string(z.value), '/'))),
            'privatelink.${z.key == 'vault' ? 'vaultcore' : z.key}.'
          ) && toLower(join([split(string(z.value), '/')[6], split(string(z.value), '/')[7]], '/')) == 'microsoft.network/privatednszones'
          ? string(z.value)
          : fail('privateDnsZoneIds.${z.key}: "${take(string(z.value), 300)}" is not the resource id of a privatelink.${z.key == 'vault' ? 'vaultcore' : z.key}.* private DNS zone')
)
var vnetPrefixBits = length(split(vnetAddressPrefix, '/')) == 2 ? int(last(split(vnetAddressPrefix, '/'))) : 0
var vnetPrefix = vnetPrefixBits >= 8 && vnetPrefixBits <= 25
  ? vnetAddressPrefix
  : fail('vnetAddressPrefix: "${take(vnetAddressPrefix, 60)}" must be a /8 to /25 range: two /26 subnets are cut from it')

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
    producerPrincipalIds: producers
    operatorPrincipalIds: operators
    networkIsolation: isolated
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
    secretSettings: secrets
    settingNames: secretSettingNames
    purgeProtection: keyVaultPurgeProtection
    networkIsolation: isolated
    workspaceId: monitoring.outputs.workspaceId
  }
}

module network 'app/network.bicep' = if (isolated) {
  scope: rg
  name: 'network'
  params: {
    name: names.vnet
    location: location
    tags: tags
    storageAccountId: storage.outputs.id
    keyVaultId: keyVault.outputs.id
    addressPrefix: vnetPrefix
    appSubnetId: empty(subnets) ? '' : subnets[0]
    endpointSubnetId: empty(subnets) ? '' : subnets[1]
    dnsZoneIds: zonesNeedSubnets ? zones : {}
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
    networkIsolation: isolated
    subnetId: isolated ? network!.outputs.appSubnetId : ''
  }
}

module bot 'app/teams-bot.bicep' = if (teamsBot) {
  scope: rg
  name: 'teams-bot'
  params: { name: names.bot, tags: tags, identityClientId: identity.outputs.clientId, identityResourceId: identity.outputs.id }
}

module clusterRole 'app/cluster-role.bicep' = if (createRole) {
  // A subscription-level deployment: the token keeps two environments' from colliding.
  name: 'aksnotifier-${token}-reader-role'
  params: { roleName: roleName, roleGuid: roleGuid, assignableScopes: assignableScopes }
}

// Deployment names carry the token: two deployments that read clusters in one resource group must not
// overwrite each other's nested deployment there.
module groupAccess 'app/reader-access.bicep' = [
  for (g, i) in groupGrants: {
    name: 'aksnotifier-${token}-reader-${i}'
    scope: resourceGroup(g.subscriptionId, g.resourceGroup)
    dependsOn: [clusterRole]
    // The assignment is named after the identity's principal id (reader-access.bicep says why), which What-If
    // cannot know before the identity exists: it shows these assignments as unknown.
    #disable-next-line what-if-short-circuiting
    params: { clusterName: g.clusterName, roleGuid: roleGuid, principalId: identity.outputs.principalId }
  }
]

module subscriptionAccess 'app/reader-access-subscription.bicep' = [
  for (s, i) in subscriptionGrants: {
    name: 'aksnotifier-${token}-reader-sub-${i}'
    scope: subscription(s.subscriptionId)
    dependsOn: [clusterRole]
    #disable-next-line what-if-short-circuiting
    params: { roleGuid: roleGuid, principalId: identity.outputs.principalId }
  }
]

// What a producer or an operator needs afterwards, named as the CLI reads them, so that
// `azd env get-values` gives it its settings (docs/deploy.md, After the deployment). The storage
// URLs are built as the CLI builds them from the account name: standard accounts' endpoints.
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output COMMAND_QUEUE_URL string = uri('https://${names.storage}.queue.${environment().suffixes.storage}/', appDefaults.COMMAND_QUEUE_NAME)
output COMMAND_QUEUE_NAME string = appDefaults.COMMAND_QUEUE_NAME
output AzureWebJobsStorage__accountName string = names.storage
output STORAGE_ACCOUNT_NAME string = names.storage
output DELIVERY_TABLE_NAME string = appDefaults.DELIVERY_TABLE_NAME
output RESULT_CONTAINER_NAME string = appDefaults.RESULT_CONTAINER_NAME
output ARM_ENDPOINT string = environment().resourceManager
output IDENTITY_CLIENT_ID string = identity.outputs.clientId
output IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output KEY_VAULT_NAME string = names.keyVault
output TEAMS_BOT_ID string = teamsBot ? identity.outputs.clientId : ''
output CLUSTER_IDS array = uniqueClusterIds
output CLUSTER_SCOPES array = scopeIds
output CLUSTER_ROLE_DEFINITION_ID string = readsClusters ? subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleGuid) : ''
