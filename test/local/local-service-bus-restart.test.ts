/**
 * The local bus with its store in Azurite: what a process that dies leaves behind is what Service Bus would still hold
 * (issue 16, item 5). Each test "kills" a bus with halt() (nothing more is settled or written, as after SIGKILL) and
 * opens another on the same table, as `npm start` does after a crash. (A real SIGKILL of the whole local instance is in
 * test/faults/local-instance-crash.test.ts.)
 */
import { InvocationContext } from '@azure/functions';
import { randomBytes } from 'node:crypto';
import type { ServiceBusFunction } from '../../functions/registry';
import { queueNames, type QueueName } from '../../src/config/queues';
import { startAzurite, type LocalAzurite } from '../../src/local/azurite';
import { createTableBusStore, type LocalBusStore } from '../../src/local/local-bus-store';
import {
  MAX_MESSAGE_BYTES,
  openLocalServiceBus,
  type LocalServiceBus,
  type LocalServiceBusOptions,
} from '../../src/local/local-service-bus';

const STEPS = queueNames.steps; // session-enabled
const EVENTS = queueNames.events; // plain

type Handler = ServiceBusFunction['handler'];
const trigger = (queueName: QueueName, handler: Handler): ServiceBusFunction => ({
  kind: 'serviceBus',
  name: `on-${queueName}`,
  queueName,
  isSessionsEnabled: queueName === STEPS,
  handler,
});
const meta = (c: InvocationContext) => c.triggerMetadata as Record<string, unknown>;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const never = () => new Promise<void>(() => undefined);

let azurite: LocalAzurite;
let store: LocalBusStore;
const buses: LocalServiceBus[] = [];
const logs: string[] = [];

beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(async () => {
  await azurite?.stop();
});
beforeEach(async () => {
  store = await createTableBusStore(azurite.connectionString, `bus${randomBytes(4).toString('hex')}`);
});
afterEach(async () => {
  for (const b of buses.splice(0)) await b.close();
  logs.length = 0;
});

/** Opens a bus on this test's store; its deliveries start at resume(). */
async function open(defs: ServiceBusFunction[], opts: Partial<LocalServiceBusOptions> = {}) {
  const bus = await openLocalServiceBus(defs, { maxDeliveryCount: 5, log: (l, f, m) => logs.push(`${l} ${f} ${m}`), ...opts, store });
  buses.push(bus);
  return bus;
}

interface Delivery {
  body: unknown;
  messageId: string;
  deliveryCount: number;
  sessionId?: string;
  at: number;
}
const record =
  (into: Delivery[], then: (body: unknown) => Promise<void> | void = () => undefined): Handler =>
  async (body, context) => {
    const m = meta(context);
    into.push({
      body,
      messageId: m.messageId as string,
      deliveryCount: m.deliveryCount as number,
      ...(m.sessionId ? { sessionId: m.sessionId as string } : {}),
      at: Date.now(),
    });
    await then(body);
  };

test('a message accepted before the process died is delivered after the restart, once', async () => {
  // The first process accepts the messages but dies before any delivery (its triggers never run).
  const first = await openLocalServiceBus([trigger(EVENTS, never)], { maxDeliveryCount: 5, store });
  await first.send(EVENTS, [
    { messageId: 'e1', body: { n: 1 }, applicationProperties: { kind: 'event' } },
    { messageId: 'e2', body: { n: 2 } },
  ]);
  await first.halt();

  const got: Delivery[] = [];
  const second = await open([trigger(EVENTS, record(got))]);
  expect(second.stats()[EVENTS].queued).toBe(2);
  second.resume();
  await second.idle();
  expect(got.map((d) => [d.messageId, d.body, d.deliveryCount])).toEqual([
    ['e1', { n: 1 }, 1],
    ['e2', { n: 2 }, 1],
  ]);
  await second.halt();

  // Completed messages are gone from the store: a third start delivers nothing.
  const again: Delivery[] = [];
  const third = await open([trigger(EVENTS, record(again))]);
  third.resume();
  await third.idle();
  expect(again).toEqual([]);
  expect(third.stats()[EVENTS]).toMatchObject({ queued: 0, locked: 0 });
});

test('keeps the order of a session across a restart', async () => {
  const first = await openLocalServiceBus([trigger(STEPS, never)], { maxDeliveryCount: 5, store });
  for (let i = 0; i < 12; i++) {
    await first.send(STEPS, [
      { messageId: `a-${i}`, sessionId: 'a', body: i },
      { messageId: `b-${i}`, sessionId: 'b', body: i },
    ]);
  }
  await first.halt();
  const got: Delivery[] = [];
  const second = await open(
    [
      trigger(
        STEPS,
        record(got, () => sleep(Math.random() * 3)),
      ),
    ],
    { concurrency: 2 },
  );
  second.resume();
  await second.idle();
  for (const s of ['a', 'b']) expect(got.filter((d) => d.sessionId === s).map((d) => d.body)).toEqual([...Array(12).keys()]);
});

