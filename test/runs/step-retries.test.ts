/**
 * A step whose action fails transiently is tried again by scheduled messages until the retry budget is spent. The
 * retries are counted across deliveries from the first failure: marking the step running before each try must not
 * reset the count (it did, so a Graph outage was retried forever as "retry 1").
 */
import { randomUUID } from 'node:crypto';
import { ActionError, defineAction } from '../../src/actions/action';
import type { OutgoingMessage } from '../../src/adapters/message-queue';
import { tableNames } from '../../src/config/settings';
import { CONTOSO_SVC_WORKPOINT, TENANT_A } from '../../src/local/identity-provider/directory';
import { ProcessRepository } from '../../src/processes/process-repository';
import { EventProcessor } from '../../src/runs/event-processor';
import type { StepMessage } from '../../src/runs/step-message';
import { StepRunner } from '../../src/runs/step-runner';
import { z } from 'zod';
import { authorizeConnection } from '../support/connections';
import { saveAndPublish, testSubject } from '../support/runs';
import { stackPerDescribe } from '../support/test-stack';

const setup = stackPerDescribe();
const PROCESS = 'flaky-graph';

test('an action failing transiently is retried as retry 1, 2, ... since its first failure, then gives up at the budget', async () => {
  const { stack } = setup;
  const ctx = stack.context;
  await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  await saveAndPublish(stack, PROCESS, {
    name: 'Flaky Graph',
    kind: 'system',
    triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.data.flaky', op: 'exists' }] }],
    steps: [{ id: 'patch', type: 'action', action: 'updateFields', inputs: { fields: { A: 1 } } }],
  });
  const processes = new ProcessRepository(stack.internals.tables, tableNames(ctx.settings).processes);
  const firsts: OutgoingMessage[] = [];
  await new EventProcessor({
    processes,
    runs: ctx.runs,
    connections: stack.internals.connectionRepository,
    sender: { send: async (_queue, messages) => void firsts.push(...messages) },
  }).handle({
    id: randomUUID(),
    type: 'ItemCreated',
    tenantId: TENANT_A.id,
    occurredAt: new Date().toISOString(),
    subject: { ...testSubject, itemId: 'flaky-1' },
    data: { flaky: true },
  });
  const first = firsts[0].body as StepMessage;

  // Graph answers 503 every time (the action's own in-call retries already spent).
  const flaky = defineAction({
    name: 'updateFields',
    description: 'fails transiently',
    inputs: z.unknown(),
    execute: async () => {
      throw new ActionError('transient', 'Microsoft Graph answered HTTP 503.', { status: 503 });
    },
  });
  const t0 = Date.parse('2030-01-01T00:00:00.000Z');
  let now = t0;
  const scheduled: OutgoingMessage[] = [];
  const runner = new StepRunner({
    runs: ctx.runs,
    processes,
    connections: stack.internals.connectionRepository,
    broker: stack.internals.broker,
    userTokens: stack.internals.userTokens,
    sessions: stack.internals.userSessions,
    sender: { send: async (_queue, messages) => void scheduled.push(...messages) },
    getAction: () => flaky,
    graphBaseUrl: ctx.settings.GRAPH_BASE_URL,
    now: () => new Date(now),
    stepRetry: { maxTotalMs: 60 * 60_000 },
  });
  const delivery = { deliveryCount: 1, maxDeliveryCount: 10, sessionId: first.runId };
  const waiting = async () => (await ctx.runs.get(TENANT_A.id, first.runId))!;

  const handled = [await runner.handle(first, delivery)];
  now += 10 * 60_000;
  handled.push(await runner.handle(first, delivery));
  now += 10 * 60_000;
  handled.push(await runner.handle(first, delivery));
  expect(handled.map((h) => h.retry?.attempt)).toEqual([1, 2, 3]);
  expect((await waiting()).waitingFor).toMatchObject({ kind: 'retrying', attempt: 3, since: new Date(t0).toISOString() });
  expect(scheduled.map((m) => m.messageId)).toEqual([1, 2, 3].map((n) => `${first.runId}:0:retry-${n}`));

  now = t0 + 60 * 60_000;
  expect(await runner.handle(first, delivery)).toEqual({});
  const run = await waiting();
  expect(run.status).toBe('failed');
  expect(run.waitingFor).toBeUndefined();
  expect(run.steps[0]).toMatchObject({
    status: 'failed',
    attempts: 4,
    error: 'Gave up after 4 tries over 60 min: Microsoft Graph answered HTTP 503.',
  });
});
