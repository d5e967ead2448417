import { z } from 'zod';
import { messageIdFor, type MessageSender, type OutgoingMessage } from '../adapters/message-queue';
import { queueNames } from '../config/queues';
import { traceparentOf, type SpanRef } from '../shared/spans';
import { runIdPattern } from './run-repository';

/** The body of a `process-steps` message: which step of which run to execute next. */
export const stepMessageSchema = z.strictObject({
  tenantId: z.uuid(),
  runId: z.string().regex(runIdPattern),
  stepIndex: z.number().int().min(0).max(1000),
});
export type StepMessage = z.infer<typeof stepMessageSchema>;

/** A step to send: which step of which run, and when and why it is sent. */
export interface StepToSend extends StepMessage {
  /**
   * Names a deliberate second message for the same step (a run resumed by its user, a scheduled retry): Service Bus
   * would drop it as a duplicate of the first within the duplicate detection window otherwise.
   */
  occasion?: string;
  /** Deliver no earlier than this (a scheduled retry). */
  notBefore?: Date;
  /** The run's span (runSpan(run)): the message carries it, so the invocation that runs the step joins the run's trace. */
  trace?: SpanRef;
}

/** Session = run keeps a run's steps in order; the message id makes a resend a duplicate. */
export const stepMessage = ({ tenantId, runId, stepIndex, occasion, notBefore, trace }: StepToSend): OutgoingMessage => ({
  body: { tenantId, runId, stepIndex },
  messageId: occasion ? messageIdFor(runId, String(stepIndex), occasion) : messageIdFor(runId, String(stepIndex)),
  sessionId: runId,
  ...(notBefore ? { scheduledEnqueueTime: notBefore } : {}),
  ...(trace ? { applicationProperties: traceProperties(trace) } : {}),
});

/**
 * W3C `traceparent` and Service Bus's `Diagnostic-Id` (same value, as event intake sends them): the Functions host
 * continues the trace of a message's `Diagnostic-Id` (learn.microsoft.com/azure/service-bus-messaging/
 * service-bus-end-to-end-tracing), so each `steps-run` invocation is in the run's operation (operation_Id = run.traceId).
 */
const traceProperties = (trace: SpanRef) => ({ traceparent: traceparentOf(trace), 'Diagnostic-Id': traceparentOf(trace) });

/** The one place that sends step messages (run creation, the next step, a scheduled retry, a submitted form, a resume). */
export async function sendSteps(sender: MessageSender, steps: readonly StepToSend[]): Promise<void> {
  if (steps.length === 0) return;
  await sender.send(queueNames.steps, steps.map(stepMessage));
}
