/**
 * Message-level faults on the local stack (in-process bus with Service Bus semantics, Azurite, the Graph stand-in):
 * duplicate and out-of-order step messages, poison messages, events for unknown tenants, a crash between the
 * action and the write that records it, and two instances refreshing one connection at once.
 * (Redelivered events, a redelivered step after its run finished and three basic poison messages are in
 * test/runs/process-engine.test.ts; many instances refreshing at once in test/tokens/token-broker.test.ts.)
 */
import { RestError } from '@azure/data-tables';
import { randomUUID } from 'node:crypto';
import { clientRequestIdFor, graphRequest } from '../../src/actions/graph-client';
import { createApp } from '../../src/app-context';
import { connectionSecretName } from '../../src/adapters/secret-store';
import { queueNames } from '../../src/config/queues';
import { tableNames } from '../../src/config/settings';
import { CONTOSO_SVC_WORKPOINT, TENANT_A, TENANT_B } from '../../src/local/identity-provider/directory';
import { getTokenStats } from '../../src/local/identity-provider/launch';
import type { Run } from '../../src/runs/run';
import { PoisonMessageError } from '../../src/runs/step-runner';
import type { ConnectionView } from '../../src/connections/connection';
import { authorizeConnection } from '../support/connections';
import { useTally } from '../support/tally';
import { startTestStack, type TestStack } from '../support/test-stack';

const tally = useTally();
let stack: TestStack;
let workpoint: ConnectionView;
const PROCESS = 'three-steps';

beforeAll(async () => {
  stack = await startTestStack();
  workpoint = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  const body = {
    name: 'Three steps',
    kind: 'system',
    triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.data.kind', op: 'eq', value: 'three' }] }],
    steps: [
      { id: 'a', type: 'action', action: 'updateFields', inputs: { fields: { A: 'one' } } },
      { id: 'b', type: 'action', action: 'updateFields', inputs: { fields: { B: 'two' } } },
      { id: 'c', type: 'action', action: 'changeStage', inputs: { stage: 'Done' } },
    ],
  };
  expect((await stack.api(`processes/${PROCESS}`, { method: 'PUT', body })).status).toBe(200);
  expect((await stack.api(`processes/${PROCESS}/publish`, { method: 'POST' })).status).toBe(200);
});
afterAll(async () => {
  await stack?.stop();
});

const subjectOf = (itemId: string) => ({ siteId: 'contoso.sharepoint.com,site-1', listId: 'list-1', itemId });
const callsFor = (itemId: string) => stack.graph.calls.filter((c) => c.path.includes(`/items/${itemId}/`));

/** An event that starts a run of PROCESS. */
function newEvent(itemId: string) {
  return {
    id: randomUUID(),
    occurredAt: new Date().toISOString(),
    type: 'ItemCreated',
    subject: subjectOf(itemId),
    data: { kind: 'three' },
  };
}

/** The run an event started (its id derives from when the event was received, so it is known only then). */
const runOfEvent = (eventId: string) => stack.context.runs.findForEvent(TENANT_A.id, eventId, PROCESS);

/** Posts an event through the API without waiting for the bus; returns the id of the run it starts, once it exists. */
async function startRun(itemId: string): Promise<string> {
  const event = newEvent(itemId);
  await postEvent(event);
  return (await until('the run', () => runOfEvent(event.id))).id;
}

async function postEvent(event: unknown) {
  const res = await stack.api('events', { method: 'POST', body: event });
  expect(res.status).toBe(202);
}

/** Dead letters the app recorded for `queue` since `before` of them existed (the list is newest first). */
async function deadLettersSince(queue: string, before: number) {
  const all = await stack.context.deadLetters.list(queue, 10_000);
  return all.slice(0, all.length - before);
}
const deadLetterCount = async (queue: string) => (await stack.context.deadLetters.list(queue, 10_000)).length;

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

