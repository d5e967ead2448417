/**
 * Holes in how runs execute (outside review, findings 1, 5, 7 and 8), through the whole local stack:
 * - an elevated step whose rendered path addresses another item than the run's subject repeats the user's read
 *   check on that item first (defence in depth beside the save-time elevation rule);
 * - a refused form submission leaves no user token stored for the waiting run;
 * - a tenant whose registration is removed: its queued steps fail their run, keep-alive stops renewing its grants;
 * - a run whose data makes a step throw `RangeError` (nested too deeply) ends `failed` with a reason at its first
 *   delivery instead of being redelivered until the broker gives up (elsewhere than in rendering, the RangeError is
 *   poison: the run fails and the message is dead-lettered with the reason).
 */
import { randomUUID } from 'node:crypto';
import { InvocationContext, type Timer } from '@azure/functions';
import { functionDefinitions } from '../../functions/definitions';
import type { TimerFunction } from '../../functions/registry';
import type { OutgoingMessage } from '../../src/adapters/message-queue';
import { queueNames } from '../../src/config/queues';
import { tableNames } from '../../src/config/settings';
import type { ConnectionView } from '../../src/connections/connection';
import { CONTOSO_SVC_APPROVALS, CONTOSO_USER, FABRIKAM_ADMIN, FABRIKAM_SVC, TENANT_B } from '../../src/local/identity-provider/directory';
import { getTokenStats } from '../../src/local/identity-provider/launch';
import type { Run } from '../../src/runs/run';
import { newRunId, RunRepository } from '../../src/runs/run-repository';
import { stepMessage } from '../../src/runs/step-message';
import { authorizeConnection } from '../support/connections';
import { saveAndPublish, type RunView } from '../support/runs';
import { useTally } from '../support/tally';
import { startTestStack, type TestStack } from '../support/test-stack';

const tally = useTally();
let stack: TestStack;
let approvals: ConnectionView;
let userToken: string;
let held: OutgoingMessage[] | undefined;
const tablesPrefix = `t${randomUUID().slice(0, 8)}`;

const SITE = 'contoso.sharepoint.com,site-1';
const open = { siteId: SITE, listId: 'requests', itemId: '31' };
const hiddenTwin = { siteId: SITE, listId: 'restricted-hr', itemId: '31' };
const key = (i: typeof open) => `${i.siteId}/${i.listId}/${i.itemId}`;

beforeAll(async () => {
  stack = await startTestStack({ tablesPrefix, env: { TENANT_REGISTRATION_CACHE_SECONDS: '0', KEEPALIVE_IDLE_DAYS: '0' } });
  approvals = await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Approvals');
  stack.graph.items.set(key(open), { Title: 'Laptop request', Stage: 'New' });
  stack.graph.items.set(key(hiddenTwin), { Title: 'Salary review', Stage: 'New' });
  userToken = await stack.tokenFor(CONTOSO_USER);
  const send = stack.bus.send.bind(stack.bus);
  stack.bus.send = async (queue, messages) => {
    if (held && queue === queueNames.steps) held.push(...messages);
    else await send(queue, messages);
  };
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const runOf = async (id: string, token = userToken): Promise<RunView> => (await stack.api(`runs/${id}`, { token })).json as RunView;

test('an elevated step aimed (through a designer-fixed choice) at an item the user cannot open fails after a read check as the user; nothing is written', async () => {
  await saveAndPublish(stack, 'choose-list', {
    name: 'Choose list',
    kind: 'user',
    inputs: [{ name: 'list', label: 'List', type: 'choice', options: ['requests', 'restricted-hr'], required: true }],
    steps: [
      {
        id: 'title',
        type: 'action',
        action: 'graphRequest',
        inputs: {
          method: 'PATCH',
          path: '/sites/{{event.subject.siteId}}/lists/{{event.data.list}}/items/{{event.subject.itemId}}/fields',
          body: { Title: 'Changed' },
        },
        permissions: { executeAs: approvals.id },
      },
    ],
  });
  const callsBefore = stack.graph.calls.length;
  const start = await stack.api('processes/choose-list/runs', {
    method: 'POST',
    token: userToken,
    body: { subject: open, inputs: { list: 'restricted-hr' } },
  });
  expect(start.status).toBe(202);
  await stack.bus.idle();
  const run = await runOf(start.json.runId);
  const writes = stack.graph.calls.slice(callsBefore).filter((c) => c.method === 'PATCH' && c.path.includes('/lists/restricted-hr/'));
  expect(writes).toEqual([]);
  expect(stack.graph.items.get(key(hiddenTwin))).toEqual({ Title: 'Salary review', Stage: 'New' });
  expect(run).toMatchObject({
    status: 'failed',
    steps: [{ id: 'title', status: 'failed', error: expect.stringMatching(/cannot open the item/) }],
  });
  // The item the run was started on, addressed the same way, needs no second check and is written.
  const ok = await stack.api('processes/choose-list/runs', {
    method: 'POST',
    token: userToken,
    body: { subject: open, inputs: { list: 'requests' } },
  });
  await stack.bus.idle();
  expect((await runOf(ok.json.runId)).status).toBe('succeeded');
  tally.record({
    kind: 'attack',
    category: 'Elevation: run-time read check on another item',
    tried: 1,
    handled: writes.length === 0 ? 1 : 0,
    faultsInjected: 0,
    lost: writes.length,
  });
});

test('a form submission refused as too large leaves the run waiting and no user token stored for it', async () => {
  const fields = Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, label: `F${i}`, type: 'text' }));
  await saveAndPublish(stack, 'big-form', {
    name: 'Big form',
    kind: 'user',
    steps: [
      { id: 'ask', type: 'form', fields },
      { id: 'note', type: 'action', action: 'updateFields', inputs: { fields: { Comment: 'seen' } } },
    ],
  });
  const start = await stack.api('processes/big-form/runs', { method: 'POST', token: userToken, body: { subject: open } });
  await stack.bus.idle();
  const runId = start.json.runId as string;
  expect((await runOf(runId)).status).toBe('waiting');
  const values = Object.fromEntries(fields.map((f) => [f.name, 'x'.repeat(4000)]));
  const res = await stack.api(`runs/${runId}/steps/ask/submit`, { method: 'POST', token: userToken, body: { values } });
  expect(res.status).toBe(413);
  expect((await runOf(runId)).status).toBe('waiting');
  const kept = await stack.internals.userSessions.get(CONTOSO_USER.tenantId, runId);
  expect(kept).toBeUndefined();
  tally.record({
    kind: 'attack',
    category: 'User tokens: none kept while a run waits',
    tried: 1,
    handled: kept ? 0 : 1,
    faultsInjected: 0,
    lost: 0,
  });
});

