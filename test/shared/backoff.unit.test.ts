import { backoffCeiling, backoffDelay, withJitter } from '../../src/shared/backoff';
import { AppError, safeMessage } from '../../src/shared/errors';

describe('backoff', () => {
  const policy = { baseMs: 100, maxMs: 1000 };
  test('ceilings double from the base and stop at the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffCeiling(a, policy))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
  test('jitter stays within [half, full] of the ceiling', () => {
    expect(withJitter(400, () => 0)).toBe(200);
    expect(withJitter(400, () => 0.999999)).toBeCloseTo(400, 3);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(300);
  });
});

describe('AppError', () => {
  test('tags who is at fault and whether a retry can help', () => {
    expect(new AppError('not_found', 'x')).toMatchObject({ fault: 'caller', retryable: false });
    expect(new AppError('unavailable', 'x')).toMatchObject({ fault: 'dependency', retryable: true });
    expect(new AppError('misconfigured', 'x')).toMatchObject({ fault: 'operator', retryable: true });
  });
  test('safeMessage redacts token-shaped text', () => {
    expect(safeMessage(new Error('bad eyJhbGciOi.eyJzdWIiOi.sig and ' + 'a'.repeat(45)))).toBe('bad [jwt] and [redacted]');
  });
});
