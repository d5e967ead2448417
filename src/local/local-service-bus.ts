/**
 * LOCAL ONLY. An in-process stand-in for Service Bus queues and the Functions Service Bus trigger, used by
 * the local instance and tests (configuration validation refuses the in-process bus outside local mode).
 *
 * It reproduces the semantics the run engine relies on, as Service Bus + the Functions host provide them:
 * - duplicate detection: a messageId seen on a queue within the window is dropped silently;
 * - sessions on session-enabled queues: one message of a session at a time, in order; sessions in parallel;
 *   a message without a session id is refused, as Service Bus refuses it;
 * - at-least-once: the handler returning completes the message, throwing abandons it; an abandoned message is
 *   redelivered with deliveryCount + 1 (before later messages of its session) and dead-lettered with reason
 *   `MaxDeliveryCountExceeded` after `maxDeliveryCount` deliveries; a handler that outlives the lock counts
 *   as abandoned (its late outcome is ignored, as a completion after lock loss fails in Azure);
 * - scheduled enqueue time: the message is accepted (and its id enters duplicate detection) when sent, and hidden from
 *   receivers until its time ("Service Bus will hide the message from receivers until the requested time",
 *   ServiceBusReceivedMessage.ScheduledEnqueueTime, Azure SDK for .NET reference); on the `now` clock, which tests may
 *   simulate; the body handed to the handler is the parsed JSON body, and `context.triggerMetadata`
 *   has the host's names (first letter lower-cased, applied recursively as the Node worker does).
 *
 * Durable when opened with a store (`openLocalServiceBus`, local-bus-store.ts; `npm start` keeps it in Azurite): a
 * send resolves once its messages are stored, so a message accepted before a crash is delivered after the restart.
 * What a restart finds is what Service Bus would have after its receiver died:
 * - a message whose delivery was in progress stays locked (with its session) until its lock expires, the queue's
 *   lockDuration after the last renewal (infra: PT1M; the host renews it while the function runs), then comes back;
 * - its delivery counts: "The count is incremented when a message lock expires, or the message is explicitly
 *   abandoned by the receiver" (ServiceBusReceivedMessage.DeliveryCount, learn.microsoft.com/dotnet/api/
 *   azure.messaging.servicebus.servicebusreceivedmessage.deliverycount; "This value starts at 1"), so one at
 *   maxDeliveryCount is dead-lettered instead ("The delivery count is increased when a message is received in PeekLock
 *   mode and didn't complete the message before the message lock expired", QueueProperties.MaxDeliveryCount);
 * - a session whose receiver died is "made available to other clients" only once its lock expires
 *   (SessionLockLostException, Service Bus Java SDK docs): later messages of that session wait for it;
 * - scheduled messages keep their enqueue time; duplicate detection keeps its window (it is the broker's).
 * Not reproduced: message TTL, competing consumers, peek/defer.
 */
import { InvocationContext, type LogLevel } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import type { MessageSender, OutgoingMessage } from '../adapters/message-queue';
import { outsideSpans } from '../shared/spans';
import { queueNames, queuesWithSessions, type QueueName } from '../config/queues';
import {
  camelKeys,
  describeError,
  LocalServiceBusError,
  toStored,
  type AvailableMessage,
  type DeadLetter,
  type QueueStats,
  type StoredMessage,
} from './local-bus-messages';
import type { LocalBusStore, PersistedDeadLetter, PersistedMessage } from './local-bus-store';
import type { LocalFunction, LocalServiceBusTrigger } from './local-functions';

export { LocalServiceBusError, MAX_MESSAGE_BYTES, type DeadLetter, type QueueStats } from './local-bus-messages';

export type LocalBusLog = (level: string, functionName: string, message: string) => void;