test('a delivery cut off by the crash: the message and its session stay locked until the lock expires, then it comes back with its count', async () => {
  const lockMs = 2000; // long enough that a slow start under load still finds it locked
  let started!: () => void;
  const inFlight = new Promise<void>((r) => (started = r));
  const first = await openLocalServiceBus(
    [
      trigger(STEPS, async () => {
        started();
        await never();
      }),
    ],
    { maxDeliveryCount: 5, store, queueLockDurationMs: lockMs },
  );
  first.resume();
  await first.send(STEPS, [
    { messageId: 'm1', sessionId: 'run', body: 'first' },
    { messageId: 'm2', sessionId: 'run', body: 'second' },
  ]);
  await inFlight;
  const lockedBy = Date.now(); // the delivery took its lock before this
  await first.halt();

  const got: Delivery[] = [];
  const second = await open([trigger(STEPS, record(got))], { queueLockDurationMs: lockMs });
  expect(second.stats()[STEPS]).toMatchObject({ locked: 1, queued: 1 });
  second.resume();
  await second.send(STEPS, [{ messageId: 'o1', sessionId: 'other', body: 'other' }]);
  await sleep(50);
  // Another session is not held up; the cut-off one (and the rest of its session) waits for its lock.
  expect(got.map((d) => d.body)).toEqual(['other']);
  await second.idle();
  expect(got.map((d) => [d.body, d.deliveryCount])).toEqual([
    ['other', 1],
    ['first', 2], // the cut-off delivery counted
    ['second', 1],
  ]);
  // Not before the lock expired: it was taken at most a few ms before lockedBy, for lockMs.
  expect(got[1].at).toBeGreaterThanOrEqual(lockedBy + lockMs - 100);
  expect(logs.some((l) => l.includes('lock on m1 held by an earlier process expired'))).toBe(true);
});

test('a lock renewed while the handler runs keeps the message locked after a crash', async () => {
  const lockMs = 300;
  let started!: () => void;
  const inFlight = new Promise<void>((r) => (started = r));
  const first = await openLocalServiceBus(
    [
      trigger(EVENTS, async () => {
        started();
        await never();
      }),
    ],
    { maxDeliveryCount: 5, store, queueLockDurationMs: lockMs },
  );
  first.resume();
  await first.send(EVENTS, [{ messageId: 'long', body: 'long' }]);
  await inFlight;
  await sleep(lockMs * 2); // the handler runs on; its lock is renewed
  await first.halt();
  const renewedAt = Date.now();
  const got: Delivery[] = [];
  const second = await open([trigger(EVENTS, record(got))], { queueLockDurationMs: lockMs });
  expect(second.stats()[EVENTS].locked).toBe(1);
  second.resume();
  await second.idle();
  expect(got.map((d) => d.deliveryCount)).toEqual([2]);
  // Renewed at half the lock duration: the last renewal was at most lockMs/2 before the crash.
  expect(got[0].at - renewedAt).toBeGreaterThanOrEqual(lockMs / 2 - 20);
});

test('crashes at the last delivery dead-letter the message, and the dead letter survives restarts', async () => {
  const lockMs = 100;
  const crashOnce = async () => {
    let started!: () => void;
    const inFlight = new Promise<void>((r) => (started = r));
    const bus = await openLocalServiceBus(
      [
        trigger(EVENTS, async () => {
          started();
          await never();
        }),
      ],
      { maxDeliveryCount: 2, store, queueLockDurationMs: lockMs },
    );
    bus.resume();
    return { bus, inFlight };
  };
  // Delivery 1 dies with the process.
  const one = await crashOnce();
  await one.bus.send(EVENTS, [{ messageId: 'poison', body: { p: 1 }, applicationProperties: { why: 'crash' } }]);
  await one.inFlight;
  await one.bus.halt();
  // After the lock expired, delivery 2 (the last) dies too.
  const two = await crashOnce();
  await two.inFlight;
  await two.bus.halt();
  // The third process finds the lock of the last delivery expired: dead letter, no third delivery.
  const got: Delivery[] = [];
  const three = await open([trigger(EVENTS, record(got))], { maxDeliveryCount: 2, queueLockDurationMs: lockMs });
  three.resume();
  await three.idle();
  expect(got).toEqual([]);
  const expected = {
    queue: EVENTS,
    messageId: 'poison',
    body: { p: 1 },
    reason: 'MaxDeliveryCountExceeded',
    deliveryCount: 2,
    applicationProperties: { why: 'crash' },
  };
  expect(three.deadLetters()).toEqual([expect.objectContaining(expected)]);
  await three.halt();
  const four = await open([trigger(EVENTS, record(got))], { maxDeliveryCount: 2 });
  four.resume();
  await four.idle();
  expect(got).toEqual([]);
  expect(four.deadLetters()).toEqual([expect.objectContaining(expected)]);
});

