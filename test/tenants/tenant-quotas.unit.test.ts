import { AppError } from '../../src/shared/errors';
import { TenantQuotas } from '../../src/tenants/tenant-quotas';

describe('TenantQuotas', () => {
  it('throws throttled with whole seconds to wait once a tenant spent its minute, per tenant and per quota', () => {
    let now = 0;
    const quotas = new TenantQuotas({ QUOTA_EVENTS_PER_MINUTE: 2, QUOTA_CONNECTION_TESTS_PER_MINUTE: 1 }, () => now);
    quotas.spend('events', 'a');
    quotas.spend('events', 'a');
    let thrown: unknown;
    try {
      quotas.spend('events', 'a');
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(AppError);
    expect(thrown).toMatchObject({ code: 'throttled', retryAfterSeconds: 30, retryable: true, fault: 'caller' });
    expect((thrown as Error).message).toBe(
      'Your organization has posted 2 events in the last minute, the most it may post per minute. Try again in 30 s.',
    );
    expect(() => quotas.spend('events', 'b')).not.toThrow();
    expect(() => quotas.spend('connectionTests', 'a')).not.toThrow();
    now += 30_000;
    expect(() => quotas.spend('events', 'a')).not.toThrow();
  });
});