export interface LocalServiceBusOptions {
  /** Deliveries before dead-lettering; must equal SERVICE_BUS_MAX_DELIVERY_COUNT, as the queues' setting does in Azure. */
  maxDeliveryCount: number;
  log?: LocalBusLog;
  /** The connection setting the triggers name (functions/registry.ts's serviceBusConnection), as the host's trigger options carry it. */
  serviceBusConnection?: string;
  /**
   * How long a handler may run before its message counts as abandoned. Default 10 min: in Azure the host renews
   * the lock for up to host.json `maxAutoLockRenewalDuration` (10 min), which is also the function timeout.
   */
  lockDurationMs?: number;
  /**
   * The queues' `lockDuration` (infra/modules/service-bus.bicep: PT1M, the default here): how long a delivery's lock
   * lasts without renewal, so how long a message held by a process that died stays locked. Renewed at half of it while
   * the handler runs. Matters only with a store (a restart finds the lock).
   */
  queueLockDurationMs?: number;
  /** Default 10 min, the queues' `duplicateDetectionHistoryTimeWindow`. */
  duplicateDetectionWindowMs?: number;
  /** Concurrent deliveries per queue (sessions or messages). Default 8. */
  concurrency?: number;
  /** `idle()` waits for scheduled messages due within this many ms (default 5 s); later ones do not keep it busy. */
  idleHorizonMs?: number;
  /**
   * The broker's clock for scheduled messages (ms since the epoch; Date.now by default): a simulated one lets a test
   * ride out an outage of tens of minutes in seconds. Call `clockChanged()` after moving it. Locks and the duplicate
   * detection window keep the system clock.
   */
  now?: () => number;
}

export interface LocalServiceBus extends MessageSender {
  send(queue: QueueName, messages: OutgoingMessage[]): Promise<void>;
  /** Resolves once no message is available or in flight and none is scheduled within the horizon (queues with a trigger only). */
  idle(options?: { horizonMs?: number }): Promise<void>;
  deadLetters(queue?: string): DeadLetter[];
  stats(): Record<string, QueueStats>;
  /** Starts deliveries of a bus opened paused (`openLocalServiceBus`): once the app its triggers call is ready. */
  resume(): void;
  /** Refuses further sends, drops scheduled messages and waits for in-flight handlers (each bounded by the lock) and writes. */
  close(): Promise<void>;
  /** The `now` clock moved: scheduled messages whose time came are enqueued, the others wait for their time on it. */
  clockChanged(): void;
  /**
   * Stops the way a killed process stops, for tests of what a restart finds: nothing is delivered, settled or
   * written any more; handlers still running are left to themselves. Resolves once the writes already issued have
   * landed (as requests a killed process had sent still reach the store), so the next start finds them.
   */
  halt(): Promise<void>;
}

type Timed = Map<NodeJS.Timeout, { due: number; message: StoredMessage }>;

interface Queue {
  name: string;
  requiresSession: boolean;
  trigger?: LocalServiceBusTrigger;
  /** Available messages in sequence-number order (an abandoned message returns to its place). */
  available: AvailableMessage[];
  scheduled: Timed;
  /** Restored messages whose delivery (by a process that died) still holds the lock, until it expires. */
  held: Timed;
  /** Sessions with a message in flight or held: no other message of theirs may be delivered. */
  lockedSessions: Set<string>;
  inFlight: Set<Promise<void>>;
  /** messageId -> time it leaves the duplicate detection window. */
  seen: Map<string, number>;
  nextSequence: number;
  stats: Omit<QueueStats, 'queued' | 'scheduled' | 'inFlight' | 'locked'>;
}

const defaultLog: LocalBusLog = (level, name, message) => console.log(`[${level}] ${name}: ${message}`);

const toPersisted = (m: StoredMessage, deadLetter?: PersistedDeadLetter): PersistedMessage => ({
  key: m.key,
  queue: m.queue,
  messageId: m.messageId,
  ...(m.sessionId !== undefined ? { sessionId: m.sessionId } : {}),
  json: m.json,
  applicationProperties: m.applicationProperties,
  deliveryCount: m.deliveryCount,
  ...(m.sequenceNumber !== undefined ? { sequenceNumber: m.sequenceNumber, enqueuedTimeUtc: m.enqueuedTimeUtc!.toISOString() } : {}),
  ...(m.scheduledEnqueueTime !== undefined ? { scheduledEnqueueTime: m.scheduledEnqueueTime } : {}),
  ...(m.lockedUntil !== undefined ? { lockedUntil: m.lockedUntil } : {}),
  ...(deadLetter ? { deadLetter } : {}),
});

