/**
 * LOCAL ONLY. What the local Functions host and the local Service Bus need of the app they host: its function
 * list (functions/registry.ts's FunctionDefinition has this shape) and the Service Bus connection setting its
 * triggers name. The hosts take it as a parameter, so they do not depend on functions/; connections-app.ts hands
 * them the real one.
 */
import type { HttpHandler, HttpMethod, InvocationContext } from '@azure/functions';

export interface LocalHttpFunction {
  kind: 'http';
  name: string;
  methods: HttpMethod[];
  /** Route under /api, Azure Functions template syntax (`connections/{id}`). */
  route: string;
  handler: HttpHandler;
}

/** A Service Bus queue trigger: returning completes the message, throwing abandons it. */
export interface LocalServiceBusTrigger {
  kind: 'serviceBus';
  name: string;
  queueName: string;
  isSessionsEnabled: boolean;
  handler: (message: unknown, context: InvocationContext) => Promise<void>;
}

/** A timer trigger: neither local host schedules these. */
export interface LocalTimerFunction {
  kind: 'timer';
}

export type LocalFunction = LocalHttpFunction | LocalServiceBusTrigger | LocalTimerFunction;

export interface LocalApp {
  functions: readonly LocalFunction[];
  /** App setting prefix of the Service Bus connection the triggers name (`ServiceBusConnection`). */
  serviceBusConnection: string;
}
