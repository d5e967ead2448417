import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { Caller } from '../shared/user';
import type { TenantAccess } from '../tenants/tenant-access';
import type { AuthenticateCaller } from './admin-auth';
import { errorResponse } from './errors';

export type UserHandler<D> = (req: HttpRequest, caller: Caller, deps: D, context: InvocationContext) => Promise<HttpResponseInit>;

/**
 * Wraps a user API handler (any user of a registered tenant, admin role or not): authenticates the caller with the
 * same checks as admin routes except the role, refuses unregistered tenants, answers thrown errors through
 * `errorResponse`. Handlers decide what an admin may see beyond their own (`caller.isAdmin`).
 */
export function userRoute<D extends { authenticateCaller: AuthenticateCaller; tenants: Pick<TenantAccess, 'requireServed'> }>(
  deps: () => Promise<D>,
  handler: UserHandler<D>,
): (req: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (req, context) => {
    try {
      const d = await deps();
      const caller = await d.authenticateCaller(req.headers.get('authorization'));
      await d.tenants.requireServed(caller.user.tenantId);
      return await handler(req, caller, d, context);
    } catch (e) {
      return errorResponse(e, context);
    }
  };
}
