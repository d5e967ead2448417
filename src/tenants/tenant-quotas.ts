import type { Settings } from '../config/settings';
import { AppError } from '../shared/errors';
import { RateLimiter } from '../shared/rate-limit';

/** What a tenant spends per minute out of the vendor's shared budget (Graph, the identity provider, queues, tables). */
export type RateQuota = 'events' | 'connectionTests';

const minute = 60_000;

const describe: Record<RateQuota, (limit: number) => string> = {
  events: (limit) => `Your organization has posted ${limit} events in the last minute, the most it may post per minute`,
  connectionTests: (limit) => `Your organization has tested connections ${limit} times in the last minute, the most it may per minute`,
};

/**
 * Per-tenant rate quotas, counted in this instance's memory (docs/processes.md "Quotas": why per instance is enough). Each
 * refusal is `throttled` (429) with the time after which the same call is allowed again.
 */
export class TenantQuotas {
  private readonly limiters: Record<RateQuota, RateLimiter>;
  private readonly limits: Record<RateQuota, number>;

  constructor(settings: Pick<Settings, 'QUOTA_EVENTS_PER_MINUTE' | 'QUOTA_CONNECTION_TESTS_PER_MINUTE'>, now?: () => number) {
    this.limits = { events: settings.QUOTA_EVENTS_PER_MINUTE, connectionTests: settings.QUOTA_CONNECTION_TESTS_PER_MINUTE };
    this.limiters = {
      events: new RateLimiter({ limit: this.limits.events, windowMs: minute, ...(now ? { now } : {}) }),
      connectionTests: new RateLimiter({ limit: this.limits.connectionTests, windowMs: minute, ...(now ? { now } : {}) }),
    };
  }

  /** Spends one unit of the tenant's quota, or throws `throttled` saying when to try again. */
  spend(quota: RateQuota, tenantId: string): void {
    const decision = this.limiters[quota].take(tenantId);
    if (decision.allowed) return;
    const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    throw new AppError('throttled', `${describe[quota](this.limits[quota])}. Try again in ${seconds} s.`, { retryAfterSeconds: seconds });
  }
}
