/**
 * A run's consecutive steps execute in one invocation while the batch budget lasts (issue 15): the run row is read
 * once per message, and recording one step's outcome and marking the next one running is one conditional write.
 * Safety is as with one step per message: a step is marked running before its action, and a crash between two
 * steps of a batch repeats no action.
 */
import { randomUUID } from 'node:crypto';
import { actionRegistry } from '../../src/actions';
import type { OutgoingMessage } from '../../src/adapters/message-queue';
import { tableNames } from '../../src/config/settings';
import { queueNames } from '../../src/config/queues';
import { CONTOSO_SVC_WORKPOINT, TENANT_A } from '../../src/local/identity-provider/directory';
import { ProcessRepository } from '../../src/processes/process-repository';
import type { Run } from '../../src/runs/run';
import { EventProcessor } from '../../src/runs/event-processor';
import type { StepMessage } from '../../src/runs/step-message';
import { StepRunner } from '../../src/runs/step-runner';
import { authorizeConnection } from '../support/connections';
import { saveAndPublish, testSubject } from '../support/runs';
import { useTally } from '../support/tally';
import { startTestStack, type TestStack } from '../support/test-stack';

const tally = useTally();
let stack: TestStack;
const PROCESS = 'four-steps';
const bodies = [{ A: 1 }, { B: 2 }, { C: 3 }, { D: 4 }];

beforeAll(async () => {
  stack = await startTestStack();
  await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  await saveAndPublish(stack, PROCESS, {
    name: 'Four steps',
    kind: 'system',
    triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.data.batch', op: 'exists' }] }],
    steps: bodies.map((fields, i) => ({ id: `s${i + 1}`, type: 'action', action: 'updateFields', inputs: { fields } })),
  });
});
afterAll(async () => {
  await stack?.stop();
});

const itemCalls = (itemId: string) => stack.graph.calls.filter((c) => c.path.includes(`/items/${itemId}/`));

/** Posts an event for `itemId` and answers the id of the run it starts, once the run exists (the bus is not awaited). */
async function startRun(itemId: string): Promise<string> {
  const res = await stack.api('events', {
    method: 'POST',
    body: { type: 'ItemCreated', subject: { ...testSubject, itemId }, data: { batch: true } },
  });
  expect(res.status).toBe(202);
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 10))) {
    const run = await stack.context.runs.findForEvent(TENANT_A.id, res.json.id, PROCESS);
    if (run) return run.id;
  }
  throw new Error('the run was not created');
}

/** Records the run-row reads and writes of `runId` while `work` runs; `failWrite` may throw to simulate a crash. */
async function watchingRows<T>(runId: () => string | undefined, work: () => Promise<T>, failWrite?: (run: Run) => boolean) {
  const runs = stack.context.runs;
  const { replace, getWithEtag } = runs;
  // By id, sorted out afterwards: the run id is known only once the run exists, and its steps may start before.
  const all: Run[] = [];
  const readIds: string[] = [];
  runs.getWithEtag = async function (this: typeof runs, tenantId: string, id: string) {
    readIds.push(id);
    return getWithEtag.call(this, tenantId, id);
  };
  runs.replace = async function (this: typeof runs, run: Run, etag: string) {
    all.push(run);
    if (run.subject.itemId.startsWith('batch-') && failWrite?.(run)) throw new Error('simulated crash before the write');
    return replace.call(this, run, etag);
  };
  try {
    const value = await work();
    const writes = all.filter((r) => r.id === runId());
    return { value, writes, reads: () => readIds.filter((id) => id === runId()).length };
  } finally {
    runs.replace = replace;
    runs.getWithEtag = getWithEtag;
  }
}

test('a run of four steps executes in one invocation: one run-row read, one write per step plus one', async () => {
  let runId: string | undefined;
  const before = stack.bus.stats()[queueNames.steps];
  const { writes, reads } = await watchingRows(
    () => runId,
    async () => {
      runId = await startRun('batch-1');
      await stack.bus.idle();
    },
  );
  const run = (await stack.context.runs.get(TENANT_A.id, runId!))!;
  expect(run.status).toBe('succeeded');
  expect(run.steps.map((s) => [s.status, s.attempts])).toEqual(bodies.map(() => ['succeeded', 1]));
  expect(itemCalls('batch-1').map((c) => c.body)).toEqual(bodies);
  expect(stack.bus.stats()[queueNames.steps].completed - before.completed).toBe(1);
  expect(reads()).toBe(1);
  // Each write records the step before (if any) and marks the next one running; the last records the last step.
  expect(writes.map((w) => w.steps.map((s) => s.status[0]).join(''))).toEqual(['rppp', 'srpp', 'ssrp', 'sssr', 'ssss']);
});