describe('a tenant whose registration is removed', () => {
  let fabrikamToken: string;

  beforeAll(async () => {
    await authorizeConnection(stack, FABRIKAM_SVC, 'Fabrikam bot', FABRIKAM_ADMIN);
    fabrikamToken = await stack.tokenFor(FABRIKAM_ADMIN);
    const body = {
      name: 'Stamp',
      kind: 'system',
      triggers: [{ event: 'ItemCreated' }],
      steps: [{ id: 'stamp', type: 'action', action: 'updateFields', inputs: { fields: { Seen: true } } }],
    };
    expect((await stack.api('processes/stamp', { method: 'PUT', body, token: fabrikamToken })).status).toBe(200);
    expect((await stack.api('processes/stamp/publish', { method: 'POST', token: fabrikamToken })).status).toBe(200);
  });

  test('its queued steps fail their run with a reason, and keep-alive no longer renews its grants', async () => {
    held = [];
    const posted = await stack.api('events', {
      method: 'POST',
      token: fabrikamToken,
      body: { type: 'ItemCreated', subject: { siteId: 'fabrikam.sharepoint.com,site-1', listId: 'l', itemId: '1' }, data: {} },
    });
    expect(posted.status).toBe(202);
    await stack.bus.idle();
    const queued = held;
    held = undefined;
    expect(queued.length).toBe(1);
    const [runBefore] = (await stack.api('runs?processId=stamp', { token: fabrikamToken })).json.runs as RunView[];

    expect(await stack.internals.tenantRegistry.remove(TENANT_B.id)).toBe(true);
    const callsBefore = stack.graph.calls.length;
    await stack.bus.send(queueNames.steps, queued);
    await stack.bus.idle();
    const graphCalls = stack.graph.calls.slice(callsBefore).filter((c) => c.tenantId === TENANT_B.id).length;

    const refreshesBefore = (await getTokenStats(stack.identityProvider.url)).byUsername[FABRIKAM_SVC.username] ?? 0;
    const lines = await runKeepAlive();
    const refreshes = ((await getTokenStats(stack.identityProvider.url)).byUsername[FABRIKAM_SVC.username] ?? 0) - refreshesBefore;

    const runs = new RunRepository(stack.internals.tables, tableNames({ TABLES_PREFIX: tablesPrefix }).runs);
    const run = await runs.get(TENANT_B.id, runBefore!.id);
    await stack.internals.tenantRegistry.register({ tenantId: TENANT_B.id, displayName: TENANT_B.name, by: 'test' });

    expect(graphCalls).toBe(0);
    expect(run).toMatchObject({ status: 'failed', reason: expect.stringMatching(/not registered/) });
    expect(refreshes).toBe(0);
    // Every connection is idle (KEEPALIVE_IDLE_DAYS 0): Fabrikam's alone is skipped, Contoso's are refreshed.
    expect(lines.join('\n')).toMatch(/ 1 skipped \(tenant not registered\)/);
    expect(lines.join('\n')).toContain(`of tenant ${TENANT_B.id} was not refreshed: the tenant is no longer registered`);
    tally.record({
      kind: 'attack',
      category: 'Removed tenants: queued steps and keep-alive',
      tried: 2,
      handled: (graphCalls === 0 ? 1 : 0) + (refreshes === 0 ? 1 : 0),
      faultsInjected: 0,
      lost: 0,
    });
  });
});

