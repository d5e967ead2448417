import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { Admin } from '../shared/admin';
import type { AuthenticateAdmin } from './admin-auth';
import { errorResponse } from './errors';

export type AdminHandler<D> = (req: HttpRequest, admin: Admin, deps: D, context: InvocationContext) => Promise<HttpResponseInit>;

/** Wraps an admin API handler: authenticates the caller, then answers thrown errors through `errorResponse`. */
export function adminRoute<D extends { authenticate: AuthenticateAdmin }>(
  deps: () => Promise<D>,
  handler: AdminHandler<D>,
): (req: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (req, context) => {
    try {
      const d = await deps();
      const admin = await d.authenticate(req.headers.get('authorization'));
      return await handler(req, admin, d, context);
    } catch (e) {
      return errorResponse(e, context);
    }
  };
}