test('the batch budget ends mid-run: the run goes on in a new message from the step where it stopped, each action once', async () => {
  const ctx = stack.context;
  const processes = new ProcessRepository(stack.internals.tables, tableNames(ctx.settings).processes);
  // The run is started without the bus, so that its first message is handled by the runner below.
  const firsts: OutgoingMessage[] = [];
  const events = new EventProcessor({
    processes,
    runs: ctx.runs,
    connections: stack.internals.connectionRepository,
    sender: { send: async (_queue, messages) => void firsts.push(...messages) },
  });
  await events.handle({
    id: randomUUID(),
    type: 'ItemCreated',
    tenantId: TENANT_A.id,
    occurredAt: new Date().toISOString(),
    subject: { ...testSubject, itemId: 'batch-2' },
    data: { batch: true },
  });
  expect(firsts).toHaveLength(1);
  const first = firsts[0].body as StepMessage;
  const runId = first.runId;

  const sent: { stepIndex: number; messageId: string }[] = [];
  // A clock that moves one second per Graph call: a 2.5 s budget lets three steps start, then the batch hands over.
  const runner = new StepRunner({
    runs: ctx.runs,
    processes,
    connections: stack.internals.connectionRepository,
    broker: stack.internals.broker,
    userTokens: stack.internals.userTokens,
    sessions: stack.internals.userSessions,
    sender: {
      send: async (queue, messages) => {
        for (const m of messages) sent.push({ stepIndex: (m.body as StepMessage).stepIndex, messageId: m.messageId });
        return stack.bus.send(queue, messages);
      },
    },
    getAction: (name) => actionRegistry.get(name),
    graphBaseUrl: ctx.settings.GRAPH_BASE_URL,
    batchBudgetMs: 2500,
    elapsedMs: () => itemCalls('batch-2').length * 1000,
  });
  const { writes } = await watchingRows(
    () => runId,
    async () => {
      await runner.handle(first, { deliveryCount: 1, maxDeliveryCount: 10, sessionId: runId });
      const midway = (await ctx.runs.get(TENANT_A.id, runId))!;
      expect(midway.status).toBe('running');
      expect(midway.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'pending']);
      expect(sent).toEqual([{ stepIndex: 3, messageId: `${runId}:3` }]);
      await stack.bus.idle(); // the app's own runner takes the run's next message
    },
  );
  expect(writes.map((w) => w.steps.map((s) => s.status[0]).join(''))).toEqual(['rppp', 'srpp', 'ssrp', 'sssp', 'sssr', 'ssss']);
  const run = (await ctx.runs.get(TENANT_A.id, runId))!;
  expect(run.status).toBe('succeeded');
  expect(run.steps.map((s) => s.attempts)).toEqual([1, 1, 1, 1]);
  expect(itemCalls('batch-2').map((c) => c.body)).toEqual(bodies);
});

test('a crash between two steps of a batch (the write recording one and starting the next fails): no action runs twice', async () => {
  let runId: string | undefined;
  let crashes = 0;
  const { writes } = await watchingRows(
    () => runId,
    async () => {
      runId = await startRun('batch-3');
      await stack.bus.idle();
    },
    (run) => {
      // The write that records s2 and marks s3 running.
      const crash = crashes === 0 && run.steps[1].status === 'succeeded' && run.steps[2].status === 'running';
      if (crash) crashes++;
      return crash;
    },
  );
  expect(crashes).toBe(1);
  const run = (await stack.context.runs.get(TENANT_A.id, runId!))!;
  // s1 was recorded; s2's action happened but its record died with the crash: it is not repeated, and says why.
  expect(run.status).toBe('failed');
  expect(run.steps.map((s) => s.status)).toEqual(['succeeded', 'failed', 'pending', 'pending']);
  expect(run.steps[1].error).toMatch(/interrupted.*not repeated/i);
  const calls = itemCalls('batch-3');
  expect(calls.map((c) => c.body)).toEqual(bodies.slice(0, 2));
  // s3's action was never called: it is marked running (in that failed write) before it could be.
  expect(writes.filter((w) => w.steps[2].status === 'running')).toHaveLength(1);
  expect(stack.logs.some((l) => l.includes('Step failed unexpectedly') && l.includes('simulated crash'))).toBe(true);

  tally.record({
    kind: 'fault',
    category: 'Crash between two steps of one batch',
    tried: 2,
    handled: 2,
    faultsInjected: 1,
    lost: Math.abs(calls.length - 2),
  });
});
