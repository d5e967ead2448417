/** Unknown /api routes and wrong methods answer the one error body (404, 405 with Allow), through the app's catch-all. */
import { HttpRequest, InvocationContext } from '@azure/functions';
import { functionDefinitions } from '../../functions/definitions';
import type { HttpFunction } from '../../functions/registry';
import { errorBodySchema } from '../../src/http/api-contract';
import { routePattern, unmatchedRouteAnswer } from '../../src/http/unmatched-route';

const catchAll = functionDefinitions.find((d): d is HttpFunction => d.kind === 'http' && d.route === '{*path}')!;
const call = async (method: string, path: string) => {
  const res = await catchAll.handler(
    new HttpRequest({ method: method as 'GET', url: `http://localhost/api/${path}` }),
    new InvocationContext({ invocationId: 'inv', functionName: catchAll.name }),
  );
  return res as { status: number; jsonBody: unknown; headers: Record<string, string> };
};

test('an unknown /api route answers 404 in the one error body', async () => {
  const res = await call('GET', 'no-such-thing/at/all');
  expect(res.status).toBe(404);
  expect(errorBodySchema.parse(res.jsonBody).error).toMatchObject({
    code: 'not_found',
    message: expect.stringContaining('/api/no-such-thing'),
  });
});

test("a method a route does not take answers 405 with Allow naming the route's methods", async () => {
  const res = await call('PUT', 'connections/3f0c0e56-6a0d-4a43-9d35-0d3c4a5f2b10');
  expect(res.status).toBe(405);
  expect(res.headers.Allow.split(', ').sort()).toEqual(['DELETE', 'GET', 'PATCH']);
  expect(errorBodySchema.parse(res.jsonBody).error.code).toBe('method_not_allowed');
  expect((await call('DELETE', 'openapi.json')).status).toBe(405);
});

test('the catch-all sorts after every other function (the Functions host matches routes in name order)', () => {
  const names = functionDefinitions.map((f) => f.name);
  expect([...names].sort((a, b) => a.localeCompare(b, 'en', { sensitivity: 'base' })).at(-1)).toBe(catchAll.name);
});

test('route templates: a parameter is one segment, a catch-all the rest', () => {
  expect(routePattern('connections/{id}').test('connections/a')).toBe(true);
  expect(routePattern('connections/{id}').test('connections/a/b')).toBe(false);
  expect(routePattern('{*path}').test('a/b/c')).toBe(true);
  expect(unmatchedRouteAnswer('x', 'GET', [{ route: 'x', methods: ['GET'] }]).status).toBe(404);
});
