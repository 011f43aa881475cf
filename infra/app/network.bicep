// Network isolation (optional, networkIsolation=true): a VNet whose `app` subnet the function app joins
// (Flex Consumption VNet integration, delegated to Microsoft.App/environments), and private endpoints for
// the storage account (blob, queue, table) and Key Vault in the `endpoints` subnet, each with its private
// DNS zone, so the app resolves them to private addresses. Their public access is off (storage.bicep,
// keyvault.bicep). The names of the zones follow the cloud (environment()), not public Azure alone.
param name string
param location string
param tags object
param storageAccountId string
param keyVaultId string
@description('Address space of the VNet.')
param addressPrefix string = '10.42.0.0/24'

var appSubnetPrefix = cidrSubnet(addressPrefix, 26, 0)
var endpointSubnetPrefix = cidrSubnet(addressPrefix, 26, 1)
var storageSuffix = environment().suffixes.storage
var endpoints = [
  { service: 'blob', target: storageAccountId, zone: 'privatelink.blob.${storageSuffix}' }
  { service: 'queue', target: storageAccountId, zone: 'privatelink.queue.${storageSuffix}' }
  { service: 'table', target: storageAccountId, zone: 'privatelink.table.${storageSuffix}' }
  // Key Vault's private DNS zone is privatelink.vaultcore.<suffix> where the vault DNS is vault.<suffix>.
  { service: 'vault', target: keyVaultId, zone: 'privatelink${replace(environment().suffixes.keyvaultDns, '.vault.', '.vaultcore.')}' }
]

resource vnet 'Microsoft.Network/virtualNetworks@2026-03-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [addressPrefix] }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [{ name: 'flex', properties: { serviceName: 'Microsoft.App/environments' } }]
        }
      }
      {
        name: 'endpoints'
        properties: { addressPrefix: endpointSubnetPrefix, privateEndpointNetworkPolicies: 'Disabled' }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for e in endpoints: {
    name: e.zone
    location: 'global'
    tags: tags
  }
]

resource links 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (e, i) in endpoints: {
    parent: zones[i]
    name: '${name}-link'
    location: 'global'
    properties: { virtualNetwork: { id: vnet.id }, registrationEnabled: false }
  }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2026-03-01' = [
  for e in endpoints: {
    name: '${name}-${e.service}'
    location: location
    tags: tags
    properties: {
      subnet: { id: '${vnet.id}/subnets/endpoints' }
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
    properties: { privateDnsZoneConfigs: [{ name: e.service, properties: { privateDnsZoneId: zones[i].id } }] }
  }
]

output appSubnetId string = '${vnet.id}/subnets/app'
