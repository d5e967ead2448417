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
 * - scheduled enqueue time; the body handed to the handler is the parsed JSON body, and `context.triggerMetadata`
 *   has the host's names (first letter lower-cased, applied recursively as the Node worker does).
 * Not reproduced: message TTL, lock renewal beyond `lockDurationMs`, competing consumers, peek/defer.
 */
import { InvocationContext, type LogLevel } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { maxMessageIdLength, type MessageSender, type OutgoingMessage } from '../adapters/message-queue';
import { queueNames, queuesWithSessions, type QueueName } from '../config/queues';
import type { LocalFunction, LocalServiceBusTrigger } from './local-functions';

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
  /** Default 10 min, the queues' `duplicateDetectionHistoryTimeWindow`. */
  duplicateDetectionWindowMs?: number;
  /** Concurrent deliveries per queue (sessions or messages). Default 8. */
  concurrency?: number;
  /** `idle()` waits for scheduled messages due within this many ms (default 5 s); later ones do not keep it busy. */
  idleHorizonMs?: number;
}

export interface DeadLetter {
  queue: string;
  messageId: string;
  sessionId?: string;
  body: unknown;
  reason: string;
  description: string;
  deliveryCount: number;
  applicationProperties: Record<string, string | number | boolean>;
  deadLetteredAt: Date;
}

export interface QueueStats {
  /** Available now (not in flight, not scheduled). */
  queued: number;
  scheduled: number;
  inFlight: number;
  deliveries: number;
  completed: number;
  abandoned: number;
  deadLettered: number;
  duplicatesDropped: number;
}

export interface LocalServiceBus extends MessageSender {
  send(queue: QueueName, messages: OutgoingMessage[]): Promise<void>;
  /** Resolves once no message is available or in flight and none is scheduled within the horizon (queues with a trigger only). */
  idle(options?: { horizonMs?: number }): Promise<void>;
  deadLetters(queue?: string): DeadLetter[];
  stats(): Record<string, QueueStats>;
  /** Refuses further sends, drops scheduled messages and waits for in-flight handlers (each bounded by the lock). */
  close(): Promise<void>;
}