const getRun = (runId: string, tenantId = TENANT_A.id) => stack.context.runs.get(tenantId, runId);
const stepMessage = (runId: string, stepIndex: number, messageId: string, sessionId = runId) => ({
  body: { tenantId: TENANT_A.id, runId, stepIndex },
  messageId,
  sessionId,
});

test('duplicate and out-of-order step messages: no step is skipped, run early or run twice', async () => {
  const deadBefore = await deadLetterCount(queueNames.steps);
  // Step "a" takes a second at Graph, so the stray messages arrive while it is in flight.
  stack.graph.injectFaults([{ status: 200, delayMs: 1000, count: 1, method: 'PATCH' }]);
  const runId = await startRun('order-1');
  await until('step a running', async () => (await getRun(runId))?.steps[0].status === 'running');

  await stack.bus.send(queueNames.steps, [
    stepMessage(runId, 0, 'dup-a'), // a duplicate of the step in flight, in the run's session: waits, then finds it done
    stepMessage(runId, 1, 'early-b'), // the next step, early but in the run's session: waits for a
    stepMessage(runId, 2, 'stray-c', 'another-session'), // a copy outside the run's session: refused
  ]);
  // Another instance handed step c while a is still running: refused, not run ahead of a and b.
  const direct = await stack.context.stepRunner
    .handle({ tenantId: TENANT_A.id, runId, stepIndex: 2 }, { deliveryCount: 1, maxDeliveryCount: 10 })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(direct).toBeInstanceOf(PoisonMessageError);
  expect((direct as PoisonMessageError).reason).toMatch(/step 2 of run .* arrived before step [01] finished/);
  await stack.bus.idle();

  const run = (await getRun(runId))!;
  expect(run.status).toBe('succeeded');
  expect(run.steps.map((s) => [s.id, s.status, s.attempts])).toEqual([
    ['a', 'succeeded', 1],
    ['b', 'succeeded', 1],
    ['c', 'succeeded', 1],
  ]);
  const calls = callsFor('order-1');
  expect(calls.map((c) => c.body)).toEqual([{ A: 'one' }, { B: 'two' }, { Stage: 'Done' }]);
  expect(calls.map((c) => c.clientRequestId)).toEqual(['a', 'b', 'c'].map((s) => clientRequestIdFor(`${runId}:${s}`)));
  const dead = await deadLettersSince(queueNames.steps, deadBefore);
  expect(dead.map((d) => [d.messageId, d.reason])).toEqual([['stray-c', expect.stringMatching(/not its run's session/)]]);
  expect(stack.bus.deadLetters(queueNames.steps)).toEqual([]); // nothing left to die of retries

  tally.record({
    kind: 'fault',
    category: 'Duplicate and out-of-order step messages',
    tried: 4,
    handled: 4,
    faultsInjected: 4,
    lost: Math.abs(calls.length - 3),
  });
});

test('a crash between the action call and the write that records it: the redelivery does not repeat the action', async () => {
  const runs = stack.context.runs;
  const replace = runs.replace;
  const writes: { at: number; status: string }[] = [];
  const event = newEvent('crash-1');
  let crashes = 0;
  // The run-row write after the Graph call fails once, as if the process died right there.
  runs.replace = async function (this: typeof runs, run: Run, etag: string) {
    if (run.event?.id === event.id) {
      writes.push({ at: Date.now(), status: run.steps[0].status });
      if (run.steps[0].status === 'succeeded' && crashes === 0) {
        crashes++;
        throw new Error('simulated crash before the audit write');
      }
    }
    return replace.call(this, run, etag);
  };
  try {
    await postEvent(event);
    await stack.bus.idle();
  } finally {
    runs.replace = replace;
  }

  expect(crashes).toBe(1);
  const runId = (await runOfEvent(event.id))!.id;
  const calls = callsFor('crash-1');
  expect(calls).toHaveLength(1);
  expect(calls[0]).toMatchObject({ method: 'PATCH', body: { A: 'one' }, clientRequestId: clientRequestIdFor(`${runId}:a`) });
  // Marked running (recorded) before the call went out.
  expect(writes[0].status).toBe('running');
  expect(writes[0].at).toBeLessThanOrEqual(Date.parse(calls[0].at));
  const run = (await getRun(runId))!;
  expect(run.status).toBe('failed');
  expect(run.steps[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/interrupted.*not repeated/i) });
  expect(run.steps.slice(1).map((s) => s.status)).toEqual(['pending', 'pending']);
  expect(stack.logs.some((l) => l.includes('Step failed unexpectedly') && l.includes('simulated crash'))).toBe(true);

  tally.record({
    kind: 'fault',
    category: 'Crash between an action and its audit write',
    tried: 1,
    handled: 1,
    faultsInjected: 1,
    lost: calls.length - 1,
  });
});

test('poison messages are recorded with a reason at the first delivery and block nothing', async () => {
  // A finished run of this tenant, for messages that name a real run.
  const r = await startRun('poison-setup');
  await stack.bus.idle();
  expect((await getRun(r))?.status).toBe('succeeded');
  const a = TENANT_A.id;
  const steps: [string, unknown, string?][] = [
    ['other-tenant', { tenantId: TENANT_B.id, runId: r, stepIndex: 0 }],
    ['negative-index', { tenantId: a, runId: r, stepIndex: -1 }],
    ['fractional-index', { tenantId: a, runId: r, stepIndex: 1.5 }],
    ['string-index', { tenantId: a, runId: r, stepIndex: '0' }],
    ['odata-run-id', { tenantId: a, runId: "x' or RowKey ne '", stepIndex: 0 }, 'x'],
    ['extra-field', { tenantId: a, runId: r, stepIndex: 0, execute: 'everything' }],
    ['proto-pollution', `{"__proto__":{"polluted":true},"tenantId":"${a}","runId":"${r}","stepIndex":0}`],
    ['null-body', null],
    ['array-body', [a, r, 0]],
    ['number-body', 42],
  ];
  const event = {
    id: randomUUID(),
    type: 'ItemCreated',
    tenantId: a,
    occurredAt: new Date().toISOString(),
    subject: subjectOf('p'),
    data: {},
  };
  const events: [string, unknown][] = [
    ['tenant-not-guid', { ...event, tenantId: 'contoso' }],
    ['no-subject', { ...event, subject: undefined }],
    ['bad-time', { ...event, occurredAt: 'yesterday' }],
    ['unknown-type', { ...event, type: 'DropTables' }],
    ['data-not-object', { ...event, data: 'x' }],
    ['xml-body', '<event type="ItemCreated"/>'],
    ['deep-chain', { ...event, causedBy: { runId: 'r', processId: 'p', depth: 100_000 } }],
  ];
  const recordedBefore = { steps: await deadLetterCount(queueNames.steps), events: await deadLetterCount(queueNames.events) };
  const busBefore = stack.bus.stats();
  await stack.bus.send(
    queueNames.steps,
    steps.map(([id, body, session]) => ({
      body,
      messageId: `poison-${id}`,
      sessionId: session ?? (typeof body === 'object' && body && 'runId' in body ? String((body as { runId: unknown }).runId) : r),
    })),
  );
  await stack.bus.send(
    queueNames.events,
    events.map(([id, body]) => ({ body, messageId: `poison-${id}` })),
  );
  // A stale step message of a finished run: completed, nothing runs.
  await stack.bus.send(queueNames.steps, [stepMessage(r, 1, 'stale-step')]);
  await stack.bus.idle();

  const deadSteps = await deadLettersSince(queueNames.steps, recordedBefore.steps);
  const deadEvents = await deadLettersSince(queueNames.events, recordedBefore.events);
  expect(new Set(deadSteps.map((d) => d.messageId))).toEqual(new Set(steps.map(([id]) => `poison-${id}`)));
  expect(new Set(deadEvents.map((d) => d.messageId))).toEqual(new Set(events.map(([id]) => `poison-${id}`)));
  for (const d of [...deadSteps, ...deadEvents]) expect(d.reason.length).toBeGreaterThan(5);
  expect(deadSteps.find((d) => d.messageId === 'poison-other-tenant')!.reason).toContain('does not exist');
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();

  // Every poison message was settled at its first delivery: no retries, nothing dead-lettered by the broker.
  const busAfter = stack.bus.stats();
  for (const q of [queueNames.steps, queueNames.events]) {
    expect(busAfter[q].abandoned).toBe(busBefore[q].abandoned);
    expect(busAfter[q].deadLettered).toBe(busBefore[q].deadLettered);
  }
  expect(busAfter[queueNames.steps].deliveries - busBefore[queueNames.steps].deliveries).toBe(steps.length + 1);
  expect(busAfter[queueNames.events].deliveries - busBefore[queueNames.events].deliveries).toBe(events.length);

  // Processing goes on.
  const runId = await startRun('after-poison');
  await stack.bus.idle();
  expect((await getRun(runId))!.status).toBe('succeeded');
  expect(callsFor('after-poison')).toHaveLength(3);

  const total = steps.length + events.length + 1;
  tally.record({ kind: 'fault', category: 'Poison and stale messages', tried: total, handled: total, faultsInjected: total, lost: 0 });
});

test('a run Azure Tables refuses as too large: the event is dead-lettered with the reason at its first delivery, not retried', async () => {
  const table = await stack.internals.tables(tableNames(stack.context.settings).runs);
  const createEntity = table.createEntity;
  const event = newEvent('too-large-1');
  // What Tables answers for an entity over its limits, should the app's own estimate ever fall short of the service's.
  const refusal = Object.assign(new RestError('The entity is larger than the maximum size permitted.', { statusCode: 400 }), {
    details: { odataError: { code: 'EntityTooLarge' } },
  });
  table.createEntity = async function (
    this: typeof table,
    entity: Parameters<typeof createEntity>[0],
    options?: Parameters<typeof createEntity>[1],
  ) {
    const { eventJson } = entity as { eventJson?: unknown };
    if (typeof eventJson === 'string' && eventJson.includes(event.id)) throw refusal;
    return createEntity.call(this, entity, options);
  } as typeof createEntity;
  const deadBefore = await deadLetterCount(queueNames.events);
  const before = stack.bus.stats()[queueNames.events];
  try {
    await postEvent(event);
    await stack.bus.idle();
  } finally {
    table.createEntity = createEntity;
  }
  const after = stack.bus.stats()[queueNames.events];
  expect(after.deliveries - before.deliveries).toBe(1);
  expect(after.abandoned).toBe(before.abandoned);
  const dead = await deadLettersSince(queueNames.events, deadBefore);
  expect(dead).toEqual([
    expect.objectContaining({ reason: expect.stringMatching(/^Run .* cannot be stored: Azure Tables refused it as too large/) }),
  ]);
  expect(await runOfEvent(event.id)).toBeUndefined();
  expect(callsFor('too-large-1')).toEqual([]);
  tally.record({ kind: 'fault', category: 'Messages too large to store', tried: 1, handled: 1, faultsInjected: 1, lost: 0 });
});

test('an event for an unknown tenant starts nothing and crashes nothing: dead-lettered with the reason if the tenant is not registered', async () => {
  const unknownTenant = randomUUID();
  const base = { type: 'ItemCreated', occurredAt: new Date().toISOString(), subject: subjectOf('u'), data: { kind: 'three' } };
  const events = [
    { ...base, id: randomUUID(), tenantId: unknownTenant },
    { ...base, id: randomUUID(), tenantId: TENANT_B.id }, // a registered tenant with no processes and no connections
  ];
  const logsBefore = stack.logs.length;
  const runsBefore = (await stack.context.runs.list(TENANT_A.id, { limit: 1000 })).length;
  const deadBefore = await deadLetterCount(queueNames.events);
  await stack.bus.send(
    queueNames.events,
    events.map((e) => ({ body: e, messageId: `${e.tenantId}:${e.id}` })),
  );
  await stack.bus.idle();

  for (const e of events) expect(await stack.context.runs.list(e.tenantId)).toEqual([]);
  expect(
    stack.logs
      .slice(logsBefore)
      .some((l) => l.includes(`Event processed {"eventId":"${events[1].id}","type":"ItemCreated","runsStarted":0`)),
  ).toBe(true);
  const dead = (await stack.context.deadLetters.list(queueNames.events, 10_000)).slice(
    0,
    (await deadLetterCount(queueNames.events)) - deadBefore,
  );
  expect(dead).toEqual([
    expect.objectContaining({
      messageId: `${unknownTenant}:${events[0].id}`,
      reason: expect.stringContaining(`register tenant ${unknownTenant}`),
    }),
  ]);
  expect((await stack.context.runs.list(TENANT_A.id, { limit: 1000 })).length).toBe(runsBefore);
  expect(stack.logs.slice(logsBefore).filter((l) => l.startsWith('[error]'))).toEqual([]);
  expect(callsFor('u')).toEqual([]);

  tally.record({
    kind: 'fault',
    category: 'Events for an unknown tenant',
    tried: events.length,
    handled: events.length,
    faultsInjected: events.length,
    lost: 0,
  });
});

test('two instances refreshing the same connection at once: one token call, both get a valid token', async () => {
  const second = createApp(stack.context.settings, stack.overrides).internals;
  const ref = { tenantId: TENANT_A.id, id: workpoint.id, objectId: CONTOSO_SVC_WORKPOINT.objectId };
  const secretName = connectionSecretName(TENANT_A.id, workpoint.id);
  const callsBefore = (await getTokenStats(stack.identityProvider.url)).byUsername[CONTOSO_SVC_WORKPOINT.username] ?? 0;
  const versionsBefore = stack.vault.secretVersions(secretName).length;
  try {
    // One warm instance (it holds the sign-in's token) and one cold instance, both forcing a refresh.
    const tokens = await Promise.all([
      stack.internals.broker.getAccessToken(ref, { forceRefresh: true }),
      second.broker.getAccessToken(ref, { forceRefresh: true }),
    ]);
    const callsAfter = (await getTokenStats(stack.identityProvider.url)).byUsername[CONTOSO_SVC_WORKPOINT.username] ?? 0;
    expect(callsAfter - callsBefore).toBe(1);
    expect(stack.vault.secretVersions(secretName).length - versionsBefore).toBe(1);
    for (const { token } of tokens) {
      const me = (await graphRequest({
        graphBaseUrl: stack.graph.url,
        accessToken: token,
        method: 'GET',
        path: '/me',
        idempotencyKey: 'two-instances',
      })) as {
        userPrincipalName: string;
      };
      expect(me.userPrincipalName).toBe(CONTOSO_SVC_WORKPOINT.username);
    }
    // Both keep working afterwards (the rotated refresh token was stored, not lost).
    await expect(second.broker.getAccessToken(ref, { forceRefresh: true })).resolves.toMatchObject({ token: expect.any(String) });
    await expect(stack.internals.broker.getAccessToken(ref, { forceRefresh: true })).resolves.toMatchObject({ token: expect.any(String) });
    tally.record({
      kind: 'fault',
      category: 'Two instances refreshing one connection at once',
      tried: 2,
      handled: 2,
      faultsInjected: 1,
      lost: callsAfter - callsBefore - 1,
    });
  } finally {
    second.broker.close();
  }
});
