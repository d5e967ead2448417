import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { messageIdFor, type MessageSender } from '../adapters/message-queue';
import { queueNames } from '../config/queues';
import { AppError } from '../shared/errors';
import { bodyProblems } from '../shared/problem-path';
import { traceparentOf, type SpanRef } from '../shared/spans';
import { eventSizeProblem, productEventSchema, type ProductEvent } from './product-event';

/**
 * An event as an admin posts it (`POST /api/events`): for the admin's own tenant, so the tenant comes from the
 * admin's token and is not part of the body; the id and time may be omitted; `causedBy` is set only by the app's
 * own steps (loop guard), never by a caller.
 */
export const postedEventSchema = productEventSchema.omit({ tenantId: true, causedBy: true }).extend({
  id: productEventSchema.shape.id.optional(),
  occurredAt: productEventSchema.shape.occurredAt.optional(),
});
export type PostedEvent = z.infer<typeof postedEventSchema>;

export interface EventIntakeDeps {
  sender: MessageSender;
  now?: () => Date;
  newId?: () => string;
  /** The posting request's trace: the message carries it on, so the event's runs continue it. */
  trace?: SpanRef;
}

/**
 * Queues a posted event for `tenantId`, the way product events arrive: an omitted id becomes a new GUID and an
 * omitted time now. The message id derives from tenant and event id, so posting the same event twice is a
 * duplicate Service Bus drops. Refused before queueing (AppError): an event too large for a run record
 * (`too_large`), and anything that is not a product event (`bad_request`).
 */
export async function queuePostedEvent(posted: PostedEvent, tenantId: string, deps: EventIntakeDeps): Promise<ProductEvent> {
  const candidate = {
    ...posted,
    id: posted.id ?? (deps.newId ?? randomUUID)(),
    occurredAt: posted.occurredAt ?? (deps.now?.() ?? new Date()).toISOString(),
    tenantId,
  };
  const parsed = productEventSchema.safeParse(candidate);
  if (!parsed.success) {
    throw new AppError('bad_request', 'Invalid body.', {
      details: bodyProblems(parsed.error.issues),
    });
  }
  const event = parsed.data;
  const tooLarge = eventSizeProblem(event);
  if (tooLarge) throw new AppError('too_large', tooLarge);
  // Service Bus's own trace property (Diagnostic-Id, learn.microsoft.com/azure/service-bus-messaging/
  // service-bus-end-to-end-tracing) and the W3C name OpenTelemetry's propagator uses; the event body stays the product's.
  const traceProperties = deps.trace ? { traceparent: traceparentOf(deps.trace), 'Diagnostic-Id': traceparentOf(deps.trace) } : undefined;
  await deps.sender.send(queueNames.events, [
    {
      body: event,
      messageId: messageIdFor(event.tenantId, event.id),
      ...(traceProperties ? { applicationProperties: traceProperties } : {}),
    },
  ]);
  return event;
}
