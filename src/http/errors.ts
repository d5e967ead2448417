import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import { ConnectionInUseError } from '../connections/connection-service';
import { AppError, safeMessage, type ErrorCode } from '../shared/errors';
import { errorJson } from './responses';

/** The one place an error code becomes an HTTP status. */
export const httpStatusOf: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  too_large: 413,
  invalid: 422,
  throttled: 429,
  unavailable: 503,
  misconfigured: 503,
};

/** The `code` of an error answer: an AppError's code, or `internal` for anything the app did not expect (500). */
export type ErrorAnswerCode = ErrorCode | 'internal';

/**
 * The JSON answer to a failed API call, in the one error format (docs/api.md "Errors"):
 * `{error: {code, message, details?: [{path, message}]}}`, plus `usage` on the 409 of a connection still in use.
 * An AppError's message is safe to show (its contract); anything else is logged by type and invocation id only
 * (errors may quote request data) and answered with a generic 500.
 */
export function errorResponse(e: unknown, context: InvocationContext): HttpResponseInit {
  if (!(e instanceof AppError)) {
    context.error(`Unhandled ${(e as Error)?.name ?? 'error'} in ${context.functionName}: ${safeMessage(e)}`);
    return errorJson(500, {
      code: 'internal',
      message: `Something went wrong (invocation ${context.invocationId}). Try again; if it persists, give this id to support.`,
    });
  }
  const status = httpStatusOf[e.code];
  const response = errorJson(status, {
    code: e.code,
    message: e.message,
    ...(e.details ? { details: e.details } : {}),
    // The impact analysis comes along, so the portal can show what would break without a second call.
    ...(e instanceof ConnectionInUseError ? { usage: e.usage } : {}),
  });
  if (e.code === 'unauthenticated') return { ...response, headers: { ...response.headers, 'WWW-Authenticate': 'Bearer' } };
  // RFC 9110 10.2.3: delay-seconds, a whole number; at least 1, so a client never retries at once.
  if (e.code === 'throttled')
    return { ...response, headers: { ...response.headers, 'Retry-After': String(Math.max(1, Math.ceil(e.retryAfterSeconds ?? 1))) } };
  return response;
}
