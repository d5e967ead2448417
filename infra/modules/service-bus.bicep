// Service Bus namespace (Standard: the lowest tier with sessions and duplicate detection) and the app's queues.
// Keyless: local (SAS) auth is disabled, so only Entra identities with Azure Service Bus data roles can send or
// receive.
//
// The queue list must match src/config/queues.ts (`queueNames`, `queuesWithSessions`), and `trigger` the queues a
// function in functions/ is triggered by (they get Data Owner, see role-assignments.bicep);
// test/infra/bicep-drift.test.ts checks both.

@description('Name of the Service Bus namespace (6-50 characters, globally unique).')
@minLength(6)
@maxLength(50)
param name string

@description('Azure region of the namespace.')
param location string

@description('Tags applied to the namespace.')
param tags object

@description('Deliveries of a message before Service Bus dead-letters it. The app throws to abandon, so this is the retry budget of a failing step or event.')
@minValue(1)
@maxValue(2000)
param maxDeliveryCount int

@description('How long an undelivered message lives before it is dead-lettered (ISO 8601 duration).')
param messageTimeToLive string

// requiresSession and requiresDuplicateDetection are fixed when a queue is created: changing them later
// means deleting and re-creating the queue (and losing its messages), so decide before the first deployment.
var queues = [
  {
    // Product events. No sessions: an event has no natural session id, and a session per tenant would process
    // each tenant's events one at a time.
    name: 'workpoint-events'
    requiresSession: false
    trigger: true
  }
  {
    // Process steps. Session id = run id, so the steps of one run execute in order, one at a time.
    name: 'process-steps'
    requiresSession: true
    trigger: true
  }
  {
    // Connection lifecycle events (e.g. a connection needs re-authorization). No ordering requirement. The app
    // mails them to the tenant's admins (function connection-events-notify).
    name: 'connection-events'
    requiresSession: false
    trigger: true
  }
]

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    // Keyless: SAS keys and connection strings stop working; Entra ID only.
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [
  for q in queues: {
    parent: namespace
    name: q.name
    properties: {
      requiresSession: q.requiresSession
      // Senders set MessageId deterministically (event id; run id + step id), so a retried send is dropped.
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: 'PT10M'
      // A message that outlives its TTL goes to the dead-letter queue for ops to inspect instead of vanishing.
      deadLetteringOnMessageExpiration: true
      maxDeliveryCount: maxDeliveryCount
      defaultMessageTimeToLive: messageTimeToLive
      // Short lock so a crashed instance's message comes back quickly; the Functions host renews it while the
      // function runs (host.json maxAutoLockRenewalDuration).
      lockDuration: 'PT1M'
      enableBatchedOperations: true
      maxSizeInMegabytes: 1024
    }
  }
]

@description('Name of the namespace.')
output name string = namespace.name

@description('Fully qualified namespace, e.g. sb-abc.servicebus.windows.net, for ServiceBusConnection__fullyQualifiedNamespace.')
output fullyQualifiedNamespace string = split(replace(namespace.properties.serviceBusEndpoint, 'https://', ''), ':')[0]

@description('Queues a function of the app is triggered by: the app identity gets Azure Service Bus Data Owner on each.')
output triggerQueueNames array = map(filter(queues, q => q.trigger), q => q.name)

@description('Every queue of the namespace (each gets a dead-letter alert, alerts.bicep).')
output queueNames array = map(queues, q => q.name)
