/** docs/api.md lists every HTTP route the app registers, as "`METHOD route" at the start of a table row. */
import fs from 'node:fs';
import path from 'node:path';
import { functionDefinitions } from '../functions/definitions';
import type { HttpFunction } from '../functions/registry';
import { isCatchAll } from '../src/http/unmatched-route';

const apiDoc = fs.readFileSync(path.resolve(__dirname, '../docs/api.md'), 'utf8');
const listed = (method: string, route: string) => {
  const row = new RegExp(`^\\| \`${method} ${route.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\?[^\`]*)?\` \\|`, 'm');
  return row.test(apiDoc);
};

test('every registered route and method has its row in docs/api.md', () => {
  const routes = functionDefinitions.filter((f): f is HttpFunction => f.kind === 'http' && !isCatchAll(f.route));
  const missing = routes.flatMap((f) => f.methods.filter((m) => !listed(m, f.route)).map((m) => `${m} ${f.route}`));
  expect(missing).toEqual([]);
});

test('a route without a row is found (the check can fail)', () => {
  expect(listed('GET', 'no-such-route/{id}')).toBe(false);
  expect(listed('GET', 'connections/{id}')).toBe(true);
});
