/**
 * One run = one trace, read back the way the page reads it (`GET /api/runs/{id}/trace`, from the local instance's span
 * recorder): event intake -> run creation -> each step (each its own steps-run invocation, joined to the run's trace
 * by the step message's `traceparent`/`Diagnostic-Id`) -> token acquisition and the Graph call, with parent links and
 * durations. Outgoing HTTP the app does not wrap itself (MSAL's token endpoint) is a dependency span of the span that
 * made it.
 */
import type { OutgoingMessage } from '../../src/adapters/message-queue';
import { queueNames, type QueueName } from '../../src/config/queues';
import { CONTOSO_SVC_WORKPOINT } from '../../src/local/identity-provider/directory';
import { localSpanRecorder } from '../../src/local/span-recorder';
import type { RecordedSpan } from '../../src/shared/recorded-spans';
import { parseTraceparent } from '../../src/shared/trace-context';
import { authorizeConnection } from '../support/connections';
import { latestRun, saveAndPublish, testSubject } from '../support/runs';
import { startTestStack, type TestStack } from '../support/test-stack';

let stack: TestStack;
let connectionId: string;
const stepMessages: OutgoingMessage[] = [];

beforeAll(async () => {
  // One step per message (no batching): each step is its own steps-run invocation, as under load.
  stack = await startTestStack({ env: { STEP_BATCH_BUDGET_SECONDS: '0' } });
  const send = stack.bus.send.bind(stack.bus);
  stack.bus.send = async (queue: QueueName, messages: OutgoingMessage[]) => {
    if (queue === queueNames.steps) stepMessages.push(...messages);
    return send(queue, messages);
  };
  connectionId = (await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint')).id;
  await saveAndPublish(stack, 'two-steps', {
    name: 'Two steps',
    kind: 'system',
    triggers: [{ event: 'ItemUpdated' }],
    steps: [
      { id: 'first', type: 'action', action: 'updateFields', inputs: { fields: { Seen: 'yes' } } },
      { id: 'second', type: 'action', action: 'updateFields', inputs: { fields: { Checked: 'yes' } } },
    ],
  });
});
afterAll(async () => {
  await stack?.stop();
});

test('a run with two steps is one trace: intake -> creation -> each step -> token acquisition and Graph call', async () => {
  const traceId = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
  const posted = await stack.api('events', {
    method: 'POST',
    headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    body: { type: 'ItemUpdated', subject: testSubject, data: {} },
  });
  expect(posted.status).toBe(202);
  await stack.bus.idle();
  const run = await latestRun(stack, 'two-steps');
  expect(run).toMatchObject({ status: 'succeeded', traceId });

  // Each step message carries the run's trace, so the Functions host puts each steps-run invocation in its operation.
  const sent = stepMessages.filter((m) => (m.body as { runId: string }).runId === run.id);
  expect(sent).toHaveLength(2);
  for (const m of sent) {
    expect(parseTraceparent(m.applicationProperties?.traceparent)?.traceId).toBe(traceId);
    expect(m.applicationProperties?.['Diagnostic-Id']).toBe(m.applicationProperties?.traceparent);
  }

  const res = await stack.api(`runs/${run.id}/trace`);
  expect(res.status).toBe(200);
  expect(res.json).toMatchObject({ runId: run.id, traceId, recorded: true });
  const spans = res.json.spans as RecordedSpan[];
  const named = (name: string) => spans.filter((s) => s.name === name);
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const parentName = (s: RecordedSpan) => (s.parentSpanId ? (byId.get(s.parentSpanId)?.name ?? 'outside the trace') : 'root');

  const [intake] = named('event intake');
  const [creation] = named('run creation');
  const steps = named('step');
  expect(parentName(intake!)).toBe('outside the trace'); // the posting request's span
  expect(creation!.parentSpanId).toBe(intake!.spanId);
  expect(steps.map((s) => [s.attributes['connections.step.id'], s.parentSpanId])).toEqual([
    ['first', creation!.spanId],
    ['second', creation!.spanId],
  ]);
  for (const step of steps) {
    const children = spans.filter((s) => s.parentSpanId === step.spanId).map((s) => s.name);
    expect(children).toEqual(expect.arrayContaining(['token acquisition', 'Graph PATCH']));
    expect(step.attributes).toMatchObject({ 'connections.run.id': run.id, 'connections.connection.id': connectionId });
  }
  // Durations: each child fits in its parent's time.
  for (const s of spans.filter((x) => x.parentSpanId && byId.has(x.parentSpanId))) {
    const parent = byId.get(s.parentSpanId!)!;
    expect(s.durationMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(s.start)).toBeGreaterThanOrEqual(Date.parse(parent.start) - 1);
  }
  expect(spans.every((s) => s.status !== 'error')).toBe(true);
  expect(JSON.stringify(spans)).not.toMatch(/eyJ[\w-]+\./);
});

test("a token refresh's call to the token endpoint is a dependency span of its token acquisition", async () => {
  const test = await stack.api(`connections/${connectionId}/test`, { method: 'POST' });
  expect(test.json.ok).toBe(true);
  const acquisitions = localSpanRecorder().find(
    (s) => s.name === 'token acquisition' && s.attributes['connections.connection.id'] === connectionId,
  );
  const calls = localSpanRecorder().find(
    (s) => s.kind === 'client' && s.name === 'HTTP POST' && acquisitions.some((a) => a.spanId === s.parentSpanId),
  );
  expect(calls.length).toBeGreaterThanOrEqual(1);
  expect(calls[0].attributes).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 200 });
  expect(String(calls[0].attributes['url.full'])).toMatch(/token/);
  expect(String(calls[0].attributes['url.full'])).not.toContain('?');
});

test('an unknown run is not found, a malformed id refused', async () => {
  expect((await stack.api('runs/8203466648238-0000000000000000/trace')).status).toBe(404);
  expect((await stack.api('runs/not-a-run-id/trace')).status).toBe(400);
});
