// Least-privilege data-plane roles for the app's user-assigned identity, each scoped to the one resource it is
// for (never the resource group or subscription). The resources are referenced as `existing` so that each
// assignment's scope is the resource itself; for Service Bus triggers that is the queue (see below).
//
// test/infra/bicep-drift.test.ts checks that every data-plane resource in infra/ has its roles here and that the
// role definition ids below are the built-in ones.

@description('Name of the app\'s user-assigned managed identity (the principal of every assignment).')
param identityName string

@description('Name of the storage account (app Tables + Functions host storage).')
param storageAccountName string

@description('Name of the Key Vault holding token caches and the client secret.')
param keyVaultName string

@description('Name of the Service Bus namespace.')
param serviceBusNamespaceName string

@description('Queues of that namespace a function is triggered by (the app identity gets Data Owner on each).')
param serviceBusTriggerQueueNames array

@description('Name of the Application Insights component.')
param applicationInsightsName string

// Built-in role definition ids (the same in every tenant and cloud).
var roleDefinitionIds = {
  // Read, write and delete secrets: the token broker writes rotated MSAL caches and deletes them with the connection.
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  // Enqueue next steps, admin-posted events and connection events.
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  // Service Bus triggers receive, complete and abandon, and the scale controller reads the queue's length, which
  // needs the Manage claim: only Data Owner carries it. Granted per triggered queue (README: "Service Bus roles
  // and scaling").
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  // The app's tables (creates them on first use).
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // Functions host storage (creates its containers, leases, timer state) and the Flex deployment package.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Functions host queues. Only queue- and blob-triggered functions need them (none today); kept because the
  // deployment issue asks for it, and so such a trigger works without an infra change.
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // Telemetry ingestion with Entra auth (Application Insights local auth is disabled).
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource appIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: identityName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource triggerQueues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = [
  for queueName in serviceBusTriggerQueueNames: {
    parent: serviceBus
    name: queueName
  }
]

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Names are deterministic (scope, principal, role), so re-deploying is idempotent.
// principalType avoids failures while a new identity is still replicating in Entra ID.

resource keyVaultRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in [
    roleDefinitionIds.keyVaultSecretsOfficer
  ]: {
    name: guid(keyVault.id, appIdentity.id, roleId)
    scope: keyVault
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: appIdentity.properties.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

// Sending: the app sends to every queue of the namespace, so the namespace is the narrowest single scope.
resource serviceBusRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in [
    roleDefinitionIds.serviceBusDataSender
  ]: {
    name: guid(serviceBus.id, appIdentity.id, roleId)
    scope: serviceBus
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: appIdentity.properties.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

// Triggers: Data Owner (receive + Manage) on each triggered queue only. With Receiver alone the scale controller
// cannot read the queue length and falls back to incremental scaling (one instance at a time).
resource triggerQueueRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (queueName, i) in serviceBusTriggerQueueNames: {
    name: guid(triggerQueues[i].id, appIdentity.id, roleDefinitionIds.serviceBusDataOwner)
    scope: triggerQueues[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionIds.serviceBusDataOwner)
      principalId: appIdentity.properties.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in [
    roleDefinitionIds.storageTableDataContributor
    roleDefinitionIds.storageBlobDataOwner
    roleDefinitionIds.storageQueueDataContributor
  ]: {
    name: guid(storage.id, appIdentity.id, roleId)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: appIdentity.properties.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource applicationInsightsRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in [
    roleDefinitionIds.monitoringMetricsPublisher
  ]: {
    name: guid(applicationInsights.id, appIdentity.id, roleId)
    scope: applicationInsights
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: appIdentity.properties.principalId
      principalType: 'ServicePrincipal'
    }
  }
]