const fromPersisted = (p: PersistedMessage): StoredMessage => ({
  key: p.key,
  queue: p.queue,
  messageId: p.messageId,
  ...(p.sessionId !== undefined ? { sessionId: p.sessionId } : {}),
  json: p.json,
  applicationProperties: p.applicationProperties,
  deliveryCount: p.deliveryCount,
  ...(p.sequenceNumber !== undefined ? { sequenceNumber: p.sequenceNumber, enqueuedTimeUtc: new Date(p.enqueuedTimeUtc!) } : {}),
  ...(p.scheduledEnqueueTime !== undefined ? { scheduledEnqueueTime: p.scheduledEnqueueTime } : {}),
  ...(p.lockedUntil !== undefined ? { lockedUntil: p.lockedUntil } : {}),
});

/** An in-memory bus: what it holds dies with the process (unit tests). `openLocalServiceBus` is the durable one. */
export function createLocalServiceBus(definitions: readonly LocalFunction[], options: LocalServiceBusOptions): LocalServiceBus {
  return buildBus(definitions, options).bus;
}

/**
 * A bus whose messages live in `store` and survive a restart (see the top of this file). It comes back paused:
 * `resume()` starts deliveries once the app the triggers call is ready.
 */
export async function openLocalServiceBus(
  definitions: readonly LocalFunction[],
  options: LocalServiceBusOptions & { store: LocalBusStore },
): Promise<LocalServiceBus> {
  const loaded = await options.store.load();
  const { bus, restore } = buildBus(definitions, options, options.store);
  await restore(loaded);
  return bus;
}

