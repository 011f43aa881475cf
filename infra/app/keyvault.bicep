// Key Vault (RBAC) for the webhook URLs and the Slack bot token: they are credentials (anyone with one can
// post to the channel).
// The app reads them through Key Vault references with its identity (Key Vault Secrets User).
param name string
param location string
param tags object
param principalId string
@description('Known before deployment (the identity\'s resource id): names the role assignments, so What-If can predict them.')
param principalKey string
@secure()
param slackWebhookUrl string
@secure()
param teamsWebhookUrl string
@secure()
param slackBotToken string
@description('Whether each secret is given (plain booleans, so that no output depends on a secret).')
param hasSlack bool
param hasTeams bool
param hasSlackApp bool
@description('No public network access: reachable only through its private endpoint (see network.bicep).')
param networkIsolation bool
@description('Log Analytics workspace for the vault\'s audit log (who read which secret).')
param workspaceId string

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var secretNames = { slack: 'slack-webhook-url', teams: 'teams-webhook-url', slackApp: 'slack-bot-token' }

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
    enablePurgeProtection: true
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

resource slack 'Microsoft.KeyVault/vaults/secrets@2025-05-01' = if (hasSlack) {
  parent: vault
  name: secretNames.slack
  properties: { value: slackWebhookUrl, contentType: 'text/uri-list' }
}

resource teams 'Microsoft.KeyVault/vaults/secrets@2025-05-01' = if (hasTeams) {
  parent: vault
  name: secretNames.teams
  properties: { value: teamsWebhookUrl, contentType: 'text/uri-list' }
}

resource slackApp 'Microsoft.KeyVault/vaults/secrets@2025-05-01' = if (hasSlackApp) {
  parent: vault
  name: secretNames.slackApp
  properties: { value: slackBotToken, contentType: 'text/plain' }
}

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
output appSettings object = union(
  hasSlack ? { SLACK_WEBHOOK_URL: '${vaultReference}${secretNames.slack})' } : {},
  hasTeams ? { TEAMS_WEBHOOK_URL: '${vaultReference}${secretNames.teams})' } : {},
  hasSlackApp ? { NOTIFY_TARGET_SLACK_APP_TOKEN: '${vaultReference}${secretNames.slackApp})' } : {}
)
