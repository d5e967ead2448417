// One storage account for the app's Tables (connections, sign-in states, runs, leases) and for the Functions
// host (AzureWebJobsStorage blobs, and the Flex Consumption deployment container). Keyless: shared-key access
// is off, so account keys, SAS and connection strings do not work at all; everything goes through Entra ID and
// the role assignments in role-assignments.bicep.

@description('Name of the storage account (3-24 lower-case letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region of the account.')
param location string

@description('Tags applied to the account.')
param tags object

@description('Replication. Standard_ZRS (or GZRS) survives a zone outage where the region offers it.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string

@description('Blob container that Flex Consumption deploys the app package to.')
param deploymentContainerName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    // Keyless: no account key, SAS or connection string is accepted.
    allowSharedKeyAccess: false
    // Make the portal and tools default to Entra ID too, since keys would fail anyway.
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // Flex Consumption without VNet integration reaches storage over its public endpoint; access is still
    // identity-only. Add VNet integration + private endpoints if policy demands it.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    // Lets ops undo an accidental delete of a deployment package or host blob.
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// The app's tables are not declared here: the app creates them on first use (Storage Table Data Contributor
// allows it), so a new table in code needs no infra change.

@description('Name of the storage account.')
output name string = storage.name

@description('Table endpoint without a trailing slash, for TABLES_ENDPOINT.')
output tableEndpoint string = 'https://${storage.name}.table.${environment().suffixes.storage}'

@description('Blob endpoint URL of the deployment container, for functionAppConfig.deployment.')
output deploymentContainerUrl string = '${storage.properties.primaryEndpoints.blob}${deploymentContainer.name}'
