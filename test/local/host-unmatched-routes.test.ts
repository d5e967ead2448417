/** The local host answers unknown /api routes and wrong methods as the Function app does: the one error body. */
import { functionDefinitions } from '../../functions/definitions';
import { createLocalHost } from '../../src/local/host';

let host: ReturnType<typeof createLocalHost>;
let base: string;

beforeAll(async () => {
  host = createLocalHost(functionDefinitions as never, {
    log: () => undefined,
    fallback: (_req, res) => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('page'),
  });
  base = await host.listen();
});
afterAll(() => host.close());

test('an unknown /api route: 404 application/json {error: {code: not_found, message}}', async () => {
  const res = await fetch(`${base}/api/nothing-here`);
  expect(res.status).toBe(404);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(await res.json()).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
});

test('a wrong method: 405 with Allow and code method_not_allowed; paths outside /api still reach the page', async () => {
  const res = await fetch(`${base}/api/processes`, { method: 'DELETE' });
  expect(res.status).toBe(405);
  expect(res.headers.get('allow')).toBe('GET');
  expect(await res.json()).toEqual({ error: { code: 'method_not_allowed', message: expect.stringContaining('DELETE') } });
  expect(await (await fetch(`${base}/somewhere`)).text()).toBe('page');
});
