/**
 * Deep JSON (outside review, finding 5): about 9 KB of nested brackets in event `data` answered 500, and at ~4,100
 * levels an event was accepted and its run never ran. Every free JSON value (event data, step inputs, condition
 * values; run inputs are flat by their schema) is bounded at 32 levels where it enters: 400 at the API, a dead letter
 * with the reason on the queue. (A run that still throws `RangeError` in a step: test/security/run-execution-attacks.)
 */
import { randomUUID } from 'node:crypto';
import { queueNames } from '../../src/config/queues';
import { tableNames } from '../../src/config/settings';
import { CONTOSO_ADMIN } from '../../src/local/identity-provider/directory';
import { DeadLetterLog } from '../../src/runs/dead-letters';
import { useTally } from '../support/tally';
import { startTestStack, type TestStack } from '../support/test-stack';

const tally = useTally();
let stack: TestStack;
const tablesPrefix = `t${randomUUID().slice(0, 8)}`;
const subject = { siteId: 'contoso.sharepoint.com,site-1', listId: 'list-1', itemId: '7' };

beforeAll(async () => {
  stack = await startTestStack({ tablesPrefix });
});
afterAll(async () => {
  await stack?.stop();
});

/** `levels` nested arrays around 1, as JSON text (a body is sent as text: the test never builds the deep value). */
const nestedText = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;
const post = (route: string, method: string, body: string) =>
  fetch(`${stack.baseUrl}/api/${route}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body,
  });
let adminToken: string;

test('deep values in event data, step inputs and condition values are refused at the API with 400 naming the bound; 32 levels pass', async () => {
  adminToken = await stack.tokenFor(CONTOSO_ADMIN);
  const event = (levels: number) => `{"type":"ItemCreated","subject":${JSON.stringify(subject)},"data":{"x":${nestedText(levels - 1)}}}`;
  const process = (inputs: string, value = '1') =>
    `{"name":"Deep","kind":"system","triggers":[{"event":"ItemCreated","conditions":[{"path":"event.data.x","op":"eq","value":${value}}]}],` +
    `"steps":[{"id":"s","type":"action","action":"updateFields","inputs":${inputs}}]}`;
  const attacks: [string, string, string][] = [
    ['events', 'POST', event(4500)], // ~9 KB: answered 500
    ['events', 'POST', event(4100)], // accepted, then the run never ran
    ['events', 'POST', event(33)],
    ['processes/deep', 'PUT', process(`{"fields":{"A":"x"},"extra":${nestedText(4500)}}`)],
    ['processes/deep', 'PUT', process(`{"fields":{"A":"x"},"extra":${nestedText(40)}}`)],
    ['processes/deep', 'PUT', process('{"fields":{"A":"x"}}', nestedText(4500))],
  ];
  let refused = 0;
  for (const [route, method, body] of attacks) {
    const res = await post(route, method, body);
    const json = (await res.json()) as { error?: { message: string; details?: { message: string }[] } };
    expect({ route, status: res.status }).toEqual({ route, status: 400 });
    expect(JSON.stringify(json.error?.details)).toMatch(/nests deeper than 32 levels/);
    if (res.status === 400) refused++;
  }
  // At the bound: 32 levels of event data are accepted.
  expect((await post('events', 'POST', event(32))).status).toBe(202);
  await stack.bus.idle();
  tally.record({
    kind: 'attack',
    category: 'Deep JSON: nesting bounded, RangeError is poison',
    tried: attacks.length,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});

test('a deep event sent to the queue by the product is dead-lettered with the reason at its first delivery', async () => {
  let deep: unknown = 1;
  for (let i = 0; i < 4100; i++) deep = [deep];
  const id = randomUUID();
  const before = stack.bus.stats()[queueNames.events]!;
  await stack.bus.send(queueNames.events, [
    {
      body: { id, type: 'ItemCreated', tenantId: CONTOSO_ADMIN.tenantId, occurredAt: new Date().toISOString(), subject, data: { x: deep } },
      messageId: id,
    },
  ]);
  await stack.bus.idle();
  const after = stack.bus.stats()[queueNames.events]!;
  const letters = await new DeadLetterLog(stack.internals.tables, tableNames({ TABLES_PREFIX: tablesPrefix }).deadLetters).list(
    queueNames.events,
  );
  const letter = letters.find((l) => l.messageId === id);
  expect(after.deliveries - before.deliveries).toBe(1);
  expect(letter?.reason).toMatch(/nests deeper than 32 levels/);
  tally.record({
    kind: 'attack',
    category: 'Deep JSON: nesting bounded, RangeError is poison',
    tried: 1,
    handled: letter ? 1 : 0,
    faultsInjected: 0,
    lost: 0,
  });
});
