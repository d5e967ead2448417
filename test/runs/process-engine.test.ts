import { randomUUID } from 'node:crypto';
import { queueNames } from '../../src/config/queues';
import type { ConnectionView } from '../../src/connections/connection';
import { CONTOSO_SVC_APPROVALS, CONTOSO_SVC_WORKPOINT, TENANT_A } from '../../src/local/identity-provider/directory';
import { getTokenStats, revokeLocalGrants } from '../../src/local/identity-provider/launch';
import type { GraphCall } from '../../src/local/graph-stand-in';
import { authorizeConnection, getConnection, listConnections } from '../support/connections';
import { postEvent, runsOf, saveAndPublish, testSubject as subject, type RunView } from '../support/runs';
import { startTestStack, type TestStack } from '../support/test-stack';

/**
 * Each describe starts a stack of its own and publishes what it needs, so every test also passes alone
 * (`node scripts/run-each-test.mjs test/runs/process-engine.test.ts`). A test that changes what its describe's
 * setup made (a new published version, a revoked grant) is the last of its describe.
 */
function stackPerDescribe(): { stack: TestStack } {
  const setup = {} as { stack: TestStack };
  beforeAll(async () => {
    // Access tokens that MSAL always considers due for renewal (it renews within 5 minutes of expiry):
    // every step then uses the refresh token, so a revoked grant shows on the next step.
    setup.stack = await startTestStack({ identityProvider: { accessTokenTtlSeconds: 200 } });
  });
  afterAll(async () => {
    await setup.stack?.stop();
  });
  return setup;
}

