import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { Caller } from '../shared/user';
import type { TenantAccess } from '../tenants/tenant-access';
import type { AuthenticateCaller } from './admin-auth';
import { authenticatedRoute, type AuthenticatedHandler } from './authenticated-route';

export type UserHandler<D> = AuthenticatedHandler<Caller, D>;

/**
 * Wraps a user API handler (any user of a registered tenant, admin role or not): authenticates the caller with the
 * same checks as admin routes except the role, refuses unregistered tenants, answers thrown errors through
 * `errorResponse` (authenticated-route.ts). Handlers decide what an admin may see beyond their own (`caller.isAdmin`).
 */
export function userRoute<D extends { authenticateCaller: AuthenticateCaller; tenants: Pick<TenantAccess, 'requireServed'> }>(
  deps: () => Promise<D>,
  handler: UserHandler<D>,
): (req: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return authenticatedRoute(
    deps,
    (d, authorization) => d.authenticateCaller(authorization),
    (caller) => caller.user.tenantId,
    handler,
  );
}
