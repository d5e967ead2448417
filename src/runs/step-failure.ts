import { ActionError } from '../actions/action';
import { AppError } from '../shared/errors';
import { TokenAcquisitionError } from '../tokens/token-errors';
import type { StepFailure } from './core/steps';

/** A message that can never be processed: recorded as dead-lettered with the reason, never retried. */
export class PoisonMessageError extends AppError {
  constructor(readonly reason: string) {
    super('invalid', reason);
    this.name = 'PoisonMessageError';
  }
}

/**
 * Classifies a failure of the token (`during: 'token'`) or of the action (`'action'`; a token failure there is one
 * of answering Graph's claims challenge, and Graph refused the call, so the action did not happen) for the run core.
 * Reasons are the classified ones, never a raw error message from outside the app's own error types.
 */
export function stepFailureOf(e: unknown, during: 'token' | 'action'): StepFailure {
  if (e instanceof TokenAcquisitionError) {
    return e.failure.kind === 'dead_grant'
      ? { kind: 'dead_grant', reason: e.failure.reason }
      : { kind: 'transient', reason: e.failure.reason };
  }
  if (during === 'token') return { kind: 'transient', reason: 'The token service failed.' };
  if (e instanceof ActionError) {
    if (!e.retryable) return { kind: 'permanent', reason: e.message };
    return { kind: 'transient', reason: e.message, ...(e.retryAfterMs !== undefined ? { nextRetryDelayMs: e.retryAfterMs } : {}) };
  }
  return { kind: 'permanent', reason: 'The action failed unexpectedly.' };
}
