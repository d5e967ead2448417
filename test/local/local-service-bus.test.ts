import { InvocationContext } from '@azure/functions';
import type { FunctionDefinition, ServiceBusFunction } from '../../functions/registry';
import { queueNames, type QueueName } from '../../src/config/queues';
import { messageIdFor } from '../../src/adapters/message-queue';
import {
  createLocalServiceBus,
  LocalServiceBusError,
  MAX_MESSAGE_BYTES,
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const logs: string[] = [];
let bus: LocalServiceBus | undefined;
const start = (defs: FunctionDefinition[], opts: Partial<LocalServiceBusOptions> = {}) =>
  (bus = createLocalServiceBus(defs, { maxDeliveryCount: 5, log: (l, f, m) => logs.push(`${l} ${f} ${m}`), ...opts }));

afterEach(async () => {
  await bus?.close();
  bus = undefined;
  logs.length = 0;
});

interface Seen {
  body: unknown;
  meta: Record<string, unknown>;
}
const meta = (c: InvocationContext) => c.triggerMetadata as Record<string, unknown>;

describe('local Service Bus', () => {
  it('hands the handler the parsed body and host-shaped trigger metadata', async () => {
    const seen: Seen[] = [];
    let ctx: InvocationContext | undefined;
    const b = start([
      trigger(STEPS, async (body, context) => {
        ctx = context;
        seen.push({ body, meta: meta(context) });
        context.log('hello from', context.functionName);
      }),
    ]);
    await b.send(STEPS, [
      { messageId: 'm1', sessionId: 'run-1', body: { step: 's1', at: new Date(0) }, applicationProperties: { RunId: 'run-1', attempt: 2 } },
    ]);
    await b.idle();

    expect(ctx).toBeInstanceOf(InvocationContext);
    expect(ctx!.functionName).toBe(`on-${STEPS}`);
    expect(ctx!.invocationId).toMatch(/^[0-9a-f-]{36}$/);
    // The body went through JSON, as it does through Service Bus and the host: the Date is now a string.
    expect(seen[0].body).toEqual({ step: 's1', at: '1970-01-01T00:00:00.000Z' });
    expect(seen[0].meta).toMatchObject({
      messageId: 'm1',
      deliveryCount: 1,
      sessionId: 'run-1',
      sequenceNumber: 1,
      contentType: 'application/json',
      // The Node worker lower-cases the first letter of nested keys too.
      applicationProperties: { runId: 'run-1', attempt: 2 },
    });
    expect(new Date(seen[0].meta.enqueuedTimeUtc as string).toISOString()).toBe(seen[0].meta.enqueuedTimeUtc);
    expect(logs).toContain(`information on-${STEPS} hello from on-${STEPS}`);
    expect(b.stats()[STEPS]).toMatchObject({ queued: 0, inFlight: 0, deliveries: 1, completed: 1 });
  });

  it('copies messages on send and gives every delivery a fresh body', async () => {
    const bodies: unknown[] = [];
    const b = start([
      trigger(EVENTS, async (body) => {
        bodies.push(structuredClone(body));
        (body as { n: number }).n = 999; // must not leak into the redelivery
        if (bodies.length === 1) throw new Error('first try fails');
      }),
    ]);
    const body = { n: 1, list: [1] };
    const appProps = { k: 'v' };
    await b.send(EVENTS, [{ messageId: 'x', body, applicationProperties: appProps }]);
    body.n = 2;
    body.list.push(2);
    appProps.k = 'changed';
    await b.idle();
    expect(bodies).toEqual([
      { n: 1, list: [1] },
      { n: 1, list: [1] },
    ]);
  });

  it('handles a session strictly in order, one at a time, while sessions run in parallel', async () => {
    const order = new Map<string, number[]>();
    const active = new Map<string, number>();
    let running = 0;
    let maxRunning = 0;
    let maxPerSession = 0;
    const b = start(
      [
        trigger(STEPS, async (body, context) => {
          const { session, i } = body as { session: string; i: number };
          active.set(session, (active.get(session) ?? 0) + 1);
          maxPerSession = Math.max(maxPerSession, active.get(session)!);
          maxRunning = Math.max(maxRunning, ++running);
          await sleep(Math.random() * 4);
          order.set(session, [...(order.get(session) ?? []), i]);
          expect(meta(context).sessionId).toBe(session);
          active.set(session, active.get(session)! - 1);
          running--;
        }),
      ],
      { concurrency: 4 },
    );
    const sessions = ['a', 'b', 'c', 'd', 'e'];
    // Interleaved across sessions and sent in several calls.
    for (let i = 0; i < 12; i++) {
      await b.send(
        STEPS,
        sessions.map((s) => ({ messageId: `${s}-${i}`, sessionId: s, body: { session: s, i } })),
      );
    }
    await b.idle();
    for (const s of sessions) expect(order.get(s)).toEqual([...Array(12).keys()]);
    expect(maxPerSession).toBe(1);
    expect(maxRunning).toBe(4); // the queue's concurrency limit, reached only by running sessions side by side
  });

  it('runs different sessions concurrently (one blocked session does not stall others)', async () => {
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    const done: string[] = [];
    const b = start([
      trigger(STEPS, async (body) => {
        const { s } = body as { s: string };
        if (s === 'slow') await blocked;
        done.push(s);
      }),
    ]);
    await b.send(STEPS, [
      { messageId: '1', sessionId: 'slow', body: { s: 'slow' } },
      { messageId: '2', sessionId: 'fast-1', body: { s: 'fast-1' } },
      { messageId: '3', sessionId: 'fast-2', body: { s: 'fast-2' } },
    ]);
    await sleep(30);
    expect(done.sort()).toEqual(['fast-1', 'fast-2']);
    expect(b.stats()[STEPS].inFlight).toBe(1);
    release();
    await b.idle();
    expect(done).toContain('slow');
  });

  it('limits concurrent deliveries per plain queue', async () => {
    let running = 0;
    let max = 0;
    const b = start(
      [
        trigger(EVENTS, async () => {
          max = Math.max(max, ++running);
          await sleep(5);
          running--;
        }),
      ],
      { concurrency: 3 },
    );
    await b.send(
      EVENTS,
      [...Array(10).keys()].map((i) => ({ messageId: `e${i}`, body: i })),
    );
    await b.idle();
    expect(max).toBe(3);
    expect(b.stats()[EVENTS].completed).toBe(10);
  });

  it('redelivers an abandoned message with deliveryCount + 1, before later messages of its session', async () => {
    const log: string[] = [];
    const b = start([
      trigger(STEPS, async (body, context) => {
        const count = meta(context).deliveryCount as number;
        log.push(`${body as string}#${count}`);
        if (body === 'first' && count < 3) throw new Error('transient');
      }),
    ]);
    await b.send(STEPS, [
      { messageId: 'm1', sessionId: 'run', body: 'first' },
      { messageId: 'm2', sessionId: 'run', body: 'second' },
    ]);
    await b.idle();
    expect(log).toEqual(['first#1', 'first#2', 'first#3', 'second#1']);
    expect(b.stats()[STEPS]).toMatchObject({ deliveries: 4, abandoned: 2, completed: 2, deadLettered: 0 });
    // The failure is logged by error name only (messages can carry request details).
    expect(logs.filter((l) => l.startsWith('error'))).toEqual([
      `error on-${STEPS} delivery 1/5 of m1 failed: Error`,
      `error on-${STEPS} delivery 2/5 of m1 failed: Error`,
    ]);
  });

  it('dead-letters after maxDeliveryCount deliveries and then moves on to the rest of the session', async () => {
    const counts: number[] = [];
    const b = start(
      [
        trigger(STEPS, async (body, context) => {
          if (body === 'poison') {
            counts.push(meta(context).deliveryCount as number);
            throw new TypeError('bad message');
          }
        }),
      ],
      { maxDeliveryCount: 3 },
    );
    await b.send(STEPS, [
      { messageId: 'p', sessionId: 'run', body: 'poison', applicationProperties: { kind: 'step' } },
      { messageId: 'ok', sessionId: 'run', body: 'fine' },
    ]);
    await b.idle();
    expect(counts).toEqual([1, 2, 3]);
    expect(b.deadLetters()).toEqual([
      expect.objectContaining({
        queue: STEPS,
        messageId: 'p',
        sessionId: 'run',
        body: 'poison',
        reason: 'MaxDeliveryCountExceeded',
        description: 'Message could not be consumed after 3 delivery attempts.',
        deliveryCount: 3,
        applicationProperties: { kind: 'step' },
      }),
    ]);
    expect(b.deadLetters(EVENTS)).toEqual([]);
    expect(b.stats()[STEPS]).toMatchObject({ completed: 1, deadLettered: 1, abandoned: 2 });
  });

  it('drops a message whose id was seen within the duplicate detection window', async () => {
    const got: unknown[] = [];
    const b = start([trigger(EVENTS, async (body) => void got.push(body))], { duplicateDetectionWindowMs: 150 });
    await b.send(EVENTS, [
      { messageId: 'dup', body: 1 },
      { messageId: 'dup', body: 2 },
    ]);
    await b.send(EVENTS, [{ messageId: 'dup', body: 3 }]);
    await b.idle();
    expect(got).toEqual([1]);
    expect(b.stats()[EVENTS].duplicatesDropped).toBe(2);
    // Completion does not reset the window: it runs from the first send.
    await b.send(EVENTS, [{ messageId: 'dup', body: 4 }]);
    await b.idle();
    expect(got).toEqual([1]);
    await sleep(200);
    await b.send(EVENTS, [{ messageId: 'dup', body: 5 }]);
    await b.idle();
    expect(got).toEqual([1, 5]);
  });

  it('keeps duplicate detection per queue', async () => {
    const got: string[] = [];
    const b = start([trigger(EVENTS, async () => void got.push('e')), trigger(STEPS, async () => void got.push('s'))]);
    await b.send(EVENTS, [{ messageId: 'same', body: 1 }]);
    await b.send(STEPS, [{ messageId: 'same', sessionId: 'r', body: 1 }]);
    await b.idle();
    expect(got.sort()).toEqual(['e', 's']);
  });

  it('refuses a message without session id on a session queue, accepting none of the batch', async () => {
    const got: unknown[] = [];
    const b = start([trigger(STEPS, async (body) => void got.push(body))]);
    const err = await b
      .send(STEPS, [
        { messageId: 'a', sessionId: 'r', body: 'a' },
        { messageId: 'b', body: 'b' },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LocalServiceBusError);
    expect(err).toMatchObject({ code: 'InvalidOperation', message: expect.stringContaining('SessionId was not set') });
    await b.idle();
    expect(got).toEqual([]);
    // Nothing was recorded for duplicate detection either: the corrected resend goes through.
    await b.send(STEPS, [{ messageId: 'a', sessionId: 'r', body: 'a' }]);
    await b.idle();
    expect(got).toEqual(['a']);
  });

  it('refuses unknown queues, bad ids, non-JSON bodies and oversized messages', async () => {
    const b = start([]);
    await expect(b.send('nope' as QueueName, [{ messageId: 'a', body: 1 }])).rejects.toMatchObject({ code: 'MessagingEntityNotFound' });
    await expect(b.send(EVENTS, [{ messageId: '', body: 1 }])).rejects.toThrow(TypeError);
    await expect(b.send(EVENTS, [{ messageId: 'u', body: undefined }])).rejects.toThrow(/JSON/);
  });

  it('enforces Service Bus limits at the limit and beyond: ids of 128 characters, 256 KB messages', async () => {
    const got: unknown[] = [];
    const b = start([trigger(STEPS, async (body) => void got.push(body))]);
    const id128 = 'i'.repeat(128);
    // At the limit: accepted.
    await b.send(STEPS, [{ messageId: id128, sessionId: 's'.repeat(128), body: 'ids' }]);
    // Beyond: the SDK's own error, thrown before anything is sent (@azure/service-bus toRheaMessage).
    await expect(b.send(STEPS, [{ messageId: `${id128}x`, sessionId: 'r', body: 1 }])).rejects.toThrow(
      "Length of 'messageId' property on the message cannot be greater than 128 characters.",
    );
    await expect(b.send(STEPS, [{ messageId: 'ok', sessionId: 's'.repeat(129), body: 1 }])).rejects.toThrow(
      "Length of 'sessionId' property on the message cannot be greater than 128 characters.",
    );
    // 256 KB of body and properties (here: the JSON string's quotes and "{}") is accepted; one byte more is refused.
    const atSize = 'x'.repeat(MAX_MESSAGE_BYTES - 4);
    await b.send(STEPS, [{ messageId: 'at-size', sessionId: 'r', body: atSize }]);
    await expect(b.send(STEPS, [{ messageId: 'beyond-size', sessionId: 'r', body: `${atSize}x` }])).rejects.toMatchObject({
      code: 'MessageSizeExceeded',
    });
    await b.idle();
    expect(got).toEqual(['ids', atSize]);
  });

  it('message ids from long parts are hashed to at most 128 characters, stable and distinct', async () => {
    const short = messageIdFor('tenant', 'event-1');
    expect(short).toBe('tenant:event-1');
    const at = messageIdFor('t'.repeat(63), 'e'.repeat(64)); // 128 with the ":"
    expect(at).toHaveLength(128);
    expect(at).toBe(`${'t'.repeat(63)}:${'e'.repeat(64)}`);
    const long = messageIdFor('t'.repeat(36), `${'e'.repeat(100)}-a`);
    expect(long.length).toBeLessThanOrEqual(128);
    expect(long.startsWith(`${'t'.repeat(36)}:eee`)).toBe(true);
    expect(messageIdFor('t'.repeat(36), `${'e'.repeat(100)}-a`)).toBe(long);
    expect(messageIdFor('t'.repeat(36), `${'e'.repeat(100)}-b`)).not.toBe(long);
    // Accepted by the bus (and so by the SDK's checks).
    const b = start([]);
    await b.send(EVENTS, [{ messageId: long, body: 1 }]);
  });

  it('rejects trigger definitions that disagree with the queue session setting', () => {
    expect(() => createLocalServiceBus([{ ...trigger(EVENTS, async () => {}), isSessionsEnabled: true }], { maxDeliveryCount: 1 })).toThrow(
      /isSessionsEnabled/,
    );
    expect(() => createLocalServiceBus([{ ...trigger(STEPS, async () => {}), isSessionsEnabled: false }], { maxDeliveryCount: 1 })).toThrow(
      /isSessionsEnabled/,
    );
  });

  it('delivers scheduled messages no earlier than their time, in session order after what was waiting', async () => {
    const got: { body: unknown; at: number }[] = [];
    const b = start([trigger(STEPS, async (body) => void got.push({ body, at: Date.now() }))]);
    const t0 = Date.now();
    await b.send(STEPS, [
      { messageId: 'later', sessionId: 'r', body: 'later', scheduledEnqueueTime: new Date(t0 + 150) },
      { messageId: 'now', sessionId: 'r', body: 'now' },
      { messageId: 'past', sessionId: 'r', body: 'past', scheduledEnqueueTime: new Date(t0 - 1000) },
    ]);
    expect(b.stats()[STEPS].scheduled).toBe(1);
    await b.idle(); // the scheduled one is within the default horizon, so idle waits for it
    expect(got.map((g) => g.body)).toEqual(['now', 'past', 'later']);
    expect(got[2].at - t0).toBeGreaterThanOrEqual(145);
  });

  it('on a simulated clock, a message scheduled an hour ahead is delivered once the clock reaches its time, not before', async () => {
    let offset = 0;
    const now = () => Date.now() + offset;
    const got: { body: unknown; at: number }[] = [];
    const b = start([trigger(STEPS, async (body) => void got.push({ body, at: now() }))], { now, idleHorizonMs: 0 });
    const due = now() + 60 * 60_000;
    await b.send(STEPS, [
      { messageId: 'retry-2', sessionId: 'r', body: 'in an hour', scheduledEnqueueTime: new Date(due) },
      { messageId: 'retry-1', sessionId: 'r', body: 'in ten minutes', scheduledEnqueueTime: new Date(now() + 10 * 60_000) },
    ]);
    await b.idle();
    expect(b.stats()[STEPS]).toMatchObject({ scheduled: 2, queued: 0 });
    offset += 30 * 60_000;
    b.clockChanged();
    await b.idle();
    expect(got.map((g) => g.body)).toEqual(['in ten minutes']);
    expect(b.stats()[STEPS].scheduled).toBe(1);
    offset += 30 * 60_000;
    b.clockChanged();
    await b.idle();
    expect(got.map((g) => g.body)).toEqual(['in ten minutes', 'in an hour']);
    expect(got[1].at).toBeGreaterThanOrEqual(due);
    // A resend of a scheduled message (same id) within the window is a duplicate, as with any message.
    await b.send(STEPS, [{ messageId: 'retry-2', sessionId: 'r', body: 'again', scheduledEnqueueTime: new Date(now() + 1000) }]);
    expect(b.stats()[STEPS]).toMatchObject({ scheduled: 0, duplicatesDropped: 1 });
  });

  it('idle() ignores scheduled messages beyond its horizon', async () => {
    const got: unknown[] = [];
    const b = start([trigger(EVENTS, async (body) => void got.push(body))], { idleHorizonMs: 50 });
    await b.send(EVENTS, [{ messageId: 'far', body: 'far', scheduledEnqueueTime: new Date(Date.now() + 300) }]);
    await b.idle();
    expect(got).toEqual([]);
    expect(b.stats()[EVENTS]).toMatchObject({ scheduled: 1, queued: 0 });
    await b.idle({ horizonMs: 1000 });
    expect(got).toEqual(['far']);
  });

  it('idle() waits for chains of messages sent by handlers, and ignores queues without a trigger', async () => {
    const seen: number[] = [];
    const b: LocalServiceBus = start([
      trigger(STEPS, async (body) => {
        const n = body as number;
        seen.push(n);
        await sleep(2);
        if (n < 5) await b.send(STEPS, [{ messageId: `step-${n + 1}`, sessionId: 'run', body: n + 1 }]);
      }),
    ]);
    await b.send(queueNames.connectionEvents, [{ messageId: 'nobody-listens', body: {} }]);
    await b.idle(); // nothing to do: the connection-events message has no consumer
    await b.send(STEPS, [{ messageId: 'step-1', sessionId: 'run', body: 1 }]);
    await b.idle();
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(b.stats()[queueNames.connectionEvents].queued).toBe(1);
  });

  it('treats a handler that outlives the lock as abandoned', async () => {
    const counts: number[] = [];
    const b = start(
      [
        trigger(STEPS, (_body, context) => {
          counts.push(meta(context).deliveryCount as number);
          return new Promise<void>(() => {}); // never settles
        }),
      ],
      { lockDurationMs: 40, maxDeliveryCount: 2 },
    );
    await b.send(STEPS, [{ messageId: 'hang', sessionId: 'r', body: 'x' }]);
    await b.idle();
    expect(counts).toEqual([1, 2]);
    expect(b.deadLetters()).toMatchObject([{ messageId: 'hang', reason: 'MaxDeliveryCountExceeded', deliveryCount: 2 }]);
    expect(logs.some((l) => l.startsWith('warning') && l.includes('lock on hang expired'))).toBe(true);
  });

  it('refuses sends after close', async () => {
    const b = start([]);
    await b.close();
    await expect(b.send(EVENTS, [{ messageId: 'a', body: 1 }])).rejects.toThrow(/closed/);
    await b.idle(); // resolves at once
  });
});
