import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { Admin } from '../shared/admin';
import type { TenantAccess } from '../tenants/tenant-access';
import type { AuthenticateAdmin } from './admin-auth';
import { authenticatedRoute, type AuthenticatedHandler } from './authenticated-route';

export type AdminHandler<D> = AuthenticatedHandler<Admin, D>;

/**
 * Wraps an admin API handler: authenticates the caller (admin role required), refuses tenants the vendor has not
 * registered (403 naming the tenant), then answers thrown errors through `errorResponse` (authenticated-route.ts).
 */
export function adminRoute<D extends { authenticate: AuthenticateAdmin; tenants: Pick<TenantAccess, 'requireServed'> }>(
  deps: () => Promise<D>,
  handler: AdminHandler<D>,
): (req: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return authenticatedRoute(
    deps,
    (d, authorization) => d.authenticate(authorization),
    (admin) => admin.tenantId,
    handler,
  );
}
