import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { TenantAccess } from '../tenants/tenant-access';
import { errorResponse } from './errors';

/** A route's work once its caller (`C`: an admin, or any user with their token) is known and their tenant served. */
export type AuthenticatedHandler<C, D> = (req: HttpRequest, caller: C, deps: D, context: InvocationContext) => Promise<HttpResponseInit>;

/**
 * Wraps an API handler the one way every authenticated route is wrapped: authenticates the caller from the
 * Authorization header, refuses tenants the vendor has not registered (403 naming the tenant), then answers whatever
 * is thrown through `errorResponse`. Admin and user routes differ only in `authenticate` and where the tenant is.
 */
export function authenticatedRoute<D extends { tenants: Pick<TenantAccess, 'requireServed'> }, C>(
  deps: () => Promise<D>,
  authenticate: (deps: D, authorization: string | null) => Promise<C>,
  tenantOf: (caller: C) => string,
  handler: AuthenticatedHandler<C, D>,
): (req: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (req, context) => {
    try {
      const d = await deps();
      const caller = await authenticate(d, req.headers.get('authorization'));
      await d.tenants.requireServed(tenantOf(caller));
      return await handler(req, caller, d, context);
    } catch (e) {
      return errorResponse(e, context);
    }
  };
}
