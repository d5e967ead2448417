/**
 * Service Bus queues the app uses, in one place. `infra/modules/service-bus.bicep` declares them and
 * test/infra/bicep-drift.test.ts fails when the two drift.
 */
export const queueNames = { events: 'workpoint-events', steps: 'process-steps', connectionEvents: 'connection-events' } as const;

export type QueueName = (typeof queueNames)[keyof typeof queueNames];

/**
 * Queues created with sessions enabled. A session-enabled queue refuses messages without a session id and
 * its trigger must set `isSessionsEnabled: true` (and the others must not), so this is part of the contract.
 * Only `process-steps` needs one: session id = run id keeps a run's steps in order. Product events carry no
 * natural session id, and one per tenant would serialize every tenant's events.
 * The Bicep cannot change this after a queue exists: Service Bus fixes `requiresSession` at creation.
 */
export const queuesWithSessions: readonly QueueName[] = [queueNames.steps];