function buildBus(definitions: readonly LocalFunction[], options: LocalServiceBusOptions, store?: LocalBusStore) {
  const maxDeliveryCount = options.maxDeliveryCount;
  if (!Number.isInteger(maxDeliveryCount) || maxDeliveryCount < 1) throw new RangeError('maxDeliveryCount must be a positive integer');
  const lockDurationMs = options.lockDurationMs ?? 10 * 60_000;
  const queueLockMs = options.queueLockDurationMs ?? 60_000;
  const windowMs = options.duplicateDetectionWindowMs ?? 10 * 60_000;
  const concurrency = options.concurrency ?? 8;
  const defaultHorizonMs = options.idleHorizonMs ?? 5_000;
  const log = options.log ?? defaultLog;
  const clock = options.now ?? Date.now;

  const queues = new Map<string, Queue>();
  const newQueue = (name: string, requiresSession: boolean): Queue => ({
    name,
    requiresSession,
    available: [],
    scheduled: new Map(),
    held: new Map(),
    lockedSessions: new Set(),
    inFlight: new Set(),
    seen: new Map(),
    nextSequence: 1,
    stats: { accepted: 0, deliveries: 0, completed: 0, abandoned: 0, deadLettered: 0, duplicatesDropped: 0 },
  });
  // The queues exist whether or not a trigger reads them, as in Azure (infra creates them all).
  for (const name of Object.values(queueNames)) queues.set(name, newQueue(name, queuesWithSessions.includes(name)));
  for (const d of definitions) {
    if (d.kind !== 'serviceBus') continue;
    let q = queues.get(d.queueName);
    if (!q) queues.set(d.queueName, (q = newQueue(d.queueName, d.isSessionsEnabled)));
    // In Azure a mismatch fails at runtime (a session receiver on a plain queue, or the reverse): fail at start instead.
    if (q.requiresSession !== d.isSessionsEnabled) {
      throw new Error(`${d.name}: isSessionsEnabled must be ${q.requiresSession} for queue ${d.queueName} (see src/config/queues.ts)`);
    }
    if (q.trigger) throw new Error(`${d.name}: queue ${d.queueName} already has trigger ${q.trigger.name}; one trigger per queue`);
    q.trigger = d;
  }

  const deadLetterList: DeadLetter[] = [];
  let closed = false;
  let halted = false;
  let paused = store !== undefined;
  const idleWaiters: { horizonMs: number; resolve: () => void }[] = [];
  // Scheduled timers are unref'd so the bus never holds a process open, but a pending idle() must: while anyone
  // waits, this ref'd timer keeps the event loop (and so the unref'd timers) alive.
  let keepAlive: NodeJS.Timeout | undefined;

  /** The store's writes of one message, in order (a late lock renewal must not overwrite its dead-lettering). */
  const writes = new Map<string, Promise<void>>();
  const write = (m: StoredMessage, op: 'update' | 'remove', deadLetter?: PersistedDeadLetter): Promise<void> => {
    if (!store || halted) return Promise.resolve();
    const snapshot = toPersisted(m, deadLetter);
    // A write issued before a halt still lands, as bytes already sent by a process that is then killed do.
    const next = (writes.get(m.key) ?? Promise.resolve())
      .then(() => (op === 'update' ? store.update(snapshot) : store.remove(snapshot)))
      .catch((e: unknown) => log('warning', m.queue, `could not store the state of message ${m.messageId}: ${describeError(e)}`));
    writes.set(m.key, next);
    void next.then(() => {
      if (writes.get(m.key) === next) writes.delete(m.key);
      if (writes.size === 0) checkIdle();
    });
    return next;
  };

  const isIdle = (horizonMs: number) => {
    if (writes.size > 0) return false;
    for (const q of queues.values()) {
      if (q.inFlight.size > 0) return false;
      if (!q.trigger) continue; // nothing will ever consume it; waiting would never end
      if (q.available.length > 0) return false;
      for (const s of q.scheduled.values()) if (s.due <= clock() + horizonMs) return false;
      for (const s of q.held.values()) if (s.due <= Date.now() + horizonMs) return false;
    }
    return true;
  };

  const checkIdle = () => {
    for (let i = idleWaiters.length - 1; i >= 0; i--) {
      if (closed || isIdle(idleWaiters[i].horizonMs)) idleWaiters.splice(i, 1)[0].resolve();
    }
    if (idleWaiters.length === 0 && keepAlive) {
      clearInterval(keepAlive);
      keepAlive = undefined;
    }
  };

  /** Back to its place by sequence number: first again on its session, and near the front of a plain queue. */
  const insertAvailable = (q: Queue, m: AvailableMessage) => {
    const at = q.available.findIndex((x) => x.sequenceNumber > m.sequenceNumber);
    q.available.splice(at < 0 ? q.available.length : at, 0, m);
  };

  const assignSequence = (q: Queue, m: StoredMessage): AvailableMessage => {
    m.sequenceNumber = q.nextSequence++;
    m.enqueuedTimeUtc = new Date();
    return m as AvailableMessage;
  };

  /** A scheduled message whose time came. It is numbered now, so a session's scheduled message takes its place after the ones already waiting. */
  const enqueueScheduled = (q: Queue, m: StoredMessage) => {
    const available = assignSequence(q, m);
    void write(available, 'update');
    q.available.push(available);
  };

  const schedule = (q: Queue, m: StoredMessage, due: number) => {
    const timer = setTimeout(
      () => {
        q.scheduled.delete(timer);
        enqueueScheduled(q, m);
        pump(q);
        checkIdle();
      },
      Math.max(0, due - clock()),
    );
    timer.unref();
    q.scheduled.set(timer, { due, message: m });
  };

  const deadLetter = (q: Queue, m: StoredMessage) => {
    const description = `Message could not be consumed after ${maxDeliveryCount} delivery attempts.`;
    const deadLetteredAt = new Date();
    q.stats.deadLettered++;
    deadLetterList.push({
      queue: q.name,
      messageId: m.messageId,
      ...(m.sessionId !== undefined ? { sessionId: m.sessionId } : {}),
      body: JSON.parse(m.json),
      reason: 'MaxDeliveryCountExceeded',
      description,
      deliveryCount: m.deliveryCount,
      applicationProperties: { ...m.applicationProperties },
      deadLetteredAt,
    });
    log('warning', q.trigger?.name ?? q.name, `message ${m.messageId} dead-lettered after ${m.deliveryCount} deliveries`);
    m.lockedUntil = undefined;
    return write(m, 'update', { reason: 'MaxDeliveryCountExceeded', description, deadLetteredAt: deadLetteredAt.toISOString() });
  };

  /**
   * A delivery ended without completing (abandoned, handler outlived the lock, or the lock of a dead process expired).
   * Memory changes at once; the store's write follows in this message's write order.
   */
  const releaseUncompleted = (q: Queue, m: AvailableMessage) => {
    if (m.deliveryCount >= maxDeliveryCount) return void deadLetter(q, m);
    m.lockedUntil = undefined;
    void write(m, 'update');
    insertAvailable(q, m);
  };

  const settle = (q: Queue, m: AvailableMessage, outcome: 'complete' | 'abandon') => {
    if (m.sessionId !== undefined) q.lockedSessions.delete(m.sessionId);
    if (outcome === 'complete') {
      // Not awaited (it would delay the session's next message by a store round trip): a crash before it lands
      // redelivers the message after the restart, which at-least-once allows (a completion can be lost in Azure too).
      void write(m, 'remove');
      q.stats.completed++;
    } else {
      if (m.deliveryCount < maxDeliveryCount) q.stats.abandoned++;
      releaseUncompleted(q, m);
    }
  };

  const deliver = (q: Queue, trigger: LocalServiceBusTrigger, m: AvailableMessage) => {
    m.deliveryCount++;
    q.stats.deliveries++;
    m.lockedUntil = Date.now() + queueLockMs;
    // Issued before the handler runs, not awaited (a store round trip per delivery would slow every step): the
    // handler's own first call to storage goes out after it, so a crash during the handler's work still counts the
    // delivery and finds the message locked.
    void write(m, 'update');
    const invocationId = randomUUID();
    const lockedUntil = new Date(Date.now() + lockDurationMs);
    const triggerMetadata = camelKeys({
      MessageId: m.messageId,
      DeliveryCount: m.deliveryCount,
      ...(m.sessionId !== undefined ? { SessionId: m.sessionId } : {}),
      SequenceNumber: m.sequenceNumber,
      EnqueuedTimeUtc: m.enqueuedTimeUtc.toISOString(),
      LockedUntilUtc: lockedUntil.toISOString(),
      ContentType: 'application/json',
      ApplicationProperties: { ...m.applicationProperties },
      // The host also passes the older name for the same dictionary.
      UserProperties: { ...m.applicationProperties },
    }) as Record<string, unknown>;
    const context = new InvocationContext({
      invocationId,
      functionName: trigger.name,
      triggerMetadata,
      options: {
        trigger: {
          type: 'serviceBusTrigger',
          name: 'message',
          queueName: q.name,
          ...(options.serviceBusConnection ? { connection: options.serviceBusConnection } : {}),
          isSessionsEnabled: q.requiresSession,
        },
      },
      logHandler: (level: LogLevel, ...args: unknown[]) => log(level, trigger.name, args.map(String).join(' ')),
    });

    const run = Promise.resolve().then(() =>
      halted
        ? new Promise<never>(() => undefined) // a killed process calls nothing any more
        : new Promise<'complete' | 'abandon' | 'lockLost'>((resolve) => {
            const timer = setTimeout(() => resolve('lockLost'), lockDurationMs);
            timer.unref();
            // The host renews the lock while the function runs (up to maxAutoLockRenewalDuration, the timer above).
            const renewal = setInterval(() => {
              m.lockedUntil = Date.now() + queueLockMs;
              void write(m, 'update');
            }, queueLockMs / 2);
            renewal.unref();
            Promise.resolve()
              .then(() => trigger.handler(JSON.parse(m.json), context))
              .then(
                () => resolve('complete'),
                (e: unknown) => {
                  log(
                    'error',
                    trigger.name,
                    `delivery ${m.deliveryCount}/${maxDeliveryCount} of ${m.messageId} failed: ${describeError(e)}`,
                  );
                  resolve('abandon');
                },
              )
              .finally(() => {
                clearTimeout(timer);
                clearInterval(renewal);
              });
          }),
    );
    const tracked: Promise<void> = run.then((outcome) => {
      q.inFlight.delete(tracked);
      if (halted) return;
      if (outcome === 'lockLost') {
        log('warning', trigger.name, `lock on ${m.messageId} expired after ${lockDurationMs} ms; the message is redelivered`);
      }
      settle(q, m, outcome === 'complete' ? 'complete' : 'abandon');
      pump(q);
      checkIdle();
    });
    q.inFlight.add(tracked);
  };

  /** Starts deliveries up to the concurrency limit: the earliest message whose session is not already in flight. */
  const pump = (q: Queue) => {
    const trigger = q.trigger;
    if (closed || paused || !trigger) return;
    while (q.inFlight.size < concurrency) {
      const i = q.available.findIndex((m) => m.sessionId === undefined || !q.requiresSession || !q.lockedSessions.has(m.sessionId));
      if (i < 0) return;
      const [m] = q.available.splice(i, 1);
      if (q.requiresSession) q.lockedSessions.add(m.sessionId!);
      deliver(q, trigger, m);
    }
  };

  /** A restored message still locked by a delivery of the process that died: it and its session wait for the lock to expire. */
  const hold = (q: Queue, m: AvailableMessage, until: number) => {
    if (m.sessionId !== undefined) q.lockedSessions.add(m.sessionId);
    const timer = setTimeout(() => {
      q.held.delete(timer);
      log('warning', q.trigger?.name ?? q.name, `lock on ${m.messageId} held by an earlier process expired; the message is redelivered`);
      if (m.sessionId !== undefined) q.lockedSessions.delete(m.sessionId);
      releaseUncompleted(q, m);
      pump(q);
      checkIdle();
    }, until - Date.now());
    timer.unref();
    q.held.set(timer, { due: until, message: m });
  };

  const restore = async (loaded: Awaited<ReturnType<LocalBusStore['load']>>) => {
    const now = Date.now();
    const forget = new Map<string, string[]>();
    for (const d of loaded.duplicates) {
      const q = queues.get(d.queue);
      if (q && d.until > now) q.seen.set(d.messageId, d.until);
      else forget.set(d.queue, [...(forget.get(d.queue) ?? []), d.messageId]);
    }
    for (const [queue, ids] of forget) await store!.forgetDuplicates(queue, ids);

    const dueWhileDown: [Queue, StoredMessage][] = [];
    const expiredLocks: [Queue, AvailableMessage][] = [];
    for (const p of loaded.messages) {
      const q = queues.get(p.queue);
      if (!q) continue;
      const m = fromPersisted(p);
      if (p.deadLetter) {
        deadLetterList.push({
          queue: q.name,
          messageId: m.messageId,
          ...(m.sessionId !== undefined ? { sessionId: m.sessionId } : {}),
          body: JSON.parse(m.json),
          ...p.deadLetter,
          deliveryCount: m.deliveryCount,
          applicationProperties: m.applicationProperties,
          deadLetteredAt: new Date(p.deadLetter.deadLetteredAt),
        });
        continue;
      }
      if (m.sequenceNumber === undefined) {
        if (m.scheduledEnqueueTime !== undefined && m.scheduledEnqueueTime > clock()) schedule(q, m, m.scheduledEnqueueTime);
        else dueWhileDown.push([q, m]);
        continue;
      }
      const available = m as AvailableMessage;
      q.nextSequence = Math.max(q.nextSequence, available.sequenceNumber + 1);
      if (m.lockedUntil === undefined) insertAvailable(q, available);
      else if (m.lockedUntil > now) hold(q, available, m.lockedUntil);
      else expiredLocks.push([q, available]);
    }
    for (const [q, m] of expiredLocks) releaseUncompleted(q, m);
    dueWhileDown.sort(([, a], [, b]) => (a.scheduledEnqueueTime ?? 0) - (b.scheduledEnqueueTime ?? 0));
    for (const [q, m] of dueWhileDown) enqueueScheduled(q, m);
    await Promise.all(writes.values());
  };

  const bus: LocalServiceBus = {
    async send(queueName, messages) {
      if (closed) throw new LocalServiceBusError('GeneralError', 'The local Service Bus has been closed');
      const q = queues.get(queueName);
      if (!q) throw new LocalServiceBusError('MessagingEntityNotFound', `The messaging entity '${queueName}' could not be found`);
      // Validate all before accepting any: a batch send is all-or-nothing in Service Bus.
      const stored = messages.map((m) => toStored(q, m));
      const now = Date.now();
      for (const [id, until] of q.seen) if (until <= now) q.seen.delete(id);
      const accepted: StoredMessage[] = [];
      for (const message of stored) {
        if (q.seen.has(message.messageId)) {
          q.stats.duplicatesDropped++;
          continue;
        }
        q.seen.set(message.messageId, now + windowMs);
        // Numbered at acceptance (a scheduled one when its time comes), so a restart restores the order.
        if (message.scheduledEnqueueTime === undefined || message.scheduledEnqueueTime <= clock()) assignSequence(q, message);
        accepted.push(message);
      }
      if (store && accepted.length > 0) {
        try {
          await store.accept(
            q.name,
            accepted.map((m) => toPersisted(m)),
            accepted.map((m) => ({ queue: q.name, messageId: m.messageId, until: now + windowMs })),
          );
        } catch (e) {
          for (const m of accepted) q.seen.delete(m.messageId);
          throw new LocalServiceBusError('ServiceBusy', `The local Service Bus could not store the messages: ${describeError(e)}`);
        }
      }
      q.stats.accepted += accepted.length;
      for (const message of accepted) {
        if (message.sequenceNumber === undefined) schedule(q, message, message.scheduledEnqueueTime!);
        else insertAvailable(q, message as AvailableMessage);
      }
      // Deliveries start after send returns, as they would from a remote broker, and outside the sender's span: in Azure
      // each delivery is an invocation of its own.
      setImmediate(() =>
        outsideSpans(() => {
          pump(q);
          checkIdle();
        }),
      );
    },

    idle({ horizonMs = defaultHorizonMs } = {}) {
      if (closed || isIdle(horizonMs)) return Promise.resolve();
      keepAlive ??= setInterval(() => undefined, 60_000);
      return new Promise<void>((resolve) => idleWaiters.push({ horizonMs, resolve }));
    },

    deadLetters(queue) {
      return deadLetterList
        .filter((d) => queue === undefined || d.queue === queue)
        .map((d) => ({ ...d, body: structuredClone(d.body), applicationProperties: { ...d.applicationProperties } }));
    },

    stats() {
      return Object.fromEntries(
        [...queues.values()].map((q) => [
          q.name,
          { queued: q.available.length, scheduled: q.scheduled.size, inFlight: q.inFlight.size, locked: q.held.size, ...q.stats },
        ]),
      );
    },

    clockChanged() {
      if (closed) return;
      for (const q of queues.values()) {
        const waiting = [...q.scheduled.entries()].sort(([, a], [, b]) => a.due - b.due);
        for (const [timer, { due, message }] of waiting) {
          clearTimeout(timer);
          q.scheduled.delete(timer);
          schedule(q, message, due);
        }
      }
      checkIdle();
    },

    resume() {
      if (!paused) return;
      paused = false;
      for (const q of queues.values()) pump(q);
      checkIdle();
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const q of queues.values()) {
        for (const timer of [...q.scheduled.keys(), ...q.held.keys()]) clearTimeout(timer);
        q.scheduled.clear();
        q.held.clear();
      }
      checkIdle();
      await Promise.all([...queues.values()].flatMap((q) => [...q.inFlight]));
      await Promise.all(writes.values());
    },

    async halt() {
      halted = true;
      closed = true;
      for (const q of queues.values()) {
        for (const timer of [...q.scheduled.keys(), ...q.held.keys()]) clearTimeout(timer);
      }
      checkIdle();
      await Promise.all(writes.values());
    },
  };
  return { bus, restore };
}