/** Runs the keep-alive timer as the host does, every connection counted as idle; answers its log lines. */
async function runKeepAlive(): Promise<string[]> {
  const timer = functionDefinitions.find((f): f is TimerFunction => f.kind === 'timer' && f.name === 'connections-keepalive')!;
  const lines: string[] = [];
  const context = new InvocationContext({
    invocationId: randomUUID(),
    functionName: 'connections-keepalive',
    logHandler: (level, ...args) => lines.push(`[${level}] ${args.join(' ')}`),
  });
  const t: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
  await timer.handler(t, context);
  return lines;
}

test('a run whose data throws RangeError in a step ends failed with a reason after one delivery, not redelivered until the broker gives up', async () => {
  // A run stored before nesting was bounded at intake (as the review found: ~4,100 levels is accepted and stored).
  await saveAndPublish(stack, 'deep', {
    name: 'Deep',
    kind: 'system',
    triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.data.kind', op: 'eq', value: 'never' }] }],
    steps: [{ id: 'copy', type: 'action', action: 'updateFields', inputs: { fields: '{{event.data.deep}}' } }],
  });
  let deep: unknown = 1;
  for (let i = 0; i < 4100; i++) deep = [deep];
  const runs = new RunRepository(stack.internals.tables, tableNames({ TABLES_PREFIX: tablesPrefix }).runs);
  const id = newRunId(new Date());
  const run: Run = {
    id,
    tenantId: CONTOSO_USER.tenantId,
    kind: 'system',
    processId: 'deep',
    processVersion: 1,
    subject: open,
    event: {
      id: randomUUID(),
      type: 'ItemCreated',
      tenantId: CONTOSO_USER.tenantId,
      subject: open,
      data: { deep },
      occurredAt: new Date().toISOString(),
    },
    status: 'running',
    createdAt: new Date().toISOString(),
    steps: [{ id: 'copy', action: 'updateFields', status: 'pending', attempts: 0 }],
  };
  await runs.create(run);
  const before = stack.bus.stats()[queueNames.steps]!;
  await stack.bus.send(queueNames.steps, [stepMessage({ tenantId: run.tenantId, runId: id, stepIndex: 0 })]);
  await stack.bus.idle();
  const after = stack.bus.stats()[queueNames.steps]!;
  const stored = await runs.get(run.tenantId, id);
  expect(after.deliveries - before.deliveries).toBe(1);
  expect(stored).toMatchObject({ status: 'failed', reason: expect.stringMatching(/nested too deeply/) });
  expect(after.abandoned - before.abandoned).toBe(0);
  tally.record({
    kind: 'attack',
    category: 'Deep JSON: nesting bounded, RangeError is poison',
    tried: 1,
    handled: stored?.status === 'failed' ? 1 : 0,
    faultsInjected: 0,
    lost: 0,
  });
});

test('a poison step message of a run that exists ends the run failed with the reason at its first delivery', async () => {
  // A run whose published version is gone (a row written by hand, a restore): every delivery would fail the same way.
  const runs = new RunRepository(stack.internals.tables, tableNames({ TABLES_PREFIX: tablesPrefix }).runs);
  const id = newRunId(new Date());
  const event = {
    id: randomUUID(),
    type: 'ItemCreated' as const,
    tenantId: CONTOSO_USER.tenantId,
    subject: open,
    data: {},
    occurredAt: new Date().toISOString(),
  };
  await runs.create({
    id,
    tenantId: CONTOSO_USER.tenantId,
    kind: 'system',
    processId: 'ghost',
    processVersion: 7,
    subject: open,
    event,
    status: 'running',
    createdAt: new Date().toISOString(),
    steps: [{ id: 'gone', action: 'updateFields', status: 'pending', attempts: 0 }],
  });
  const before = stack.bus.stats()[queueNames.steps]!;
  await stack.bus.send(queueNames.steps, [stepMessage({ tenantId: CONTOSO_USER.tenantId, runId: id, stepIndex: 0 })]);
  await stack.bus.idle();
  const after = stack.bus.stats()[queueNames.steps]!;
  const stored = await runs.get(CONTOSO_USER.tenantId, id);
  expect(after.deliveries - before.deliveries).toBe(1);
  expect(stored).toMatchObject({ status: 'failed', reason: expect.stringMatching(/ghost v7 does not exist/) });
  tally.record({
    kind: 'attack',
    category: 'Deep JSON: nesting bounded, RangeError is poison',
    tried: 1,
    handled: stored?.status === 'failed' ? 1 : 0,
    faultsInjected: 0,
    lost: 0,
  });
});
