import { z } from 'zod';
import { connectionUsageSchema } from '../connections/connection-answers';
import { errorCodes } from '../shared/errors';

/**
 * What one HTTP route promises (its contract): declared beside the route in functions/, with the same zod schemas that
 * validate its requests and shape its answers, and turned into the OpenAPI document by openapi.ts — never written by
 * hand, so the document cannot say something the code does not do.
 */
export interface RouteContract {
  summary: string;
  /** `bearer`: an access token for this API in `Authorization: Bearer` (401 without, 403 for a tenant not served). */
  auth: 'bearer' | 'none';
  /** Schemas of the route's `{name}` parameters; a parameter not named here is documented as a string. */
  params?: Record<string, z.ZodType>;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Success answers by status: a JSON schema, `empty` (no body, e.g. 204) or `html` (a page). */
  answers: Partial<Record<number, z.ZodType | 'empty' | 'html'>>;
  /** Error answers beyond those every route of its kind can give (see `errorStatusesOf`): e.g. 409, 422, 429. */
  errors?: number[];
}

/** The body of every error answer (docs/api.md "Errors"): built only by errors.ts. */
export const errorBodySchema = z.strictObject({
  error: z.strictObject({
    code: z.enum([...errorCodes, 'internal']),
    message: z.string(),
    details: z.array(z.strictObject({ path: z.string(), message: z.string() })).optional(),
    /** On the 409 of `DELETE /api/connections/{id}`: which processes still reference the connection. */
    usage: connectionUsageSchema.optional(),
  }),
});

/** The `{name}` parameters of a route template, in order. */
export const routeParamNames = (route: string) => [...route.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);

/** The error statuses a route can answer: what every route gives, plus what its parts and its contract add. */
export function errorStatusesOf(route: string, contract: RouteContract): number[] {
  // 413: the Functions host refuses any request body over its limit, whatever the route (src/local/host.ts).
  const statuses = new Set([413, 500, 503, ...(contract.errors ?? [])]);
  if (contract.auth === 'bearer') [401, 403].forEach((s) => statuses.add(s));
  if (contract.body || contract.query || routeParamNames(route).length) statuses.add(400);
  if (routeParamNames(route).length) statuses.add(404);
  return [...statuses].sort((a, b) => a - b);
}
