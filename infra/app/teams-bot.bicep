// The Azure Bot that lets the app post to Teams as an app (the teams-app target kind): single tenant, its
// identity the app's own user-assigned managed identity (no secret, no app registration), the Teams channel
// enabled. Notification only: the bot receives nothing, so it has no messaging endpoint and the app no
// inbound route (docs/channels/teams-app.md says why).
param name string
param tags object
param identityClientId string
param identityResourceId string

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: name
  // Azure Bot is a global resource.
  location: 'global'
  tags: tags
  kind: 'azurebot'
  // Free: the Teams channel is a standard channel, not metered.
  sku: { name: 'F0' }
  properties: {
    displayName: 'AKS command notifier'
    endpoint: ''
    msaAppType: 'UserAssignedMSI'
    msaAppId: identityClientId
    msaAppMSIResourceId: identityResourceId
    msaAppTenantId: tenant().tenantId
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource teamsChannel 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: { isEnabled: true }
  }
}

@description('The bot id the Teams app package names (the identity\'s client id).')
output botId string = bot.properties.msaAppId
