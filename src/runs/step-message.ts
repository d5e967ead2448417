import { z } from 'zod';
import { messageIdFor, type OutgoingMessage } from '../adapters/message-queue';
import { runIdPattern } from './run-repository';

/** The body of a `process-steps` message: which step of which run to execute next. */
export const stepMessageSchema = z.strictObject({
  tenantId: z.uuid(),
  runId: z.string().regex(runIdPattern),
  stepIndex: z.number().int().min(0).max(1000),
});
export type StepMessage = z.infer<typeof stepMessageSchema>;

/**
 * Session = run keeps a run's steps in order; the message id makes a resend a duplicate. `occasion` names a
 * deliberate second message for the same step (a run resumed by its user): Service Bus would drop it as a duplicate
 * of the first within the duplicate detection window otherwise.
 */
export const stepMessage = (m: StepMessage, occasion?: string): OutgoingMessage => ({
  body: m,
  messageId: occasion ? messageIdFor(m.runId, String(m.stepIndex), occasion) : messageIdFor(m.runId, String(m.stepIndex)),
  sessionId: m.runId,
});
