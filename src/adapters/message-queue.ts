import { createHash } from 'node:crypto';
import type { QueueName } from '../config/queues';

/**
 * Service Bus refuses a MessageId or SessionId longer than 128 characters: the @azure/service-bus sender throws
 * before sending (core-amqp `Constants.maxMessageIdLength` / `maxSessionIdLength`, both 128; the .NET
 * `ServiceBusMessage.SessionId` reference says the same).
 */
export const maxMessageIdLength = 128;

/** Characters of a long id kept readable before its hash. */
const readablePrefix = 80;

/**
 * A message id from its parts (joined with ":"): kept as is when it fits in 128 characters, otherwise the first
 * 80 characters, "~", and the SHA-256 of the whole id (base64url, 43 characters) — 124 characters, stable for
 * duplicate detection, distinct for ids that differ anywhere.
 */
export function messageIdFor(...parts: string[]): string {
  const id = parts.join(':');
  if (id.length <= maxMessageIdLength) return id;
  return `${id.slice(0, readablePrefix)}~${createHash('sha256').update(id, 'utf8').digest('base64url')}`;
}

export interface OutgoingMessage {
  body: unknown;
  /** Stable per logical message: Service Bus duplicate detection drops resends with the same id. */
  messageId: string;
  /** Required on session-enabled queues (`process-steps`: the run id). */
  sessionId?: string;
  /** Deliver no earlier than this (retry backoff). */
  scheduledEnqueueTime?: Date;
  /** Small, non-secret metadata. */
  applicationProperties?: Record<string, string | number | boolean>;
}

/** Sends messages to the app's queues: Service Bus in Azure, the in-process bus locally. */
export interface MessageSender {
  send(queue: QueueName, messages: OutgoingMessage[]): Promise<void>;
  close?(): Promise<void>;
}
