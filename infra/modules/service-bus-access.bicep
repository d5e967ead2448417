// Service Bus access for the product's own identities (not the app's: see role-assignments.bicep). With SAS keys
// disabled, the product that posts events and whoever reads connection events need an Entra identity and a data
// role, each scoped to one queue only: Data Sender on `workpoint-events`, Data Receiver on `connection-events`.
// docs/deploy.md ("Service Bus access for the product") shows how they authenticate with a token credential.

@description('Name of the Service Bus namespace.')
param serviceBusNamespaceName string

@description('Queue the product sends its events to.')
param eventsQueueName string

@description('Queue of connection events.')
param connectionEventsQueueName string

@description('Object (principal) ids that send product events: Azure Service Bus Data Sender on the events queue only.')
param eventSenderPrincipalIds array

@description('Object (principal) ids that read connection events: Azure Service Bus Data Receiver on that queue only.')
param connectionEventReaderPrincipalIds array

// Built-in role definition ids (the same in every tenant and cloud).
var roleDefinitionIds = {
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource eventsQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: serviceBus
  name: eventsQueueName
}

resource connectionEventsQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: serviceBus
  name: connectionEventsQueueName
}

// Names are deterministic (scope, principal, role), so re-deploying is idempotent. No principalType: the principal
// may be a service principal, a managed identity, a group or a user.
resource eventSenders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in eventSenderPrincipalIds: {
    name: guid(eventsQueue.id, principalId, roleDefinitionIds.serviceBusDataSender)
    scope: eventsQueue
    properties: {
      principalId: principalId
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionIds.serviceBusDataSender)
    }
  }
]

resource connectionEventReaders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in connectionEventReaderPrincipalIds: {
    name: guid(connectionEventsQueue.id, principalId, roleDefinitionIds.serviceBusDataReceiver)
    scope: connectionEventsQueue
    properties: {
      principalId: principalId
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionIds.serviceBusDataReceiver)
    }
  }
]