/** Errors shaped like the SDK's ServiceBusError (`code`), so callers can branch the same way. */
export class LocalServiceBusError extends Error {
  override readonly name = 'ServiceBusError';
  constructor(
    readonly code: 'MessagingEntityNotFound' | 'InvalidOperation' | 'MessageSizeExceeded' | 'GeneralError',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Standard tier's message size limit, 256 KB (learn.microsoft.com/azure/service-bus-messaging/service-bus-quotas;
 * infra/modules/service-bus.bicep uses Standard). Approximated from body + properties (the broker also counts headers).
 */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** Service Bus limit on MessageId and SessionId, which the SDK enforces client-side (see src/adapters/message-queue.ts). */
const MAX_ID_LENGTH = maxMessageIdLength;

interface StoredMessage {
  messageId: string;
  sessionId?: string;
  /** JSON text: each delivery parses a fresh copy, so neither the sender nor a failed handler can alter it. */
  json: string;
  applicationProperties: Record<string, string | number | boolean>;
  /** Deliveries so far. */
  deliveryCount: number;
  sequenceNumber: number;
  enqueuedTimeUtc: Date;
}

interface Queue {
  name: string;
  requiresSession: boolean;
  trigger?: LocalServiceBusTrigger;
  /** Available messages in sequence-number order (an abandoned message returns to its place). */
  available: StoredMessage[];
  scheduled: Map<NodeJS.Timeout, { due: number; message: Omit<StoredMessage, 'sequenceNumber' | 'enqueuedTimeUtc'> }>;
  /** Sessions with a message in flight: no other message of theirs may be delivered. */
  lockedSessions: Set<string>;
  inFlight: Set<Promise<void>>;
  /** messageId -> time it leaves the duplicate detection window. */
  seen: Map<string, number>;
  nextSequence: number;
  stats: Omit<QueueStats, 'queued' | 'scheduled' | 'inFlight'>;
}

const lowerFirst = (k: string) => k.charAt(0).toLowerCase() + k.slice(1);
/** What @azure/functions does to trigger metadata (converters/toCamelCase.ts): lower-case the first letter of every key, at every depth. */
const camelKeys = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(camelKeys)
    : v && typeof v === 'object'
      ? Object.fromEntries(Object.entries(v).map(([k, x]) => [lowerFirst(k), camelKeys(x)]))
      : v;

const defaultLog: LocalBusLog = (level, name, message) => console.log(`[${level}] ${name}: ${message}`);

/** The error's name and code only: messages can carry request details, and the HTTP host logs names only too. */
const describeError = (e: unknown) => {
  const err = e as { name?: unknown; code?: unknown } | null;
  const name = typeof err?.name === 'string' ? err.name : typeof e;
  return typeof err?.code === 'string' || typeof err?.code === 'number' ? `${name} (${err.code})` : name;
};

export function createLocalServiceBus(definitions: readonly LocalFunction[], options: LocalServiceBusOptions): LocalServiceBus {
  const maxDeliveryCount = options.maxDeliveryCount;
  if (!Number.isInteger(maxDeliveryCount) || maxDeliveryCount < 1) throw new RangeError('maxDeliveryCount must be a positive integer');
  const lockDurationMs = options.lockDurationMs ?? 10 * 60_000;
  const windowMs = options.duplicateDetectionWindowMs ?? 10 * 60_000;
  const concurrency = options.concurrency ?? 8;
  const defaultHorizonMs = options.idleHorizonMs ?? 5_000;
  const log = options.log ?? defaultLog;

  const queues = new Map<string, Queue>();
  const newQueue = (name: string, requiresSession: boolean): Queue => ({
    name,
    requiresSession,
    available: [],
    scheduled: new Map(),
    lockedSessions: new Set(),
    inFlight: new Set(),
    seen: new Map(),
    nextSequence: 1,
    stats: { deliveries: 0, completed: 0, abandoned: 0, deadLettered: 0, duplicatesDropped: 0 },
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
  const idleWaiters: { horizonMs: number; resolve: () => void }[] = [];
  // Scheduled timers are unref'd so the bus never holds a process open, but a pending idle() must: while anyone
  // waits, this ref'd timer keeps the event loop (and so the unref'd timers) alive.
  let keepAlive: NodeJS.Timeout | undefined;

  const isIdle = (horizonMs: number) => {
    const horizon = Date.now() + horizonMs;
    for (const q of queues.values()) {
      if (q.inFlight.size > 0) return false;
      if (!q.trigger) continue; // nothing will ever consume it; waiting would never end
      if (q.available.length > 0) return false;
      for (const s of q.scheduled.values()) if (s.due <= horizon) return false;
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

  const makeAvailable = (q: Queue, m: Omit<StoredMessage, 'sequenceNumber' | 'enqueuedTimeUtc'>) => {
    // Sequence number and enqueued time are assigned when the message becomes available, so a session's
    // scheduled message takes its place after the ones already waiting.
    q.available.push({ ...m, sequenceNumber: q.nextSequence++, enqueuedTimeUtc: new Date() });
  };

  const settle = (q: Queue, m: StoredMessage, outcome: 'complete' | 'abandon') => {
    if (m.sessionId !== undefined) q.lockedSessions.delete(m.sessionId);
    if (outcome === 'complete') {
      q.stats.completed++;
    } else if (m.deliveryCount >= maxDeliveryCount) {
      q.stats.deadLettered++;
      deadLetterList.push({
        queue: q.name,
        messageId: m.messageId,
        ...(m.sessionId !== undefined ? { sessionId: m.sessionId } : {}),
        body: JSON.parse(m.json),
        reason: 'MaxDeliveryCountExceeded',
        description: `Message could not be consumed after ${maxDeliveryCount} delivery attempts.`,
        deliveryCount: m.deliveryCount,
        applicationProperties: { ...m.applicationProperties },
        deadLetteredAt: new Date(),
      });
      log('warning', q.trigger?.name ?? q.name, `message ${m.messageId} dead-lettered after ${m.deliveryCount} deliveries`);
    } else {
      q.stats.abandoned++;
      // Back to its place by sequence number: first again on its session, and near the front of a plain queue.
      const at = q.available.findIndex((x) => x.sequenceNumber > m.sequenceNumber);
      q.available.splice(at < 0 ? q.available.length : at, 0, m);
    }
  };

  const deliver = (q: Queue, trigger: LocalServiceBusTrigger, m: StoredMessage) => {
    m.deliveryCount++;
    q.stats.deliveries++;
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

    const run = new Promise<'complete' | 'abandon' | 'lockLost'>((resolve) => {
      const timer = setTimeout(() => resolve('lockLost'), lockDurationMs);
      timer.unref();
      Promise.resolve()
        .then(() => trigger.handler(JSON.parse(m.json), context))
        .then(
          () => resolve('complete'),
          (e: unknown) => {
            log('error', trigger.name, `delivery ${m.deliveryCount}/${maxDeliveryCount} of ${m.messageId} failed: ${describeError(e)}`);
            resolve('abandon');
          },
        )
        .finally(() => clearTimeout(timer));
    });
    const tracked: Promise<void> = run.then((outcome) => {
      q.inFlight.delete(tracked);
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
    if (closed || !trigger) return;
    while (q.inFlight.size < concurrency) {
      const i = q.available.findIndex((m) => m.sessionId === undefined || !q.requiresSession || !q.lockedSessions.has(m.sessionId));
      if (i < 0) return;
      const [m] = q.available.splice(i, 1);
      if (q.requiresSession) q.lockedSessions.add(m.sessionId!);
      deliver(q, trigger, m);
    }
  };

  const toStored = (q: Queue, m: OutgoingMessage) => {
    if (typeof m.messageId !== 'string' || m.messageId.length === 0) throw new TypeError('messageId must be a non-empty string');
    // The SDK's own checks and wording (@azure/service-bus 7.9 toRheaMessage/updateMessageId): a plain Error, thrown
    // before anything is sent.
    if (m.messageId.length > MAX_ID_LENGTH) {
      throw new Error(`Length of 'messageId' property on the message cannot be greater than ${MAX_ID_LENGTH} characters.`);
    }
    if (m.sessionId !== undefined && typeof m.sessionId !== 'string') throw new TypeError('sessionId must be a string');
    if (m.sessionId !== undefined && m.sessionId.length > MAX_ID_LENGTH) {
      throw new Error(`Length of 'sessionId' property on the message cannot be greater than ${MAX_ID_LENGTH} characters.`);
    }
    if (q.requiresSession && !m.sessionId) {
      // Service Bus's own wording for this refusal.
      throw new LocalServiceBusError(
        'InvalidOperation',
        `The SessionId was not set on a message, and it cannot be sent to the entity. Entities that have session support enabled can only receive messages that have the SessionId set to a valid value. (queue ${q.name}, message ${m.messageId})`,
      );
    }
    const json = JSON.stringify(m.body);
    if (json === undefined) throw new TypeError(`message ${m.messageId}: body is not JSON-serializable`);
    const props = JSON.parse(JSON.stringify(m.applicationProperties ?? {})) as StoredMessage['applicationProperties'];
    if (Buffer.byteLength(json) + Buffer.byteLength(JSON.stringify(props)) > MAX_MESSAGE_BYTES) {
      throw new LocalServiceBusError(
        'MessageSizeExceeded',
        `message ${m.messageId} exceeds ${MAX_MESSAGE_BYTES} bytes (Service Bus Standard's 256 KB message size)`,
      );
    }
    const due = m.scheduledEnqueueTime?.getTime();
    if (due !== undefined && Number.isNaN(due)) throw new TypeError(`message ${m.messageId}: invalid scheduledEnqueueTime`);
    return {
      due,
      message: {
        messageId: m.messageId,
        ...(m.sessionId ? { sessionId: m.sessionId } : {}),
        json,
        applicationProperties: props,
        deliveryCount: 0,
      },
    };
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
      for (const { due, message } of stored) {
        if (q.seen.has(message.messageId)) {
          q.stats.duplicatesDropped++;
          continue;
        }
        q.seen.set(message.messageId, now + windowMs);
        if (due !== undefined && due > now) {
          const timer = setTimeout(() => {
            q.scheduled.delete(timer);
            makeAvailable(q, message);
            pump(q);
            checkIdle();
          }, due - now);
          timer.unref();
          q.scheduled.set(timer, { due, message });
        } else {
          makeAvailable(q, message);
        }
      }
      // Deliveries start after send returns, as they would from a remote broker.
      setImmediate(() => {
        pump(q);
        checkIdle();
      });
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
          { queued: q.available.length, scheduled: q.scheduled.size, inFlight: q.inFlight.size, ...q.stats },
        ]),
      );
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const q of queues.values()) {
        for (const timer of q.scheduled.keys()) clearTimeout(timer);
        q.scheduled.clear();
      }
      checkIdle();
      await Promise.all([...queues.values()].flatMap((q) => [...q.inFlight]));
    },
  };
  return bus;
}
