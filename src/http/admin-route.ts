import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { Admin, AuthenticateAdmin } from '../auth/admin-auth';
import { HttpError } from './errors';
import { errorJson, json } from './responses';

export type AdminHandler<D> = (req: HttpRequest, admin: Admin, deps: D, context: InvocationContext) => Promise<HttpResponseInit>;

/**
 * Wraps an admin API handler: authenticates the caller, then maps thrown HttpErrors to JSON errors.
 * Anything else is logged by type and invocation id only (errors may quote request data) and
 * answered with a generic 500.
 */
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

export function errorResponse(e: unknown, context: InvocationContext): HttpResponseInit {
  if (e instanceof HttpError) {
    // Validation answers list their problems as `errors: [{path, message}]` (contract).
    if (e.status === 422) return json(422, { error: { message: e.message }, errors: e.details ?? [] });
    const response = errorJson(e.status, e.message, e.details);
    return e.status === 401 ? { ...response, headers: { ...response.headers, 'WWW-Authenticate': 'Bearer' } } : response;
  }
  context.error(`Unhandled ${(e as Error)?.name ?? 'error'} in ${context.functionName}: ${safeMessage(e)}`);
  return errorJson(500, `Something went wrong (invocation ${context.invocationId}). Try again; if it persists, give this id to support.`);
}

/** Error messages can echo request data; keep the first line only and cut anything token-shaped. */
export function safeMessage(e: unknown): string {
  const first = String((e as Error)?.message ?? e).split('\n')[0].slice(0, 300);
  return first.replace(/eyJ[\w-]+\.[\w-]+\.[\w-]*/g, '[jwt]').replace(/[A-Za-z0-9_\-.~+/]{40,}/g, '[redacted]');
}
