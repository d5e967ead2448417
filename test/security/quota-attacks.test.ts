/**
 * Issue 12, risk "No quotas": one tenant could post unbounded events, create unbounded processes and call `test`
 * (a real token refresh and Graph call each) without limit, spending the vendor's shared Graph, identity-provider,
 * queue and table budget. Per-tenant quotas now answer 429 with `Retry-After` (rates) or 409 (the process count),
 * and one tenant's spending never throttles another. The stack runs with small limits so a test stays short.
 */
import { queueNames } from '../../src/config/queues';
import { CONTOSO_SVC_WORKPOINT, FABRIKAM_ADMIN } from '../../src/local/identity-provider/directory';
import { authorizeConnection } from '../support/connections';
import { useTally } from '../support/tally';
import { startTestStack, type RecordedResponse, type TestStack } from '../support/test-stack';

const tally = useTally();
let stack: TestStack;
const limits = { events: 5, tests: 3, processes: 3 };

beforeAll(async () => {
  stack = await startTestStack({
    env: {
      QUOTA_EVENTS_PER_MINUTE: String(limits.events),
      QUOTA_CONNECTION_TESTS_PER_MINUTE: String(limits.tests),
      QUOTA_PROCESSES_PER_TENANT: String(limits.processes),
    },
  });
});
afterAll(async () => {
  await stack?.stop();
});

const event = { type: 'ItemCreated', subject: { siteId: 's', listId: 'l', itemId: '1' }, data: {} };

/** A 429 with a whole number of seconds to wait, at least 1 and at most the quota's minute. */
const expectThrottled = (res: { status: number; headers: Headers; json: RecordedResponse['json'] }) => {
  expect(res.status).toBe(429);
  expect(res.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/);
  expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(60);
  expect(res.json.error.message).toMatch(/per minute.*Try again in \d+ s/);
};

test('events posted beyond the per-minute quota get 429 with Retry-After and are not queued; another tenant is not affected', async () => {
  for (let i = 0; i < limits.events; i++) expect((await stack.api('events', { method: 'POST', body: event })).status).toBe(202);
  await stack.bus.idle();
  const queued = stack.bus.stats()[queueNames.events].deliveries;
  const flood = 20;
  let refused = 0;
  for (let i = 0; i < flood; i++) {
    const res = await stack.api('events', { method: 'POST', body: event });
    expectThrottled(res);
    if (res.status === 429) refused++;
  }
  await stack.bus.idle();
  expect(stack.bus.stats()[queueNames.events].deliveries).toBe(queued);
  expect((await stack.api('events', { method: 'POST', body: event, token: await stack.tokenFor(FABRIKAM_ADMIN) })).status).toBe(202);
  tally.record({
    kind: 'attack',
    category: 'Quotas: events, connection tests, processes per tenant',
    tried: flood,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});

test('connection tests beyond the per-minute quota get 429 with Retry-After and reach neither the identity provider nor Graph', async () => {
  const connection = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  for (let i = 0; i < limits.tests; i++)
    expect((await stack.api(`connections/${connection.id}/test`, { method: 'POST' })).json.ok).toBe(true);
  const graphCalls = (await (await fetch(`${stack.graph.url}/_local/calls`)).json()).length;
  const flood = 10;
  let refused = 0;
  for (let i = 0; i < flood; i++) {
    const res = await stack.api(`connections/${connection.id}/test`, { method: 'POST' });
    expectThrottled(res);
    if (res.status === 429) refused++;
  }
  expect((await (await fetch(`${stack.graph.url}/_local/calls`)).json()).length).toBe(graphCalls);
  tally.record({
    kind: 'attack',
    category: 'Quotas: events, connection tests, processes per tenant',
    tried: flood,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});

test('a tenant cannot create more processes than its quota (409 naming the limit), but may still change its processes; steps per process stay bounded at 100', async () => {
  const body = (name: string, steps = 1) => ({
    name,
    kind: 'user',
    steps: Array.from({ length: steps }, (_, i) => ({ id: `s${i}`, type: 'action', action: 'changeStage', inputs: { stage: 'S' } })),
  });
  for (let i = 0; i < limits.processes; i++)
    expect((await stack.api(`processes/p${i}`, { method: 'PUT', body: body(`P${i}`) })).status).toBe(200);
  let refused = 0;
  for (const id of ['p-over-1', 'p-over-2']) {
    const res = await stack.api(`processes/${id}`, { method: 'PUT', body: body('Over') });
    expect(res.status).toBe(409);
    expect(res.json.error.message).toMatch(new RegExp(`already has ${limits.processes} processes.*\\(${limits.processes}\\)`));
    if (res.status === 409) refused++;
    expect((await stack.api(`processes/${id}`)).status).toBe(404);
  }
  expect((await stack.api('processes/p0', { method: 'PUT', body: body('P0 renamed') })).status).toBe(200);
  const tooManySteps = await stack.api('processes/p1', { method: 'PUT', body: body('Long', 101) });
  expect(tooManySteps.status).toBe(400);
  if (tooManySteps.status === 400) refused++;
  expect((await stack.api('processes')).json.processes).toHaveLength(limits.processes);
  // Another tenant has its own count.
  expect(
    (await stack.api('processes/p-fabrikam', { method: 'PUT', body: body('F'), token: await stack.tokenFor(FABRIKAM_ADMIN) })).status,
  ).toBe(200);
  tally.record({
    kind: 'attack',
    category: 'Quotas: events, connection tests, processes per tenant',
    tried: 3,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});
