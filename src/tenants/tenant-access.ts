import { AppError } from '../shared/errors';
import { ExpiringLoads } from '../shared/expiring-loads';
import type { TenantRegistry } from './tenant-registry';

export const tenantNotRegisteredMessage = (tenantId: string) =>
  `This organization is not registered for Connections; ask your vendor to register tenant ${tenantId}.`;

/** The sign-in page's refusal (the shape of src/connections/sign-in-pages.ts's SignInRefusal). */
export const tenantNotRegisteredRefusal = (tenantId: string) => ({
  title: 'Organization not registered',
  whatHappened: tenantNotRegisteredMessage(tenantId),
  whatToDo: 'Close this tab. Once your vendor has registered the organization, start again from the Connections panel.',
});

/**
 * Whether the app serves a tenant: only tenants the vendor registered (the sign-in app is multi-tenant, so
 * any organization could otherwise consent, give itself the admin role and use the shared queues, vault and tables).
 * Answers are kept for `cacheSeconds` per instance, registered or not, so a registration or its removal takes effect
 * within that time; the cache holds a bounded number of tenants because a callback's state names its tenant before
 * anything has checked it.
 */
export class TenantAccess {
  private readonly answers: ExpiringLoads<boolean>;

  constructor(
    private readonly registry: Pick<TenantRegistry, 'get'>,
    options: { cacheSeconds: number; now?: () => number },
  ) {
    this.answers = new ExpiringLoads(options.cacheSeconds * 1000, options.now, 10_000);
  }

  isServed(tenantId: string): Promise<boolean> {
    const id = tenantId.toLowerCase();
    return this.answers.get(id, async () => (await this.registry.get(id)) !== undefined);
  }

  /** Throws `forbidden` with a message that says what to do, for a tenant the vendor has not registered. */
  async requireServed(tenantId: string): Promise<void> {
    if (!(await this.isServed(tenantId))) throw new AppError('forbidden', tenantNotRegisteredMessage(tenantId));
  }
}
