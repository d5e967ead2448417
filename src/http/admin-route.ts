import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { Admin } from '../shared/admin';
import type { TenantAccess } from '../tenants/tenant-access';
import type { AuthenticateAdmin } from './admin-auth';
import { errorResponse } from './errors';

export type AdminHandler<D> = (req: HttpRequest, admin: Admin, deps: D, context: InvocationContext) => Promise<HttpResponseInit>;

/**
 * Wraps an admin API handler: authenticates the caller, refuses tenants the vendor has not registered (403 naming the
 * tenant), then answers thrown errors through `errorResponse`.
 */
export function adminRoute<D extends { authenticate: AuthenticateAdmin; tenants: Pick<TenantAccess, 'requireServed'> }>(
  deps: () => Promise<D>,
  handler: AdminHandler<D>,
): (req: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (req, context) => {
    try {
      const d = await deps();
      const admin = await d.authenticate(req.headers.get('authorization'));
      await d.tenants.requireServed(admin.tenantId);
      return await handler(req, admin, d, context);
    } catch (e) {
      return errorResponse(e, context);
    }
  };
}
