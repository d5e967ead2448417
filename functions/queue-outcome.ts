import { isAppError } from '../src/shared/errors';

/**
 * What a Service Bus delivery does with an error its work threw. Returning completes a message, throwing
 * abandons it (Service Bus redelivers it, and dead-letters it after the queue's max delivery count).
 * - `dead-letter`: the caller's input can never be processed (a non-retryable AppError whose fault is the
 *   caller's: a poison step message, a run too large to store): record why instead of retrying until the broker
 *   gives up.
 * - `retry`: worth another delivery; `expected` when the error says so itself (a retryable AppError), so the
 *   handler can log it as a warning rather than as a defect.
 */
export type QueueOutcome = { action: 'dead-letter'; reason: string } | { action: 'retry'; expected: boolean };

export function queueOutcomeOf(e: unknown): QueueOutcome {
  if (!isAppError(e)) return { action: 'retry', expected: false };
  if (!e.retryable && e.fault === 'caller') return { action: 'dead-letter', reason: e.message };
  return { action: 'retry', expected: e.retryable };
}
