/**
 * LOCAL ONLY. What the local bus (local-service-bus.ts) accepts from a sender, checked as Service Bus and its SDK check
 * it, and the shapes it keeps and reports.
 */
import { randomUUID } from 'node:crypto';
import { maxMessageIdLength, type OutgoingMessage } from '../adapters/message-queue';
import type { PersistedMessage } from './local-bus-store';

/** Errors shaped like the SDK's ServiceBusError (`code`), so callers can branch the same way. */
export class LocalServiceBusError extends Error {
  override readonly name = 'ServiceBusError';
  constructor(
    readonly code: 'MessagingEntityNotFound' | 'InvalidOperation' | 'MessageSizeExceeded' | 'GeneralError' | 'ServiceBusy',
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
  /** Held by a delivery of an earlier process (restored from the store) until its lock expires. */
  locked: number;
  /** Messages this process accepted (not dropped as duplicates) since the bus started, consumed or not. */
  accepted: number;
  deliveries: number;
  completed: number;
  abandoned: number;
  deadLettered: number;
  duplicatesDropped: number;
}

/** A message the bus holds: as its store keeps it (local-bus-store.ts), with the enqueue time as a Date. */
export interface StoredMessage extends Omit<PersistedMessage, 'enqueuedTimeUtc'> {
  enqueuedTimeUtc?: Date;
}

/** A message that became available: it has its sequence number and enqueued time. */
export type AvailableMessage = StoredMessage & { sequenceNumber: number; enqueuedTimeUtc: Date };

/** Validates an outgoing message for `queue` and copies it (the sender may change its objects afterwards). */
export function toStored(queue: { name: string; requiresSession: boolean }, m: OutgoingMessage): StoredMessage {
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
  if (queue.requiresSession && !m.sessionId) {
    // Service Bus's own wording for this refusal.
    throw new LocalServiceBusError(
      'InvalidOperation',
      `The SessionId was not set on a message, and it cannot be sent to the entity. Entities that have session support enabled can only receive messages that have the SessionId set to a valid value. (queue ${queue.name}, message ${m.messageId})`,
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
    key: randomUUID(),
    queue: queue.name,
    messageId: m.messageId,
    ...(m.sessionId ? { sessionId: m.sessionId } : {}),
    json,
    applicationProperties: props,
    deliveryCount: 0,
    ...(due !== undefined ? { scheduledEnqueueTime: due } : {}),
  };
}

const lowerFirst = (k: string) => k.charAt(0).toLowerCase() + k.slice(1);
/** What @azure/functions does to trigger metadata (converters/toCamelCase.ts): lower-case the first letter of every key, at every depth. */
export const camelKeys = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(camelKeys)
    : v && typeof v === 'object'
      ? Object.fromEntries(Object.entries(v).map(([k, x]) => [lowerFirst(k), camelKeys(x)]))
      : v;

/** The error's name and code only: messages can carry request details, and the HTTP host logs names only too. */
export const describeError = (e: unknown) => {
  const err = e as { name?: unknown; code?: unknown } | null;
  const name = typeof err?.name === 'string' ? err.name : typeof e;
  return typeof err?.code === 'string' || typeof err?.code === 'number' ? `${name} (${err.code})` : name;
};
