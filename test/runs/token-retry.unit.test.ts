import { TokenAcquisitionError } from '../../src/tokens/token-broker';
import { defaultTokenRetry, tokenRetryDelay } from '../../src/runs/token-retry';

/** Jitter frozen at its top: the delay is the ceiling. */
const ceiling = () => 1 - Number.EPSILON;
const outage = new TokenAcquisitionError({ kind: 'transient', reason: 'Sign-in service temporarily unavailable (HTTP 503).' });
const policy = defaultTokenRetry; // 3 tries, 500 ms doubling up to 8 s
const delivery = (deliveryCount: number) => ({ deliveryCount, maxDeliveryCount: 10 });

describe('tokenRetryDelay: retries of a step token within one delivery', () => {
  test('waits grow per try, and later deliveries start where earlier ones stopped', () => {
    const waits = (count: number) =>
      [1, 2].map((attempt) => Math.round(tokenRetryDelay(policy, delivery(count), attempt, outage, ceiling)!));
    expect(waits(1)).toEqual([500, 1000]);
    expect(waits(2)).toEqual([1000, 2000]);
    expect(waits(5)).toEqual([8000, 8000]);
  });

  test('the wait is jittered between half the ceiling and all of it', () => {
    expect(tokenRetryDelay(policy, delivery(1), 2, outage, () => 0)).toBe(500);
    expect(tokenRetryDelay(policy, delivery(1), 2, outage, () => 0.5)).toBe(750);
  });

  test('the tries of one delivery are bounded; then the message goes back to the queue', () => {
    expect(tokenRetryDelay(policy, delivery(1), 3, outage)).toBeUndefined();
    expect(tokenRetryDelay({ ...policy, attempts: 1 }, delivery(1), 1, outage)).toBeUndefined();
  });

  test('the last delivery does not wait: the step fails while its message is still held', () => {
    expect(tokenRetryDelay(policy, delivery(10), 1, outage)).toBeUndefined();
  });

  test("the app's own credentials failing is retried like an outage; a dead grant or another error is not retried here", () => {
    const appCredentials = new TokenAcquisitionError({ kind: 'application_credentials', reason: 'The app could not sign in.' });
    expect(tokenRetryDelay(policy, delivery(1), 1, appCredentials)).toBeGreaterThan(0);
    expect(tokenRetryDelay(policy, delivery(1), 1, new TokenAcquisitionError({ kind: 'dead_grant', reason: 'revoked' }))).toBeUndefined();
    expect(tokenRetryDelay(policy, delivery(1), 1, new Error('bug'))).toBeUndefined();
  });
});
