// Network isolation (optional, networkIsolation=true): the app joins a subnet (Flex Consumption VNet
// integration, delegated to Microsoft.App/environments), and the storage account (blob, queue, table) and
// Key Vault get private endpoints in another subnet, each registered in its private DNS zone, so the app
// resolves them to private addresses. Their public access is off (storage.bicep, keyvault.bicep).
//
// Each part is made here unless given, for a hub-and-spoke network whose team owns them:
//   - the subnets: a VNet of two /26 subnets cut from addressPrefix, or appSubnetId and endpointSubnetId;
//   - the zones: privatelink.* zones linked to the app's VNet, or existing zone ids (the hub's centrally
//     managed zones, which its DNS already serves; this template then makes no zone and no link).
// main.bicep checks the given ids before anything is deployed. The zones' names follow the cloud
// (environment()), not public Azure alone.
param name string
param location string
param tags object
param storageAccountId string
param keyVaultId string
@description('Address space of the VNet made here (not used with appSubnetId).')
param addressPrefix string
@description('An existing subnet for the app\'s VNet integration; empty: make the VNet.')
param appSubnetId string
@description('An existing subnet for the private endpoints; given together with appSubnetId.')
param endpointSubnetId string
@description('Existing private DNS zone ids by service (blob, queue, table, vault); a service not named gets a zone made here.')
param dnsZoneIds object

var makeVnet = empty(appSubnetId)
var storageSuffix = environment().suffixes.storage
var endpoints = [
  { service: 'blob', target: storageAccountId, zone: 'privatelink.blob.${storageSuffix}' }
  { service: 'queue', target: storageAccountId, zone: 'privatelink.queue.${storageSuffix}' }
  { service: 'table', target: storageAccountId, zone: 'privatelink.table.${storageSuffix}' }
  // Key Vault's private DNS zone is privatelink.vaultcore.<suffix> where the vault DNS is vault.<suffix>.
  { service: 'vault', target: keyVaultId, zone: 'privatelink${replace(environment().suffixes.keyvaultDns, '.vault.', '.vaultcore.')}' }
]
// The VNet the made zones are linked to: the app's, whose lookups must find the private addresses.
var appVnetId = makeVnet ? vnet.id : join(take(split(appSubnetId, '/'), 9), '/')

resource vnet 'Microsoft.Network/virtualNetworks@2026-03-01' = if (makeVnet) {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [addressPrefix] }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 26, 0)
          delegations: [{ name: 'flex', properties: { serviceName: 'Microsoft.App/environments' } }]
        }
      }
      {
        name: 'endpoints'
        properties: { addressPrefix: cidrSubnet(addressPrefix, 26, 1), privateEndpointNetworkPolicies: 'Disabled' }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for e in endpoints: if (empty(dnsZoneIds[?e.service] ?? '')) {
    name: e.zone
    location: 'global'
    tags: tags
  }
]

resource links 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (e, i) in endpoints: if (empty(dnsZoneIds[?e.service] ?? '')) {
    parent: zones[i]
    name: '${name}-link'
    location: 'global'
    properties: { virtualNetwork: { id: appVnetId }, registrationEnabled: false }
  }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2026-03-01' = [
  for e in endpoints: {
    name: '${name}-${e.service}'
    location: location
    tags: tags
    properties: {
      subnet: { id: makeVnet ? '${vnet.id}/subnets/endpoints' : endpointSubnetId }
      privateLinkServiceConnections: [
        { name: e.service, properties: { privateLinkServiceId: e.target, groupIds: [e.service] } }
      ]
    }
  }
]

resource dnsGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2026-03-01' = [
  for (e, i) in endpoints: {
    parent: privateEndpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: e.service
          properties: { privateDnsZoneId: empty(dnsZoneIds[?e.service] ?? '') ? zones[i].id : dnsZoneIds[e.service] }
        }
      ]
    }
  }
]

output appSubnetId string = makeVnet ? '${vnet.id}/subnets/app' : appSubnetId
