import type { QueueName } from '../config/queues';

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
