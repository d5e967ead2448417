import type { InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { appContext } from '../src/app-context';
import { queueNames } from '../src/config/queues';
import { eventSizeProblem, parseProductEvent } from '../src/events/product-event';
import { logLine } from '../src/shared/log-line';
import { remoteParent } from '../src/shared/spans';
import { firstTraceparent } from '../src/shared/trace-context';
import { stepMessageSchema } from '../src/runs/step-message';
import { safeMessage } from '../src/shared/errors';
import { queueOutcomeOf } from './queue-outcome';
import type { ServiceBusFunction } from './registry';

const metadata = z
  .object({ messageId: z.string().optional(), deliveryCount: z.coerce.number().int().min(1).default(1), sessionId: z.string().optional() })
  .loose();

/**
 * The trace a message continues: the sender's W3C `traceparent` application property, else Service Bus's
 * `Diagnostic-Id` (the property @azure/service-bus and Azure.Messaging.ServiceBus set when tracing is on, in
 * traceparent format: learn.microsoft.com/azure/service-bus-messaging/service-bus-end-to-end-tracing; read in that
 * order, as the Azure SDK's messaging tracing guidelines say), else the invocation's own (`context.traceContext`,
 * started by the Functions host). The host hands application properties to the worker as trigger metadata
 * `applicationProperties` (functions-bindings-service-bus-trigger, "Message metadata"), and @azure/functions lower-cases
 * the first letter of every key at every depth (its converters/toCamelCase.ts): `Diagnostic-Id` arrives as
 * `diagnostic-Id`. Invalid values are ignored.
 */
function messageTrace(context: InvocationContext) {
  const props = (context.triggerMetadata?.applicationProperties ?? {}) as Record<string, unknown>;
  return remoteParent(firstTraceparent(props.traceparent, props['diagnostic-Id'], context.traceContext?.traceParent));
}

/** Bodies arrive deserialized when they are JSON; a string body may still hold JSON. */
const parseBody = (message: unknown) => {
  if (typeof message !== 'string') return message;
  try {
    return JSON.parse(message);
  } catch {
    return message;
  }
};

async function deadLetter(queue: string, message: unknown, context: InvocationContext, reason: string) {
  const { deadLetters } = await appContext();
  const messageId = metadata.safeParse(context.triggerMetadata ?? {}).data?.messageId;
  context.warn(logLine('Dead-lettered a message', { queue, messageId: messageId ?? null, reason }));
  await deadLetters.record({ queue, messageId, reason, body: message });
}

export const queueFunctions: ServiceBusFunction[] = [
  {
    kind: 'serviceBus',
    name: 'events-process',
    queueName: queueNames.events,
    isSessionsEnabled: false,
    handler: async (message, context) => {
      const parsed = parseProductEvent(parseBody(message));
      if (!parsed.success) {
        return deadLetter(
          queueNames.events,
          message,
          context,
          `Not a product event: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        );
      }
      // Accepted by the queue but too large for the run record: retrying cannot help.
      const tooLarge = eventSizeProblem(parsed.data);
      if (tooLarge) return deadLetter(queueNames.events, message, context, tooLarge);
      const { eventProcessor, tenants } = await appContext();
      let outcome;
      try {
        // An unregistered tenant's event is refused for good (forbidden: dead letter with the reason).
        await tenants.requireServed(parsed.data.tenantId);
        outcome = await eventProcessor.handle(parsed.data, messageTrace(context));
      } catch (e) {
        // A run too large to store would fail the same way on every delivery.
        const settle = queueOutcomeOf(e);
        if (settle.action === 'dead-letter') return deadLetter(queueNames.events, message, context, settle.reason);
        throw e;
      }
      context.info(
        logLine('Event processed', {
          eventId: parsed.data.id,
          type: parsed.data.type,
          runsStarted: outcome.started.length,
          runsNotStarted: outcome.notStarted.length,
        }),
      );
    },
  },
  {
    kind: 'serviceBus',
    name: 'steps-run',
    queueName: queueNames.steps,
    isSessionsEnabled: true,
    handler: async (message, context) => {
      const parsed = stepMessageSchema.safeParse(parseBody(message));
      if (!parsed.success) return deadLetter(queueNames.steps, message, context, 'Not a step message');
      const { stepRunner, settings } = await appContext();
      const { deliveryCount, sessionId } = metadata.parse(context.triggerMetadata ?? {});
      try {
        const handled = await stepRunner.handle(parsed.data, {
          deliveryCount,
          maxDeliveryCount: settings.SERVICE_BUS_MAX_DELIVERY_COUNT,
          ...(sessionId !== undefined ? { sessionId } : {}),
        });
        if (handled.retry) context.warn(logLine('Step will be retried', { runId: parsed.data.runId, ...handled.retry }));
      } catch (e) {
        const settle = queueOutcomeOf(e);
        if (settle.action === 'dead-letter') return deadLetter(queueNames.steps, message, context, settle.reason);
        const where = { runId: parsed.data.runId, stepIndex: parsed.data.stepIndex, deliveryCount };
        if (settle.expected) context.warn(logLine('Step will be retried', { ...where, reason: safeMessage(e) }));
        else context.error(logLine('Step failed unexpectedly', { ...where, error: safeMessage(e) }));
        throw e;
      }
    },
  },
];