test('scheduled messages keep their enqueue time across a restart; one due while down is delivered at start', async () => {
  const t0 = Date.now();
  const first = await openLocalServiceBus([trigger(STEPS, never)], { maxDeliveryCount: 5, store });
  await first.send(STEPS, [
    { messageId: 'soon', sessionId: 'r', body: 'soon', scheduledEnqueueTime: new Date(t0 + 100) },
    { messageId: 'later', sessionId: 'r', body: 'later', scheduledEnqueueTime: new Date(t0 + 3000) },
  ]);
  await first.halt();
  await sleep(200); // "soon" comes due while no process runs
  const got: Delivery[] = [];
  const second = await open([trigger(STEPS, record(got))]);
  expect(second.stats()[STEPS]).toMatchObject({ queued: 1, scheduled: 1 });
  second.resume();
  await second.idle();
  expect(got.map((d) => d.body)).toEqual(['soon', 'later']);
  expect(got[1].at - t0).toBeGreaterThanOrEqual(2995);
});

test('duplicate detection keeps its window across a restart', async () => {
  const got: Delivery[] = [];
  const first = await open([trigger(EVENTS, record(got))], { duplicateDetectionWindowMs: 60_000 });
  first.resume();
  await first.send(EVENTS, [{ messageId: 'once', body: 1 }]);
  await first.idle();
  await first.halt();
  const second = await open([trigger(EVENTS, record(got))], { duplicateDetectionWindowMs: 60_000 });
  second.resume();
  await second.send(EVENTS, [{ messageId: 'once', body: 2 }]);
  await second.idle();
  expect(got.map((d) => d.body)).toEqual([1]);
  expect(second.stats()[EVENTS].duplicatesDropped).toBe(1);
});

test('a 256 KB message and its properties come back intact from the store', async () => {
  const body = { text: 'é'.repeat(MAX_MESSAGE_BYTES / 2 - 40) }; // two bytes each in UTF-8: at the limit
  const first = await openLocalServiceBus([trigger(EVENTS, never)], { maxDeliveryCount: 5, store });
  await first.send(EVENTS, [{ messageId: 'big', body, applicationProperties: { a: 'x', n: 3, b: true } }]);
  await first.halt();
  const got: { body: unknown; props: unknown }[] = [];
  const second = await open([
    trigger(EVENTS, async (b, context) => void got.push({ body: b, props: meta(context).applicationProperties })),
  ]);
  second.resume();
  await second.idle();
  expect(got).toEqual([{ body, props: { a: 'x', n: 3, b: true } }]);
});

test('a send the store refuses is refused to the sender, and nothing of it is kept', async () => {
  const failing: LocalBusStore = { ...store, accept: () => Promise.reject(new Error('Azurite is down')) };
  const bus = await openLocalServiceBus([trigger(EVENTS, never)], { maxDeliveryCount: 5, store: failing });
  buses.push(bus);
  await expect(bus.send(EVENTS, [{ messageId: 'x', body: 1 }])).rejects.toMatchObject({ name: 'ServiceBusError', code: 'ServiceBusy' });
  expect(bus.stats()[EVENTS]).toMatchObject({ queued: 0, duplicatesDropped: 0 });
});

test('ids and bodies with line breaks, quotes and non-ASCII characters are stored, and later sends still work', async () => {
  // Azurite failed a transaction holding U+2028, and every later one on the same client (found by
  // test/security/event-intake-attacks.test.ts): the store keeps its properties ASCII.
  const odd = ['evt-1\n[error] forged', 'evt-2\r[x]', 'evt-3\u2028x', "evt-4' or 1 eq 1", 'evt/5', 'évt 6 ✓'];
  const first = await openLocalServiceBus([trigger(STEPS, never)], { maxDeliveryCount: 5, store });
  for (const [i, id] of odd.entries()) {
    await first.send(STEPS, [{ messageId: id, sessionId: `${id}-s`, body: { id, i }, applicationProperties: { id } }]);
  }
  await first.halt();
  const got: Delivery[] = [];
  const second = await open([trigger(STEPS, record(got))]);
  second.resume();
  await second.idle();
  expect(got.map((d) => [d.messageId, d.sessionId, d.body]).sort()).toEqual(odd.map((id, i) => [id, `${id}-s`, { id, i }]).sort());
});
