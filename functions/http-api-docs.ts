import { z } from 'zod';
import { openApiDocument } from '../src/http/openapi';
import { publishedSchema, publishedSchemas } from '../src/http/published-schemas';
import { routeParam } from '../src/http/request';
import { json } from '../src/http/responses';
import { errorResponse } from '../src/http/errors';
import { AppError } from '../src/shared/errors';
import type { FunctionDefinition, HttpFunction } from './registry';

const schemaName = z.enum(Object.keys(publishedSchemas) as [string, ...string[]]);
const anyJson = z.record(z.string(), z.unknown());

/**
 * The API's own description, no token needed: the OpenAPI 3.1 document of every registered HTTP route (`all` is
 * asked lazily, so the document includes these routes too and cannot miss one added later), and the JSON Schemas
 * of the queue messages.
 */
export function apiDocFunctions(all: () => readonly FunctionDefinition[]): HttpFunction[] {
  let document: unknown;
  return [
    {
      kind: 'http',
      name: 'api-openapi',
      methods: ['GET'],
      route: 'openapi.json',
      contract: { summary: 'This document (OpenAPI 3.1)', auth: 'none', answers: { 200: anyJson } },
      handler: async () => {
        document ??= openApiDocument(
          all().flatMap((f) =>
            f.kind === 'http' ? f.methods.map((method) => ({ name: f.name, method, route: f.route, contract: f.contract })) : [],
          ),
        );
        return json(200, document);
      },
    },
    {
      kind: 'http',
      name: 'api-schemas',
      methods: ['GET'],
      route: 'schemas/{name}',
      contract: {
        summary: 'JSON Schema of a queue message: product-event.json (workpoint-events), connection-event.json (connection-events)',
        auth: 'none',
        params: { name: schemaName },
        answers: { 200: anyJson },
      },
      handler: async (req, context) => {
        try {
          const schema = publishedSchema(routeParam(req, 'name', schemaName));
          if (!schema) throw new AppError('not_found', 'No such schema.');
          return json(200, schema);
        } catch (e) {
          return errorResponse(e, context);
        }
      },
    },
  ];
}
