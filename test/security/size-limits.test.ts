/**
 * Size limits of the real services, through the HTTP API and the queues of the local stack (Azurite, the in-process
 * bus with Service Bus's limits). Each limit is tried at the limit (accepted) and just beyond it (a clear refusal).
 * Sources of the numbers: docs/processes.md "Limits".
 */
import { randomUUID } from 'node:crypto';
import { queueNames } from '../../src/config/queues';
import { maxEventChars } from '../../src/events/product-event';
import { CONTOSO_SVC_WORKPOINT, TENANT_A } from '../../src/local/identity-provider/directory';
import { maxDefinitionChars } from '../../src/processes/process-repository';
import { authorizeConnection } from '../support/connections';
import { useTally } from '../support/tally';
import { startTestStack, type TestStack } from '../support/test-stack';

const tally = useTally();
let stack: TestStack;
const PROCESS = 'limits';

beforeAll(async () => {
  stack = await startTestStack();
  await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  const body = {
    name: 'Limits',
    kind: 'system',
    triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.data.kind', op: 'eq', value: 'limits' }] }],
    steps: [{ id: 'mark', type: 'action', action: 'updateFields', inputs: { fields: { Seen: true } } }],
  };
  expect((await stack.api(`processes/${PROCESS}`, { method: 'PUT', body })).status).toBe(200);
  expect((await stack.api(`processes/${PROCESS}/publish`, { method: 'POST' })).status).toBe(200);
});
afterAll(async () => {
  await stack?.stop();
});

const subject = { siteId: 'contoso.sharepoint.com,site-1', listId: 'list-1', itemId: '9' };

/** An event for PROCESS whose stored form (the validated event, tenant included) is `chars` characters of JSON. */
function eventOfSize(chars: number, id: string = randomUUID()) {
  const event = { id, type: 'ItemCreated', occurredAt: new Date().toISOString(), subject, data: { kind: 'limits', pad: '' } };
  const stored = JSON.stringify({ ...event, tenantId: TENANT_A.id }).length;
  event.data.pad = 'x'.repeat(chars - stored);
  return event;
}

const runOf = (event: { id: string }) => stack.context.runs.findForEvent(TENANT_A.id, event.id, PROCESS);
const deadLetterCount = async (queue: string) => (await stack.context.deadLetters.list(queue, 10_000)).length;

test('event ids up to 128 characters are accepted and start their run; longer ones are refused with 400', async () => {
  const prefix = 'e'.repeat(100);
  const events = [91, 92, 100, 127, 128].map((n) => eventOfSize(600, `${n}-${'i'.repeat(n - String(n).length - 1)}`));
  // Two long ids that differ only at the end must not be taken for duplicates of each other.
  events.push(eventOfSize(600, `${prefix}-a`), eventOfSize(600, `${prefix}-b`));
  for (const event of events) {
    const res = await stack.api('events', { method: 'POST', body: event });
    expect({ length: event.id.length, status: res.status }).toEqual({ length: event.id.length, status: 202 });
    expect(res.json.id).toBe(event.id);
  }
  await stack.bus.idle();
  for (const event of events) expect((await runOf(event))?.status).toBe('succeeded');

  const tooLong = await stack.api('events', { method: 'POST', body: eventOfSize(600, 'i'.repeat(129)) });
  expect(tooLong.status).toBe(400);
  expect(tooLong.json.error.details).toEqual([{ path: 'id', message: expect.stringMatching(/128/) }]);
  tally.record({
    kind: 'attack',
    category: 'Over-long ids and oversized payloads (Azure limits)',
    tried: 1,
    handled: 1,
    faultsInjected: 0,
    lost: 0,
  });
});

