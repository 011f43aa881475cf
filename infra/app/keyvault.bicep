// Key Vault (RBAC) for the app's secret settings: webhook URLs, bot tokens, whatever a notification target
// needs that is a credential (anyone with one can post to the channel). The settings come by name from
// main.bicep's secretSettings, so this module knows no channel: a new kind of target needs no edit here.
// The app reads them through Key Vault references with its identity (Key Vault Secrets User).
param name string
param location string
param tags object
param principalId string
@description('Known before deployment (the identity\'s resource id): names the role assignments, so What-If can predict them.')
param principalKey string
@secure()
@description('App setting name → secret value (main.bicep\'s secretSettings). Empty values are skipped: azd passes an unset variable as "".')
param secretSettings object
@description('The names of the non-empty entries of secretSettings (main.bicep), apart from the values: the names are no secret, and the references output below may then depend on them alone.')
param settingNames array
@description('Purge protection (main.bicep\'s keyVaultPurgeProtection states the trade-off). Once on, Key Vault keeps it on: it accepts no false, so off is sent as no value.')
param purgeProtection bool
@description('No public network access: reachable only through its private endpoint (see network.bicep).')
param networkIsolation bool
@description('Log Analytics workspace for the vault\'s audit log (who read which secret).')
param workspaceId string

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

// An app setting name (letters, digits, underscores: what App Service passes on as an environment variable)
// maps to a Key Vault secret name (letters, digits, hyphens, 1-127) by lowercasing it and turning `_` into
// `-`. SLACK_WEBHOOK_URL becomes slack-webhook-url, the name that secret had when infra named each channel,
// so an existing vault keeps it. Every valid setting name makes a valid secret name, and two make the same
// one only if they differ by case alone (`-` never occurs in a setting name), which Key Vault takes as one
// secret. Either fails the deployment with the setting's name (never its value), rather than Key Vault
// rejecting a name or one secret quietly replacing another.
var settingCharacters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_'
var secretNames = [
  for setting in settingNames: length(setting) >= 1 && length(setting) <= 127 && empty(filter(
      range(0, length(setting)),
      i => !contains(settingCharacters, substring(toUpper(setting), i, 1))
    ))
    ? replace(toLower(setting), '_', '-')
    : fail('secretSettings: "${take(setting, 140)}" is not an app setting name (1-127 letters, digits and underscores)')
]
var checkedSecretNames = length(union(secretNames, [])) == length(secretNames)
  ? secretNames
  : fail('secretSettings: two names differ only by case (${join(settingNames, ', ')}), and Key Vault secret names ignore case')

resource vault 'Microsoft.KeyVault/vaults@2025-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    enablePurgeProtection: purgeProtection ? true : null
    publicNetworkAccess: networkIsolation ? 'Disabled' : 'Enabled'
    networkAcls: { defaultAction: networkIsolation ? 'Deny' : 'Allow', bypass: 'AzureServices' }
  }
}

// Every read of a secret (the app resolving its references, or anyone else): Key Vault's AuditEvent log.
// The newest diagnostic settings API is a preview; the older GA one (2016-09-01) is another resource.
#disable-next-line use-recent-api-versions
resource audit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit'
  scope: vault
  properties: {
    workspaceId: workspaceId
    logs: [{ category: 'AuditEvent', enabled: true }]
  }
}

resource secrets 'Microsoft.KeyVault/vaults/secrets@2025-05-01' = [
  for (setting, i) in settingNames: {
    parent: vault
    name: checkedSecretNames[i]
    properties: { value: secretSettings[setting] }
  }
]

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, principalKey, keyVaultSecretsUser)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
  }
}

output name string = vault.name
output id string = vault.id
// The app settings that read the secrets: Key Vault references by vault and secret name, without a version,
// so a rotated secret is picked up (and no URI is built here: the app's cloud resolves the vault's host).
var vaultReference = '@Microsoft.KeyVault(VaultName=${vault.name};SecretName='
output appSettings object = toObject(
  range(0, length(settingNames)),
  i => settingNames[i],
  i => '${vaultReference}${checkedSecretNames[i]})'
)
