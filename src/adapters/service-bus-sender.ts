import type { TokenCredential } from '@azure/identity';
import type { ServiceBusClient, ServiceBusClientOptions, ServiceBusMessage, ServiceBusSender } from '@azure/service-bus';
import type { QueueName } from '../config/queues';
import type { MessageSender, OutgoingMessage } from './message-queue';

/** `@azure/service-bus`, loaded on first use (docs/performance.md, "SDKs on first use", says why this way). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadSdk = (): typeof import('@azure/service-bus') => require('@azure/service-bus');

/** Maps the app's message to the SDK's. The body travels as UTF-8 JSON bytes, which the Functions host hands back parsed. */
export function toServiceBusMessage(m: OutgoingMessage): ServiceBusMessage {
  const json = JSON.stringify(m.body);
  if (json === undefined) throw new TypeError(`message ${m.messageId}: body is not JSON-serializable`);
  return {
    // A Buffer, not the object: the SDK's own encoding of objects is an implementation detail; bytes are explicit.
    body: Buffer.from(json, 'utf8'),
    contentType: 'application/json',
    messageId: m.messageId,
    ...(m.sessionId !== undefined ? { sessionId: m.sessionId } : {}),
    ...(m.applicationProperties ? { applicationProperties: { ...m.applicationProperties } } : {}),
  };
}

/**
 * Sends through Azure Service Bus with an Entra identity (the namespace disables SAS keys). One AMQP connection
 * (the client) and one cached sender link per queue, opened lazily by the SDK on first send. The SDK itself is loaded
 * on first send too: functions that never send should not pay for loading it at a cold start (npm run bench, cold_import).
 */
export class ServiceBusMessageSender implements MessageSender {
  private client?: ServiceBusClient;
  private readonly connect: () => ServiceBusClient;
  private readonly senders = new Map<QueueName, ServiceBusSender>();

  /**
   * @param fullyQualifiedNamespace `<namespace>.servicebus.windows.net` (the `ServiceBusConnection__fullyQualifiedNamespace` setting).
   * @param clientOptions SDK options (retries; tests use `customEndpointAddress` to reach a local AMQP listener).
   */
  constructor(fullyQualifiedNamespace: string, credential: TokenCredential, clientOptions?: ServiceBusClientOptions) {
    // The SDK prefixes `sb://` itself, so a value copied from the portal's endpoint would otherwise break it.
    const host = fullyQualifiedNamespace
      .trim()
      .replace(/^sb:\/\//i, '')
      .replace(/\/+$/, '');
    this.connect = () => new (loadSdk().ServiceBusClient)(host, credential, clientOptions);
  }

  async send(queue: QueueName, messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const sender = this.senderFor(queue);
    const now: ServiceBusMessage[] = [];
    const scheduled = new Map<number, ServiceBusMessage[]>();
    const t = Date.now();
    for (const m of messages) {
      const message = toServiceBusMessage(m);
      const due = m.scheduledEnqueueTime?.getTime();
      if (due === undefined || due <= t) now.push(message);
      else scheduled.set(due, [...(scheduled.get(due) ?? []), message]);
    }
    // Sends are not atomic across batches or schedule calls. A caller that retries a failed send resends all of
    // it; the queues' duplicate detection (stable message ids) drops the parts that already went through.
    await sendInBatches(sender, now);
    for (const [due, group] of scheduled) await sender.scheduleMessages(group, new Date(due));
  }

  async close(): Promise<void> {
    const senders = [...this.senders.values()];
    this.senders.clear();
    await Promise.allSettled(senders.map((s) => s.close()));
    const client = this.client;
    this.client = undefined;
    if (client) await client.close();
  }

  private senderFor(queue: QueueName): ServiceBusSender {
    const client = (this.client ??= this.connect());
    let sender = this.senders.get(queue);
    if (!sender) this.senders.set(queue, (sender = client.createSender(queue)));
    return sender;
  }
}

/** Fills batches up to the link's maximum size (negotiated with the broker) and sends each when full. */
async function sendInBatches(sender: ServiceBusSender, messages: ServiceBusMessage[]): Promise<void> {
  if (messages.length === 0) return;
  let batch = await sender.createMessageBatch();
  for (const m of messages) {
    if (batch.tryAddMessage(m)) continue;
    if (batch.count === 0)
      throw new RangeError(`message ${m.messageId} is larger than the queue's maximum message size (${batch.maxSizeInBytes} bytes)`);
    await sender.sendMessages(batch);
    batch = await sender.createMessageBatch();
    if (!batch.tryAddMessage(m))
      throw new RangeError(`message ${m.messageId} is larger than the queue's maximum message size (${batch.maxSizeInBytes} bytes)`);
  }
  if (batch.count > 0) await sender.sendMessages(batch);
}