test(`an event of ${maxEventChars} characters runs; one character more is refused with 413 naming the limit, and nothing is queued`, async () => {
  const atLimit = eventOfSize(maxEventChars);
  const accepted = await stack.api('events', { method: 'POST', body: atLimit });
  expect(accepted.status).toBe(202);
  await stack.bus.idle();
  const run = await runOf(atLimit);
  expect(run?.status).toBe('succeeded');
  expect(JSON.stringify(run!.event).length).toBe(maxEventChars);

  const beyond = eventOfSize(maxEventChars + 1);
  const sentBefore = stack.bus.stats()[queueNames.events].deliveries;
  const refused = await stack.api('events', { method: 'POST', body: beyond });
  expect(refused.status).toBe(413);
  expect(refused.json.error.message).toMatch(new RegExp(`${maxEventChars.toLocaleString('en-US')}|${maxEventChars}`));
  await stack.bus.idle();
  expect(stack.bus.stats()[queueNames.events].deliveries).toBe(sentBefore);
  expect(await runOf(beyond)).toBeUndefined();

  // Larger than the API's request body limit: refused before it is parsed.
  const huge = await stack.api('events', { method: 'POST', body: eventOfSize(300_000) });
  expect(huge.status).toBe(413);
  tally.record({
    kind: 'attack',
    category: 'Over-long ids and oversized payloads (Azure limits)',
    tried: 2,
    handled: 2,
    faultsInjected: 0,
    lost: 0,
  });
});

test('an oversized event arriving on the queue is dead-lettered with the reason at its first delivery, never retried', async () => {
  const event = { ...eventOfSize(maxEventChars + 1), tenantId: TENANT_A.id };
  const deadBefore = await deadLetterCount(queueNames.events);
  const before = stack.bus.stats()[queueNames.events];
  await stack.bus.send(queueNames.events, [{ body: event, messageId: `oversized-${event.id}` }]);
  await stack.bus.idle();
  const after = stack.bus.stats()[queueNames.events];
  expect(after.deliveries - before.deliveries).toBe(1);
  expect(after.abandoned).toBe(before.abandoned);
  const dead = (await stack.context.deadLetters.list(queueNames.events, 10_000)).slice(
    0,
    (await deadLetterCount(queueNames.events)) - deadBefore,
  );
  expect(dead).toEqual([
    expect.objectContaining({ messageId: `oversized-${event.id}`, reason: expect.stringContaining(String(maxEventChars)) }),
  ]);
  expect(await runOf(event)).toBeUndefined();
  tally.record({ kind: 'fault', category: 'Messages too large to store', tried: 1, handled: 1, faultsInjected: 1, lost: 0 });
});

test(`a process definition of ${maxDefinitionChars} characters saves; one more is refused with 422 naming the limit; a huge body gets 413`, async () => {
  const base = {
    name: 'Big',
    kind: 'system',
    description: '',
    triggers: [{ event: 'ItemCreated' }],
    steps: [{ id: 'mark', type: 'action', action: 'updateFields', inputs: { fields: { Seen: true } } }],
  };
  const sized = (chars: number) => {
    const stored = JSON.stringify({ ...base, id: 'big' }).length;
    // The description is capped at 2000 characters; the rest goes into the inputs of the step.
    return {
      ...base,
      steps: [{ ...base.steps[0], inputs: { fields: { Seen: true, Notes: 'n'.repeat(chars - stored - ',"Notes":""'.length) } } }],
    };
  };
  const saved = await stack.api('processes/big', { method: 'PUT', body: sized(maxDefinitionChars) });
  expect(saved.status).toBe(200);
  expect(JSON.stringify(saved.json.draft).length).toBe(maxDefinitionChars);

  const refused = await stack.api('processes/big2', { method: 'PUT', body: sized(maxDefinitionChars + 1) });
  expect(refused.status).toBe(422);
  expect(refused.json.error).toMatchObject({ code: 'invalid' });
  expect(refused.json.error.details).toEqual([{ path: '', message: expect.stringContaining(String(maxDefinitionChars)) }]);
  expect((await stack.api('processes/big2')).status).toBe(404);

  const huge = await stack.api('processes/big3', { method: 'PUT', body: sized(400_000) });
  expect(huge.status).toBe(413);
  expect(huge.json.error.message).toMatch(/262144 bytes/);
  tally.record({
    kind: 'attack',
    category: 'Over-long ids and oversized payloads (Azure limits)',
    tried: 2,
    handled: 2,
    faultsInjected: 0,
    lost: 0,
  });
});
