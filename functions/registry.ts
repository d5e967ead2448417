import type { HttpHandler, HttpMethod, InvocationContext, Timer } from '@azure/functions';
import type { RouteContract } from '../src/http/api-contract';

/**
 * One list of every function, used both by `index.ts` (registration with the Functions host) and by
 * the local host, so the two cannot drift.
 */
export interface HttpFunction {
  kind: 'http';
  name: string;
  methods: HttpMethod[];
  /** Route under /api, Azure Functions template syntax (`connections/{id}`). */
  route: string;
  /** What the route promises: the OpenAPI document (GET /api/openapi.json) is generated from it. */
  contract: RouteContract;
  handler: HttpHandler;
}

/**
 * A Service Bus queue trigger. The handler completes the message by returning and abandons it by
 * throwing (Service Bus then redelivers it, and dead-letters it after the queue's max delivery count).
 * `context.triggerMetadata` carries `messageId`, `deliveryCount`, `sessionId`.
 */
export interface ServiceBusFunction {
  kind: 'serviceBus';
  name: string;
  queueName: string;
  isSessionsEnabled: boolean;
  handler: (message: unknown, context: InvocationContext) => Promise<void>;
}

export interface TimerFunction {
  kind: 'timer';
  name: string;
  /** NCRONTAB with seconds, e.g. `0 0 3 * * *`; may name an app setting as `%SETTING%`. */
  schedule: string;
  handler: (timer: Timer, context: InvocationContext) => Promise<void>;
}

export type FunctionDefinition = HttpFunction | ServiceBusFunction | TimerFunction;

/** App setting prefix of the identity-based Service Bus connection (`ServiceBusConnection__fullyQualifiedNamespace`). */
export const serviceBusConnection = 'ServiceBusConnection';
