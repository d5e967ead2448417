// Key Vault for the token caches (one secret per connection, written by the app) and the sign-in app
// registration's client secret (read by the platform through a Key Vault reference). RBAC authorization only
// (no access policies), soft delete and purge protection so a deleted vault or secret can be recovered for
// 90 days and nobody can purge token material early.

@description('Name of the Key Vault (3-24 letters, digits and hyphens, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region of the vault.')
param location string

@description('Tags applied to the vault.')
param tags object

@description('Recover a soft-deleted vault of this name instead of creating one. Purge protection keeps a deleted vault (and its name) for 90 days, so re-deploying an environment after `azd down` needs this.')
param recoverSoftDeleted bool

@description('Name of the secret holding the sign-in app registration client secret. Token-cache secrets are named conn-<tenant>-<id>, so this cannot collide.')
param authClientSecretName string

@secure()
@description('Client secret of the sign-in app registration. Empty leaves the secret in the vault untouched, so a later `azd provision` never reverts a rotation done directly in Key Vault.')
param authClientSecret string

@description('Name of the secret holding the API registration\'s client secret (API_CLIENT_SECRET, user processes\' On-Behalf-Of).')
param apiClientSecretName string

@secure()
@description('Client secret of the API app registration. Empty leaves the secret in the vault untouched (or absent).')
param apiClientSecret string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    // Azure RBAC for the data plane: the app identity gets Key Vault Secrets Officer, nothing gets access policies.
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // Cannot be turned off once on: deleted token caches stay recoverable for the whole retention period.
    enablePurgeProtection: true
    createMode: recoverSoftDeleted ? 'recover' : 'default'
    // Flex Consumption without VNet integration reaches the vault over its public endpoint; access is RBAC-only.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Written through Azure Resource Manager by whoever runs the deployment (Contributor is enough; no data-plane
// role needed). The value never leaves this module: no output carries it.
resource authClientSecretValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(authClientSecret)) {
  parent: vault
  name: authClientSecretName
  properties: {
    value: authClientSecret
    contentType: 'client secret of the Connections sign-in app registration'
  }
}

resource apiClientSecretValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(apiClientSecret)) {
  parent: vault
  name: apiClientSecretName
  properties: {
    value: apiClientSecret
    contentType: 'client secret of the Connections API app registration'
  }
}

@description('Name of the vault.')
output name string = vault.name

@description('Vault URI (with trailing slash), for KEY_VAULT_URI.')
output uri string = vault.properties.vaultUri

@description('Versionless URI of the client secret: the Key Vault reference follows the latest version, so rotation needs no app-setting change.')
output authClientSecretUri string = '${vault.properties.vaultUri}secrets/${authClientSecretName}'

@description('Versionless URI of the API registration\'s client secret.')
output apiClientSecretUri string = '${vault.properties.vaultUri}secrets/${apiClientSecretName}'