/** Contoso's WorkPoint (the default) and Approvals. */
function twoConnections(setup: { stack: TestStack }) {
  const made = {} as { workpoint: ConnectionView; approvals: ConnectionView };
  beforeAll(async () => {
    made.workpoint = await authorizeConnection(setup.stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
    made.approvals = await authorizeConnection(setup.stack, CONTOSO_SVC_APPROVALS, 'Approvals');
    expect(made.workpoint.isDefault).toBe(true);
    expect(made.approvals.isDefault).toBe(false);
  });
  return made;
}

const callsBy = (calls: GraphCall[], username: string) => calls.filter((c) => c.username === username);

/** The first published version of contract intake: a default step, a step as Approvals, a conditional mail. */
const intakeV1 = (approvalsId: string) => ({
  name: 'Contract intake',
  kind: 'system',
  triggers: [
    { event: 'ItemCreated', conditions: [{ path: 'event.data.contentType', op: 'eq', value: 'Contract' }] },
    { event: 'ItemCreated', conditions: [{ path: 'event.data.title', op: 'exists' }] },
  ],
  steps: [
    { id: 'mark', type: 'action', action: 'updateFields', inputs: { fields: { Title: 'Received: {{event.data.title}}' } } },
    { id: 'stage', type: 'action', action: 'changeStage', inputs: { stage: 'Legal review' }, permissions: { executeAs: approvalsId } },
    {
      id: 'mail',
      type: 'action',
      action: 'sendMail',
      inputs: { to: ['legal@contoso.test'], subject: 'x', body: 'y' },
      conditions: [{ path: 'event.data.urgent', op: 'eq', value: true }],
    },
  ],
});

/** The second: one step, as Approvals, for contracts and amendments. */
const intakeV2 = (approvalsId: string) => ({
  name: 'Contract intake',
  kind: 'system',
  triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.data.contentType', op: 'in', value: ['Contract', 'Amendment'] }] }],
  steps: [{ id: 'stage', type: 'action', action: 'changeStage', inputs: { stage: 'Triage' }, permissions: { executeAs: approvalsId } }],
});

describe('without any connection', () => {
  const setup = stackPerDescribe();

  test('a matching event records a failed run with the reason', async () => {
    const { stack } = setup;
    await saveAndPublish(stack, 'no-connection', {
      name: 'Needs a connection',
      kind: 'system',
      triggers: [{ event: 'ItemCreated' }],
      steps: [{ id: 'update', type: 'action', action: 'updateFields', inputs: { fields: { Seen: true } } }],
    });
    await postEvent(stack, 'ItemCreated');
    const [run] = await runsOf(stack, 'no-connection');
    expect(run).toMatchObject({ status: 'failed', reason: expect.stringContaining('System processes need at least one connection') });
    expect(stack.graph.calls).toHaveLength(0);
  });
});

describe('saving and publishing', () => {
  const setup = stackPerDescribe();
  const made = twoConnections(setup);

  test('saving refuses form steps that run as a connection, form steps in system processes, unknown actions and missing inputs', async () => {
    const { stack } = setup;
    const res = await stack.api('processes/invalid', {
      method: 'PUT',
      body: {
        name: 'Invalid',
        kind: 'user',
        steps: [
          { id: 'approve', type: 'form', permissions: { executeAs: made.approvals.id } },
          { id: 'x', type: 'action', action: 'doMagic' },
          { id: 'y', type: 'action', action: 'changeStage', inputs: {} },
        ],
      },
    });
    expect(res.status).toBe(422);
    expect(res.json.error.details).toEqual(
      expect.arrayContaining([
        { path: 'steps[0].permissions.executeAs', message: 'only action steps can be executed using a connection' },
        { path: 'steps[1].action', message: expect.stringContaining('unknown action "doMagic"') },
        { path: expect.stringMatching(/^steps\[2\]\.inputs\.stage/), message: expect.any(String) },
      ]),
    );
    const system = await stack.api('processes/invalid', {
      method: 'PUT',
      body: { name: 'Invalid', kind: 'system', triggers: [{ event: 'ItemCreated' }], steps: [{ id: 'approve', type: 'form' }] },
    });
    expect(system.status).toBe(422);
    expect(system.json.error.details[0]).toEqual({ path: 'steps[0].type', message: expect.stringContaining('cannot contain form steps') });
    expect((await stack.api('processes/invalid')).status).toBe(404);
  });

  test('publishing refuses a connection that does not exist in the tenant', async () => {
    const { stack } = setup;
    const body = {
      name: 'Ghost',
      kind: 'system',
      triggers: [{ event: 'ItemUpdated' }],
      steps: [{ id: 'a', type: 'action', action: 'changeStage', inputs: { stage: 'Done' }, permissions: { executeAs: randomUUID() } }],
    };
    expect((await stack.api('processes/ghost', { method: 'PUT', body })).status).toBe(200);
    const res = await stack.api('processes/ghost/publish', { method: 'POST' });
    expect(res.status).toBe(422);
    expect(res.json.error.details).toEqual([
      { path: 'steps[0].permissions.executeAs', message: expect.stringContaining('does not exist in this tenant') },
    ]);
  });
});

describe('a published system process', () => {
  const setup = stackPerDescribe();
  const made = twoConnections(setup);
  /** Version 1 of contract intake, and what Graph saw while the first event ran it. */
  let version: number;
  let firstCalls: GraphCall[];
  beforeAll(async () => {
    const { stack } = setup;
    version = await saveAndPublish(stack, 'contract-intake', intakeV1(made.approvals.id));
    stack.graph.forgetCalls();
    await postEvent(stack, 'ItemCreated', { contentType: 'Contract', title: 'NDA' });
    firstCalls = [...stack.graph.calls];
  });

  test('runs each step as the right account and records who did what', async () => {
    const { stack } = setup;
    const { approvals } = made;
    expect(version).toBe(1);
    const runs = await runsOf(stack, 'contract-intake');
    expect(runs).toHaveLength(1); // two matching triggers, one run
    const run = (await stack.api(`runs/${runs[0].id}`)).json as RunView;
    expect(run).toMatchObject({ processId: 'contract-intake', processVersion: 1, status: 'succeeded' });
    expect(run.steps.map((s) => [s.id, s.status, s.executedAs?.username])).toEqual([
      ['mark', 'succeeded', CONTOSO_SVC_WORKPOINT.username],
      ['stage', 'succeeded', CONTOSO_SVC_APPROVALS.username],
      ['mail', 'skipped', undefined],
    ]);
    expect(run.steps[1].executedAs).toEqual({
      kind: 'connection',
      connectionId: approvals.id,
      username: CONTOSO_SVC_APPROVALS.username,
      objectId: CONTOSO_SVC_APPROVALS.objectId,
    });
    for (const s of run.steps.slice(0, 2)) expect(Date.parse(s.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(s.startedAt!));

    expect(callsBy(firstCalls, CONTOSO_SVC_WORKPOINT.username).map((c) => [c.method, c.body])).toEqual([
      ['PATCH', { Title: 'Received: NDA' }],
    ]);
    expect(callsBy(firstCalls, CONTOSO_SVC_APPROVALS.username).map((c) => [c.method, c.body])).toEqual([
      ['PATCH', { Stage: 'Legal review' }],
    ]);
    expect(firstCalls.every((c) => c.path.includes(`/sites/${subject.siteId}/lists/${subject.listId}/items/${subject.itemId}`))).toBe(true);

    const connections = await listConnections(stack);
    expect(connections.find((c) => c.id === approvals.id)!.lastUsedAt).toBeDefined();
  });

  // Publishes version 2: the last test of this describe.
  test('events that match no enabled trigger start nothing; runs use the version published when they started', async () => {
    const { stack } = setup;
    stack.graph.forgetCalls();
    await postEvent(stack, 'ItemCreated', { contentType: 'Invoice' });
    await postEvent(stack, 'StageChanged', { title: 'NDA' });
    expect(await runsOf(stack, 'contract-intake')).toHaveLength(1);
    expect(stack.graph.calls).toHaveLength(0);

    const v2 = await saveAndPublish(stack, 'contract-intake', intakeV2(made.approvals.id));
    expect(v2).toBe(2);
    await postEvent(stack, 'ItemCreated', { contentType: 'Amendment' });
    const runs = await runsOf(stack, 'contract-intake');
    expect(runs.map((r) => [r.processVersion, r.status])).toEqual([
      [2, 'succeeded'],
      [1, 'succeeded'],
    ]);
    expect(runs[1].steps).toHaveLength(3);
    expect(stack.graph.calls.map((c) => c.body)).toEqual([{ Stage: 'Triage' }]);
    const process = (await stack.api('processes/contract-intake')).json;
    expect(process.published.version).toBe(2);
  });
});

describe('delivery: loop guard, redelivery, poison messages, transient and dead grants', () => {
  const setup = stackPerDescribe();
  const made = twoConnections(setup);
  beforeAll(async () => {
    // One step as Approvals: one Graph call per run.
    await saveAndPublish(setup.stack, 'contract-intake', intakeV2(made.approvals.id));
  });

  test("loop guard: an event caused by a process's own run does not start it again, and says why", async () => {
    const { stack } = setup;
    await postEvent(stack, 'ItemCreated', { contentType: 'Contract' });
    const [latest] = await runsOf(stack, 'contract-intake');
    expect(latest.status).toBe('succeeded');
    const caused = {
      id: randomUUID(),
      type: 'ItemCreated',
      tenantId: TENANT_A.id,
      occurredAt: new Date().toISOString(),
      subject,
      data: { contentType: 'Contract' },
      causedBy: { runId: latest.id, processId: 'contract-intake', depth: 1 },
    };
    stack.graph.forgetCalls();
    await stack.bus.send(queueNames.events, [{ body: caused, messageId: caused.id }]);
    await stack.bus.idle();
    const [guarded] = await runsOf(stack, 'contract-intake');
    expect(guarded).toMatchObject({ status: 'not_started', reason: expect.stringContaining('loop guard') });
    expect(stack.graph.calls).toHaveLength(0);
  });

  test('a redelivered event or step message executes no action twice', async () => {
    const { stack } = setup;
    const event = {
      id: randomUUID(),
      type: 'ItemCreated',
      tenantId: TENANT_A.id,
      occurredAt: new Date().toISOString(),
      subject,
      data: { contentType: 'Contract' },
    };
    stack.graph.forgetCalls();
    // Different message ids defeat duplicate detection: the engine itself must be idempotent.
    await stack.bus.send(queueNames.events, [{ body: event, messageId: 'a' }]);
    await stack.bus.send(queueNames.events, [{ body: event, messageId: 'b' }]);
    await stack.bus.idle();
    const [run] = await runsOf(stack, 'contract-intake');
    expect(run.status).toBe('succeeded');
    await stack.bus.send(queueNames.steps, [
      { body: { tenantId: TENANT_A.id, runId: run.id, stepIndex: 0 }, messageId: 'again', sessionId: run.id },
    ]);
    await stack.bus.idle();
    expect(stack.graph.calls).toHaveLength(1);
  });

  test('poison messages are dead-lettered with a reason and block nothing', async () => {
    const { stack } = setup;
    await stack.bus.send(queueNames.steps, [{ body: { hello: 'world' }, messageId: 'poison-1', sessionId: 'poison' }]);
    await stack.bus.send(queueNames.events, [{ body: 'not json at all', messageId: 'poison-2' }]);
    await stack.bus.send(queueNames.steps, [
      {
        body: { tenantId: TENANT_A.id, runId: '0000000000000-0000000000000000', stepIndex: 0 },
        messageId: 'poison-3',
        sessionId: '0000000000000-0000000000000000',
      },
    ]);
    await stack.bus.idle();
    const steps = await stack.context.deadLetters.list(queueNames.steps);
    const events = await stack.context.deadLetters.list(queueNames.events);
    expect(steps.map((d) => d.reason).sort()).toEqual(['Not a step message', expect.stringContaining('does not exist')].sort());
    expect(events[0].reason).toContain('Not a product event');
    // Processing goes on.
    stack.graph.forgetCalls();
    await postEvent(stack, 'ItemCreated', { contentType: 'Contract' });
    expect(stack.graph.calls).toHaveLength(1);
  });

  test('a transient Graph failure is retried and the step still succeeds once', async () => {
    const { stack } = setup;
    stack.graph.forgetCalls();
    stack.graph.injectFaults([{ status: 503, retryAfterSeconds: 0, count: 1 }]);
    await postEvent(stack, 'ItemCreated', { contentType: 'Contract' });
    const [run] = await runsOf(stack, 'contract-intake');
    expect(run.status).toBe('succeeded');
    expect(stack.graph.calls.map((c) => c.status)).toEqual([503, 200]);
  });

  // Revokes Approvals' grant: the last test of this describe.
  test('a revoked refresh token marks the connection needs_reauth after one token call, with no retry storm', async () => {
    const { stack } = setup;
    await revokeLocalGrants(stack.identityProvider.url, CONTOSO_SVC_APPROVALS.username);
    const before = (await getTokenStats(stack.identityProvider.url)).total;
    stack.graph.forgetCalls();
    await postEvent(stack, 'ItemCreated', { contentType: 'Contract' });
    await postEvent(stack, 'ItemCreated', { contentType: 'Amendment' });
    await postEvent(stack, 'ItemCreated', { contentType: 'Contract', n: 3 });
    // A refused refresh names no account, so all token calls are counted (nothing else runs meanwhile).
    const after = (await getTokenStats(stack.identityProvider.url)).total;
    expect(after - before).toBe(1);
    const runs = (await runsOf(stack, 'contract-intake')).slice(0, 3);
    expect(runs).toHaveLength(3);
    for (const run of runs) {
      expect(run.status).toBe('failed');
      expect(run.steps[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/re-authoriz/i) });
    }
    expect(stack.graph.calls).toHaveLength(0);
    expect((await getConnection(stack, made.approvals.id)).status).toBe('needs_reauth');
    const publish = await stack.api('processes/contract-intake/publish', { method: 'POST' });
    expect(publish.status).toBe(422);
    expect(publish.json.error.details[0].message).toContain('needs re-authorization');
  });
});
