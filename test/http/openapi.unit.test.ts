import { HttpRequest, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { functionDefinitions } from '../../functions/definitions';
import type { HttpFunction } from '../../functions/registry';
import { openApiDocument } from '../../src/http/openapi';
import { isCatchAll } from '../../src/http/unmatched-route';

type Operation = { security: unknown[]; parameters?: { name: string; in: string }[]; responses: Record<string, { content?: unknown }> };
type Document = { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: { Error: object } } };

const httpRoutes = functionDefinitions.filter((f): f is HttpFunction => f.kind === 'http');
const context = new InvocationContext({ invocationId: 'inv', functionName: 'api-openapi' });
const get = async (name: string, url: string, params: Record<string, string> = {}) => {
  const f = httpRoutes.find((r) => r.name === name)!;
  const res = await f.handler(new HttpRequest({ method: 'GET', url, params }), context);
  return res as { status: number; jsonBody: unknown };
};
const operations = (doc: Document) =>
  Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));

describe('GET /api/openapi.json', () => {
  let doc: Document;
  beforeAll(async () => {
    const res = await get('api-openapi', 'http://localhost/api/openapi.json');
    expect(res.status).toBe(200);
    doc = res.jsonBody as Document;
  });

  it('is an OpenAPI 3.1 document with every registered HTTP route and method (itself included)', () => {
    expect(doc.openapi).toBe('3.1.0');
    // The catch-all answering unknown routes (404/405) is no operation of its own.
    const registered = httpRoutes.filter((f) => !isCatchAll(f.route)).flatMap((f) => f.methods.map((m) => `${m} /api/${f.route}`));
    expect(operations(doc).sort()).toEqual(registered.sort());
    expect(registered).toEqual(expect.arrayContaining(['GET /api/openapi.json', 'GET /api/connections/{id}', 'PUT /api/processes/{id}']));
  });

  it('misses a route that has no declaration (the check above can fail)', () => {
    const [first, ...rest] = httpRoutes;
    const partial = openApiDocument(
      rest.flatMap((f) => f.methods.map((method) => ({ name: f.name, method, route: f.route, contract: f.contract }))),
    );
    expect(operations(partial as Document)).not.toContain(`${first.methods[0]} /api/${first.route}`);
  });

  it('asks admin routes for a bearer token and answers their errors in the one error body', () => {
    const op = doc.paths['/api/connections/{id}'].delete;
    expect(op.security).toEqual([{ bearer: [] }]);
    expect(op.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'id', in: 'path' }),
        expect.objectContaining({ name: 'force', in: 'query' }),
      ]),
    );
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['204', '400', '401', '403', '404', '409', '500', '503']));
    expect(op.responses['409'].content).toEqual({ 'application/json': { schema: { $ref: '#/components/schemas/Error' } } });
    expect(Object.keys(doc.paths['/api/processes/{id}'].put.responses)).toEqual(expect.arrayContaining(['409', '413', '422']));
    expect(Object.keys(doc.paths['/api/events'].post.responses)).toEqual(expect.arrayContaining(['202', '413', '429']));
    expect(doc.paths['/api/openapi.json'].get.security).toEqual([]);
  });

  it("describes answers from the views' schemas, closed to fields the view does not have", () => {
    const connection = (doc.paths['/api/connections/{id}'].get.responses['200'].content as Record<string, { schema: unknown }>)[
      'application/json'
    ].schema;
    const check = z.fromJSONSchema(connection as z.core.JSONSchema.JSONSchema);
    const view = {
      id: '3f0c0e56-6a0d-4a43-9d35-0d3c4a5f2b10',
      displayName: 'Approvals',
      account: { username: 'svc@contoso.test', objectId: 'o', tenantId: 't' },
      status: 'active',
      statusChangedAt: '2026-11-28T10:00:00.000Z',
      isDefault: false,
      createdAt: '2026-11-28T10:00:00.000Z',
      createdBy: 'admin@contoso.test',
      reauthorizeBy: '2027-02-26T10:00:00.000Z',
    };
    expect(check.safeParse(view).success).toBe(true);
    expect(check.safeParse({ ...view, refreshToken: 'x' }).success).toBe(false);
    expect(check.safeParse({ ...view, status: 'gone' }).success).toBe(false);
  });
});

describe('GET /api/schemas/{name}', () => {
  it('publishes the product event contract, which accepts an event and refuses one without an id', async () => {
    const res = await get('api-schemas', 'http://localhost/api/schemas/product-event.json', { name: 'product-event.json' });
    expect(res.status).toBe(200);
    const check = z.fromJSONSchema(res.jsonBody as z.core.JSONSchema.JSONSchema);
    const event = {
      id: 'e1',
      type: 'ItemCreated',
      tenantId: '3f0c0e56-6a0d-4a43-9d35-0d3c4a5f2b10',
      occurredAt: '2026-11-28T10:00:00Z',
      subject: { siteId: 's', listId: 'l', itemId: 7 },
    };
    expect(check.safeParse(event).success).toBe(true);
    expect(check.safeParse({ ...event, id: undefined }).success).toBe(false);
  });

  it('publishes the connection-events messages (both types)', async () => {
    const res = await get('api-schemas', 'http://localhost/api/schemas/connection-event.json', { name: 'connection-event.json' });
    const check = z.fromJSONSchema(res.jsonBody as z.core.JSONSchema.JSONSchema);
    const at = '2026-11-28T10:00:00.000Z';
    expect(check.safeParse({ type: 'ApplicationCredentialsInvalid', clientId: 'c', reason: 'r', at }).success).toBe(true);
    const changed = {
      type: 'ConnectionStatusChanged',
      tenantId: 't',
      connectionId: 'c',
      displayName: 'd',
      username: 'u',
      from: 'active',
      to: 'deleted',
      at,
    };
    expect(check.safeParse(changed).success).toBe(true);
    expect(check.safeParse({ ...changed, to: 'gone' }).success).toBe(false);
  });

  it('answers 400 in the error format for an unknown schema name', async () => {
    const res = await get('api-schemas', 'http://localhost/api/schemas/x.json', { name: 'x.json' });
    expect(res.status).toBe(400);
    expect(res.jsonBody).toEqual({
      error: { code: 'bad_request', message: expect.any(String), details: [expect.objectContaining({ path: '{name}' })] },
    });
  });
});
