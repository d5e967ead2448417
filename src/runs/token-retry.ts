import { backoffDelay } from '../shared/backoff';
import { TokenAcquisitionError } from '../tokens/token-broker';
import { isLastDelivery, type Delivery } from './core/delivery';

/** Retries of a transient token failure within one delivery, before the message goes back to the queue. */
export interface TokenRetryPolicy {
  /** Tries per delivery, the first included. */
  attempts: number;
  /** First wait; doubles per try and per earlier delivery (jittered between half and all of it). */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultTokenRetry: TokenRetryPolicy = { attempts: 3, baseDelayMs: 500, maxDelayMs: 8000 };

/**
 * How long to wait before trying again to get a step's token after try `attempt` (1-based) failed with `error`;
 * undefined when the failure should be handled now. A dead grant is final. Other failures (token endpoint or Key
 * Vault down, throttled, the app's own credentials failing: no connection is at fault) are retried with backoff
 * counted across deliveries, since Service Bus redelivers an abandoned message at once, until the tries of this
 * delivery are used up; the last delivery does not wait at all, so the step fails while its message is still held.
 */
export function tokenRetryDelay(
  policy: TokenRetryPolicy,
  delivery: Delivery,
  attempt: number,
  error: unknown,
  random: () => number = Math.random,
): number | undefined {
  const transient = error instanceof TokenAcquisitionError && error.failure.kind !== 'dead_grant';
  if (!transient || attempt >= policy.attempts || isLastDelivery(delivery)) return undefined;
  const overall = Math.max(0, delivery.deliveryCount - 1) + attempt;
  return backoffDelay(overall, { baseMs: policy.baseDelayMs, maxMs: policy.maxDelayMs }, random);
}
