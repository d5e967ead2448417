import type { Settings } from '../config/settings';
import { AppError } from '../shared/errors';
import { RateLimiter } from '../shared/rate-limit';

/** What a tenant spends per minute out of the vendor's shared budget (Graph, the identity provider, queues, tables). */
export type RateQuota = 'events' | 'connectionTests';

/** What one user of a tenant does with user processes, each counted per user and per tenant. */
export type UserRateQuota = 'runStarts' | 'formSubmissions' | 'runResumes';

const userDescribe: Record<UserRateQuota, string> = {
  runStarts: 'started runs',
  formSubmissions: 'submitted forms',
  runResumes: 'resumed runs',
};

const minute = 60_000;

const describe: Record<RateQuota, (limit: number) => string> = {
  events: (limit) => `Your organization has posted ${limit} events in the last minute, the most it may post per minute`,
  connectionTests: (limit) => `Your organization has tested connections ${limit} times in the last minute, the most it may per minute`,
};

function throttled(what: string, retryAfterMs: number): AppError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new AppError('throttled', `${what}. Try again in ${seconds} s.`, { retryAfterSeconds: seconds });
}

/**
 * Per-tenant rate quotas, counted in this instance's memory (docs/processes.md "Quotas": why per instance is enough). Each
 * refusal is `throttled` (429) with the time after which the same call is allowed again.
 */
export class TenantQuotas {
  private readonly limiters: Record<RateQuota, RateLimiter>;
  private readonly limits: Record<RateQuota, number>;

  private readonly perUser: RateLimiter;
  private readonly perTenant: RateLimiter;

  constructor(
    private readonly settings: Pick<Settings, 'QUOTA_EVENTS_PER_MINUTE' | 'QUOTA_CONNECTION_TESTS_PER_MINUTE'> &
      Partial<Pick<Settings, 'QUOTA_USER_RUN_CALLS_PER_MINUTE' | 'QUOTA_TENANT_RUN_CALLS_PER_MINUTE'>>,
    now?: () => number,
  ) {
    this.limits = { events: settings.QUOTA_EVENTS_PER_MINUTE, connectionTests: settings.QUOTA_CONNECTION_TESTS_PER_MINUTE };
    const clock = now ? { now } : {};
    this.limiters = {
      events: new RateLimiter({ limit: this.limits.events, windowMs: minute, ...clock }),
      connectionTests: new RateLimiter({ limit: this.limits.connectionTests, windowMs: minute, ...clock }),
    };
    this.perUser = new RateLimiter({ limit: settings.QUOTA_USER_RUN_CALLS_PER_MINUTE ?? 30, windowMs: minute, ...clock });
    this.perTenant = new RateLimiter({ limit: settings.QUOTA_TENANT_RUN_CALLS_PER_MINUTE ?? 600, windowMs: minute, ...clock });
  }

  /**
   * Spends one unit of a user's quota and of their tenant's for a user process call (the user's first: a user over
   * their own rate does not spend the tenant's), or throws `throttled` saying which and when to try again.
   */
  spendAsUser(quota: UserRateQuota, user: { tenantId: string; objectId: string }): void {
    const mine = this.perUser.take(`${quota}:${user.tenantId}:${user.objectId}`);
    if (!mine.allowed) {
      const limit = this.settings.QUOTA_USER_RUN_CALLS_PER_MINUTE ?? 30;
      throw throttled(
        `You have ${userDescribe[quota]} ${limit} times in the last minute, the most one user may per minute`,
        mine.retryAfterMs,
      );
    }
    const ours = this.perTenant.take(`${quota}:${user.tenantId}`);
    if (!ours.allowed) {
      const limit = this.settings.QUOTA_TENANT_RUN_CALLS_PER_MINUTE ?? 600;
      throw throttled(
        `Your organization's users have ${userDescribe[quota]} ${limit} times in the last minute, the most it may per minute`,
        ours.retryAfterMs,
      );
    }
  }

  /** Spends one unit of the tenant's quota, or throws `throttled` saying when to try again. */
  spend(quota: RateQuota, tenantId: string): void {
    const decision = this.limiters[quota].take(tenantId);
    if (!decision.allowed) throw throttled(describe[quota](this.limits[quota]), decision.retryAfterMs);
  }
}
