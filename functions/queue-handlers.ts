import type { InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { appContext } from '../src/app-context';
import { queueNames } from '../src/config/queues';
import { eventSizeProblem, productEventSchema } from '../src/events/product-event';
import { safeMessage } from '../src/http/admin-route';
import { logLine } from '../src/shared/log-line';
import { RunTooLargeError } from '../src/runs/run-repository';
import { PoisonMessageError, TransientStepError } from '../src/runs/step-runner';
import { stepMessageSchema } from '../src/runs/step-message';
import type { ServiceBusFunction } from './registry';

const metadata = z
  .object({ messageId: z.string().optional(), deliveryCount: z.coerce.number().int().min(1).default(1), sessionId: z.string().optional() })
  .loose();

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
      const parsed = productEventSchema.safeParse(parseBody(message));
      if (!parsed.success) {
        return deadLetter(queueNames.events, message, context, `Not a product event: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      }
      // Accepted by the queue but too large for the run record: retrying cannot help.
      const tooLarge = eventSizeProblem(parsed.data);
      if (tooLarge) return deadLetter(queueNames.events, message, context, tooLarge);
      const { events } = await appContext();
      let outcome;
      try {
        outcome = await events.handle(parsed.data);
      } catch (e) {
        // Would fail the same way on every delivery: record why instead of retrying until the broker gives up.
        if (e instanceof RunTooLargeError) return deadLetter(queueNames.events, message, context, e.message);
        throw e;
      }
      context.info(
        logLine('Event processed', { eventId: parsed.data.id, type: parsed.data.type, runsStarted: outcome.started.length, runsNotStarted: outcome.notStarted.length }),
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
      const { steps, settings } = await appContext();
      const { deliveryCount, sessionId } = metadata.parse(context.triggerMetadata ?? {});
      try {
        await steps.handle(parsed.data, { deliveryCount, maxDeliveryCount: settings.SERVICE_BUS_MAX_DELIVERY_COUNT, ...(sessionId !== undefined ? { sessionId } : {}) });
      } catch (e) {
        if (e instanceof PoisonMessageError) return deadLetter(queueNames.steps, message, context, e.reason);
        if (e instanceof RunTooLargeError) return deadLetter(queueNames.steps, message, context, e.message);
        const where = { runId: parsed.data.runId, stepIndex: parsed.data.stepIndex, deliveryCount };
        if (e instanceof TransientStepError) context.warn(logLine('Step will be retried', { ...where, reason: e.message }));
        else context.error(logLine('Step failed unexpectedly', { ...where, error: safeMessage(e) }));
        throw e;
      }
    },
  },
];
