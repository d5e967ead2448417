/**
 * Traces (issue 17): a run continues the trace it was started in (the posting request's or the message's
 * `traceparent`), each Graph call of its steps sends `traceparent` with the run's trace id and a span id of its own,
 * and an in-memory OpenTelemetry exporter sees the spans of event intake, run creation, the step, token acquisition
 * and the Graph call, tagged with the ids and never a token.
 */
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { queueNames } from '../../src/config/queues';
import { CONTOSO_SVC_WORKPOINT, TENANT_A } from '../../src/local/identity-provider/directory';
import { parseTraceparent } from '../../src/shared/trace-context';
import { authorizeConnection } from '../support/connections';
import { latestRun, saveAndPublish, testSubject, type RunView } from '../support/runs';
import { startTestStack, type TestStack } from '../support/test-stack';

const exporter = new InMemorySpanExporter();
let stack: TestStack;
let connectionId: string;

const incomingTrace = '0af7651916cd43dd8448eb211c80319c';
const incomingParent = 'b7ad6b7169203331';

beforeAll(async () => {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  stack = await startTestStack();
  connectionId = (await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint')).id;
  await saveAndPublish(stack, 'traced', {
    name: 'Traced',
    kind: 'system',
    triggers: [{ event: 'ItemUpdated' }],
    steps: [{ id: 'mark', type: 'action', action: 'updateFields', inputs: { fields: { Seen: 'yes' } } }],
  });
});
afterAll(async () => {
  await stack?.stop();
  trace.disable();
});

async function post(headers: Record<string, string>): Promise<RunView> {
  const res = await stack.api('events', { method: 'POST', headers, body: { type: 'ItemUpdated', subject: testSubject, data: {} } });
  expect(res.status).toBe(202);
  await stack.bus.idle();
  return latestRun(stack, 'traced');
}

const graphCallsOf = (run: RunView) => stack.graph.calls.filter((c) => c.runHeader?.includes(run.id));
const spansOf = (traceId: string) => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
const byName = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

test("a posted event's traceparent continues into its run and on to the Graph call, with a span id of the call's own", async () => {
  const run = await post({ traceparent: `00-${incomingTrace}-${incomingParent}-01` });
  expect(run).toMatchObject({ status: 'succeeded', traceId: incomingTrace });

  const [call] = graphCallsOf(run);
  const sent = parseTraceparent(call?.traceparent);
  expect(sent).toMatchObject({ traceId: incomingTrace, sampled: true });
  expect(sent!.parentId).not.toBe(incomingParent);

  const spans = spansOf(incomingTrace);
  const [intake] = byName(spans, 'event intake');
  const [creation] = byName(spans, 'run creation');
  const [step] = byName(spans, 'step');
  const [token] = byName(spans, 'token acquisition');
  const [graph] = byName(spans, 'Graph PATCH');
  for (const s of [intake, creation, step, token, graph]) expect(s).toBeDefined();
  // One tree: request -> intake -> run creation -> step -> (token acquisition, Graph call).
  expect(parentOf(intake!)).toBe(incomingParent);
  expect(parentOf(creation!)).toBe(intake!.spanContext().spanId);
  expect(parentOf(step!)).toBe(creation!.spanContext().spanId);
  expect(parentOf(token!)).toBe(step!.spanContext().spanId);
  expect(parentOf(graph!)).toBe(step!.spanContext().spanId);
  // The header Graph got names the Graph call's own span.
  expect(sent!.parentId).toBe(graph!.spanContext().spanId);

  expect(creation!.attributes).toMatchObject({
    'connections.tenant.id': TENANT_A.id,
    'connections.process.id': 'traced',
    'connections.run.id': run.id,
  });
  expect(step!.attributes).toMatchObject({
    'connections.run.id': run.id,
    'connections.step.id': 'mark',
    'connections.connection.id': connectionId,
    'connections.account.name': CONTOSO_SVC_WORKPOINT.username,
  });
  expect(token!.attributes).toMatchObject({ 'connections.connection.id': connectionId, 'connections.token.source': expect.any(String) });
  expect(graph!.attributes).toMatchObject({ 'connections.run.id': run.id, 'connections.step.id': 'mark', 'http.request.method': 'PATCH' });

  // No token, code or assertion in any span: only ids and the account name.
  const recorded = JSON.stringify(exporter.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, status: s.status })));
  expect(recorded).not.toMatch(/eyJ[\w-]+\./);
  for (const secret of stack.secretsSeen.keys()) expect(recorded).not.toContain(secret);
});

test('an invalid traceparent is ignored: the event is accepted and its run gets a new trace', async () => {
  const run = await post({ traceparent: `00-${'0'.repeat(32)}-${incomingParent}-01` });
  expect(run.status).toBe('succeeded');
  expect(run.traceId).toMatch(/^[0-9a-f]{32}$/);
  expect(run.traceId).not.toBe('0'.repeat(32));
  expect(parseTraceparent(graphCallsOf(run)[0]?.traceparent)?.traceId).toBe(run.traceId);
});

test("a product message's Diagnostic-Id (Service Bus's trace property) continues into the run", async () => {
  const traceId = '5bf92f3577b34da6a3ce929d0e0e4736';
  const event = {
    id: 'traced-message-1',
    type: 'ItemUpdated',
    tenantId: TENANT_A.id,
    occurredAt: new Date().toISOString(),
    subject: testSubject,
    data: {},
  };
  await stack.bus.send(queueNames.events, [
    { body: event, messageId: 'traced-message-1', applicationProperties: { 'Diagnostic-Id': `00-${traceId}-${incomingParent}-01` } },
  ]);
  await stack.bus.idle();
  const run = await latestRun(stack, 'traced');
  expect(run).toMatchObject({ status: 'succeeded', traceId });
  expect(parseTraceparent(graphCallsOf(run)[0]?.traceparent)?.traceId).toBe(traceId);
});
