/**
 * Issue 12, risk "Any Entra tenant can use the service": the sign-in app is multi-tenant, so any organization can
 * consent, give itself `Connections.Admin` and use the vendor's shared queues, vault, tables and app identity. A tenant
 * is now served only once the vendor's operator has registered it (a `Tenants` row written by `npm run tenant`).
 *
 * The stack registers only tenant A (Contoso). Tenant B (Fabrikam) has a real admin with the admin role, as any
 * foreign tenant could: its calls on every admin route, its events on the queue and its sign-in callbacks are refused
 * with a message naming the tenant to register, and nothing is stored. Then the operator command registers it against
 * the same tables, and tenant B is served; removing it again refuses it again.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { functionDefinitions } from '../../functions/definitions';
import type { HttpFunction } from '../../functions/registry';
import { queueNames } from '../../src/config/queues';
import { FABRIKAM_ADMIN, FABRIKAM_SVC, TENANT_A, TENANT_B } from '../../src/local/identity-provider/directory';
import { signIn } from '../support/sign-in';
import { useTally } from '../support/tally';
import { startTestStack, type TestStack } from '../support/test-stack';

const tally = useTally();
let stack: TestStack;
const notRegistered = new RegExp(`not registered for Connections.*register tenant ${TENANT_B.id}`);

beforeAll(async () => {
  stack = await startTestStack({ registerTenants: [TENANT_A], env: { TENANT_REGISTRATION_CACHE_SECONDS: '0' } });
});
afterAll(async () => {
  await stack?.stop();
});

const adminRoutes = () =>
  functionDefinitions
    .filter((d): d is HttpFunction => d.kind === 'http' && d.contract.auth === 'bearer')
    .flatMap((fn) =>
      fn.methods.map((method) => ({
        method: String(method),
        path: fn.route.replace(/\{id\}/g, fn.route.startsWith('connections/') ? randomUUID() : 'p-1'),
      })),
    );

const bodyOf = (method: string, route: string) =>
  method === 'GET' || method === 'DELETE'
    ? undefined
    : route === 'events'
      ? { type: 'ItemCreated', subject: { siteId: 's', listId: 'l', itemId: '1' }, data: {} }
      : route.startsWith('processes/')
        ? { name: 'X', kind: 'user', steps: [{ id: 'x', type: 'action', action: 'changeStage', inputs: { stage: 'S' } }] }
        : {};

/** Runs the operator command the README documents, against the stack's Azurite and table prefix. */
const tenantCommand = (...args: string[]) =>
  promisify(execFile)(process.execPath, [path.join(__dirname, '../../dist/src/tenants/tenant-cli.js'), ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      TABLES_CONNECTION_STRING: stack.env.TABLES_CONNECTION_STRING,
      TABLES_PREFIX: stack.env.TABLES_PREFIX,
    },
  });

test('an admin of an unregistered tenant gets 403 naming the tenant on every admin route, and nothing is stored', async () => {
  const token = await stack.tokenFor(FABRIKAM_ADMIN);
  const routes = adminRoutes();
  let refused = 0;
  for (const r of routes) {
    const res = await stack.api(r.path, { method: r.method, token, body: bodyOf(r.method, r.path) });
    expect({ route: `${r.method} ${r.path}`, status: res.status }).toEqual({ route: `${r.method} ${r.path}`, status: 403 });
    expect(res.json.error.message).toMatch(notRegistered);
    if (res.status === 403) refused++;
  }
  await stack.bus.idle();
  expect(await stack.context.runs.list(TENANT_B.id)).toEqual([]);
  expect(await stack.internals.connectionRepository.list(TENANT_B.id)).toEqual([]);
  // The registered tenant is served as before.
  expect((await stack.api('connections')).status).toBe(200);
  tally.record({
    kind: 'attack',
    category: 'Unregistered tenant: admin API, events, sign-in',
    tried: routes.length,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});

test("an unregistered tenant's events on the queue are dead-lettered with the reason and start nothing", async () => {
  const deadBefore = (await stack.context.deadLetters.list(queueNames.events, 10_000)).length;
  const events = [TENANT_B.id, randomUUID()].map((tenantId) => ({
    id: randomUUID(),
    type: 'ItemCreated',
    tenantId,
    occurredAt: new Date().toISOString(),
    subject: { siteId: 's', listId: 'l', itemId: '1' },
    data: {},
  }));
  await stack.bus.send(
    queueNames.events,
    events.map((e) => ({ body: e, messageId: `unregistered-${e.id}` })),
  );
  await stack.bus.idle();
  const dead = (await stack.context.deadLetters.list(queueNames.events, 10_000)).slice(0, -deadBefore || undefined);
  let refused = 0;
  for (const e of events) {
    const letter = dead.find((d) => d.messageId === `unregistered-${e.id}`);
    expect(letter?.reason).toMatch(`not registered for Connections; ask your vendor to register tenant ${e.tenantId}`);
    if (letter) refused++;
    expect(await stack.context.runs.list(e.tenantId)).toEqual([]);
  }
  tally.record({
    kind: 'attack',
    category: 'Unregistered tenant: admin API, events, sign-in',
    tried: events.length,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});

test('the operator command registers a tenant, which is then served; a sign-in completed after its removal is refused', async () => {
  const token = await stack.tokenFor(FABRIKAM_ADMIN);
  const registered = await tenantCommand('register', TENANT_B.id, '--name', 'Fabrikam', '--by', 'operator@vendor.example');
  expect(registered.stdout).toMatch(new RegExp(`Registered tenant ${TENANT_B.id} \\(Fabrikam\\)`));
  const listed = await tenantCommand('list');
  expect(listed.stdout).toContain(TENANT_B.id);
  expect(listed.stdout).toContain(TENANT_A.id);

  expect((await stack.api('connections', { token })).status).toBe(200);
  const start = await stack.api('connections/authorize', { method: 'POST', token, body: {} });
  expect(start.status).toBe(200);

  // The vendor ends the tenant's registration while one of its admins is signing in an account.
  expect((await tenantCommand('remove', TENANT_B.id)).stdout).toMatch(/Removed/);
  const { redirectUrl } = await signIn(start.json.authorizeUrl, FABRIKAM_SVC.username);
  const page = await stack.get(redirectUrl);
  expect(page.status).toBe(400);
  expect(page.text).toMatch(notRegistered);
  expect(await stack.internals.connectionRepository.list(TENANT_B.id)).toEqual([]);
  expect((await stack.api('connections', { token })).status).toBe(403);
  tally.record({
    kind: 'attack',
    category: 'Unregistered tenant: admin API, events, sign-in',
    tried: 2,
    handled: 2,
    faultsInjected: 0,
    lost: 0,
  });
});
