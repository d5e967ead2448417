import { z } from 'zod';
import { errorBodySchema, errorStatusesOf, routeParamNames, type RouteContract } from './api-contract';
import { httpStatusOf } from './errors';
import { isCatchAll } from './unmatched-route';

/** One route as the OpenAPI document sees it: method, route under /api, and its contract. */
export interface DocumentedRoute {
  name: string;
  method: string;
  route: string;
  contract: RouteContract;
}

type JsonSchema = Record<string, unknown>;

/**
 * A schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect) from zod 4: requests as their input (what a caller may send),
 * answers as their output. Transforms have no JSON Schema; they are documented as what they accept/produce loosely.
 */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  return rest;
}

const errorRef = { $ref: '#/components/schemas/Error' };

const reasonOf: Record<number, string> = {
  200: 'OK',
  202: 'Accepted',
  204: 'No content',
  400: 'The request is malformed (details name each problem)',
  401: 'No valid bearer token (WWW-Authenticate: Bearer)',
  403: 'The token is valid but not allowed here (e.g. the tenant is not registered)',
  404: 'Not found',
  405: 'The route does not take this method (Allow names those it takes)',
  409: 'Conflicts with the current state',
  413: 'The request body or a value is too large',
  422: 'Well-formed but breaks a rule (details name each problem)',
  429: 'A quota of the tenant is spent (Retry-After says when to come back)',
  500: 'Unexpected failure (the message names an invocation id for support)',
  503: 'A service the app depends on is unavailable, or the app is misconfigured: retry later',
};

function operation(r: DocumentedRoute): JsonSchema {
  const c = r.contract;
  const parameters: JsonSchema[] = routeParamNames(r.route).map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: c.params?.[name] ? jsonSchema(c.params[name], 'input') : { type: 'string' },
  }));
  for (const [name, schema] of Object.entries(c.query?.shape ?? {})) {
    const s = schema as z.ZodType;
    parameters.push({ name, in: 'query', required: !s.safeParse(undefined).success, schema: jsonSchema(s, 'input') });
  }
  const responses: Record<string, JsonSchema> = {};
  for (const [status, answer] of Object.entries(c.answers)) {
    const description = reasonOf[Number(status)] ?? 'Answer';
    if (answer === 'empty' || answer === undefined) responses[status] = { description };
    else if (answer === 'html') responses[status] = { description, content: { 'text/html': { schema: { type: 'string' } } } };
    else responses[status] = { description, content: { 'application/json': { schema: jsonSchema(answer, 'output') } } };
  }
  // An answer the contract declares (the callback's HTML 400) is what the route sends, not the generic error body.
  for (const status of errorStatusesOf(r.route, c).filter((s) => !(String(s) in responses))) {
    const headers =
      status === 429
        ? { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer', minimum: 1 } } }
        : status === 401
          ? { 'WWW-Authenticate': { schema: { type: 'string', const: 'Bearer' } } }
          : undefined;
    responses[String(status)] = {
      description: reasonOf[status] ?? 'Error',
      ...(headers ? { headers } : {}),
      content: { 'application/json': { schema: errorRef } },
    };
  }
  return {
    operationId: r.name,
    summary: c.summary,
    security: c.auth === 'bearer' ? [{ bearer: [] }] : [],
    ...(parameters.length ? { parameters } : {}),
    ...(c.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(c.body, 'input') } } } } : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document of `routes` (served at GET /api/openapi.json). */
export function openApiDocument(routes: readonly DocumentedRoute[]): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  // The catch-all is no operation: what it answers (404, 405) is described in info and by every path's errors.
  for (const r of routes.filter((x) => !isCatchAll(x.route))) {
    const path = `/api/${r.route}`;
    (paths[path] ??= {})[r.method.toLowerCase()] = operation(r);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Connections API',
      version: '1',
      license: { name: 'Proprietary (UNLICENSED)', identifier: 'LicenseRef-Proprietary' },
      description: `Errors: every error answer is {error: {code, message, details?}}, including 404 for an unknown /api route and 405 (with Allow) for a method a route does not take; codes and statuses: ${Object.entries(
        httpStatusOf,
      )
        .map(([code, status]) => `${code} ${status}`)
        .join(', ')}, internal 500.`,
    },
    // Relative to where this document is served: the Function app's own host (the paths carry /api).
    servers: [{ url: '/', description: 'The Function app serving this document' }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: { Error: jsonSchema(errorBodySchema, 'output') },
    },
  };
}
