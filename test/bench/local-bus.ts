/**
 * local_bus: messages per second through the local bus's own machinery (no app work: the handlers return at once),
 * in memory and with its store in Azurite (what `npm start` and the tests use since issue 16 item 5: each message is
 * written at send, at delivery and at completion). Step messages in 50 sessions, sent in batches of 10, 8 sessions
 * delivered at once (the default, host.json maxConcurrentSessions); the clock runs from the first send to idle.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { ServiceBusFunction } from '../../functions/registry';
import { queueNames } from '../../src/config/queues';
import type { LocalAzurite } from '../../src/local/azurite';
import { createTableBusStore } from '../../src/local/local-bus-store';
import { createLocalServiceBus, openLocalServiceBus, type LocalServiceBus } from '../../src/local/local-service-bus';
import { note, round, scaled, type Figure } from './harness';

const SESSIONS = 50;
const BATCH = 10;
const trigger: ServiceBusFunction = {
  kind: 'serviceBus',
  name: 'bench-steps',
  queueName: queueNames.steps,
  isSessionsEnabled: true,
  handler: async () => undefined,
};

async function throughput(bus: LocalServiceBus, messages: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < messages; i += BATCH) {
    await bus.send(
      queueNames.steps,
      Array.from({ length: Math.min(BATCH, messages - i) }, (_, j) => {
        const n = i + j;
        return { messageId: `m-${n}`, sessionId: `s-${n % SESSIONS}`, body: { tenantId: 't', runId: `s-${n % SESSIONS}`, stepIndex: n } };
      }),
    );
  }
  await bus.idle();
  const seconds = (performance.now() - started) / 1000;
  await bus.close();
  return messages / seconds;
}

export async function localBus(azurite: LocalAzurite): Promise<Figure> {
  const messages = scaled(2000, 100);
  note(`local_bus: ${messages} messages in memory, then with the Azurite store`);
  const inMemory = await throughput(createLocalServiceBus([trigger], { maxDeliveryCount: 10, log: () => undefined }), messages);
  const store = await createTableBusStore(azurite.connectionString, `benchbus${randomBytes(4).toString('hex')}`);
  const durable = await openLocalServiceBus([trigger], { maxDeliveryCount: 10, log: () => undefined, store });
  durable.resume();
  const stored = await throughput(durable, messages);
  return {
    name: 'local_bus',
    messages,
    in_memory_messages_per_s: round(inMemory, 0),
    azurite_store_messages_per_s: round(stored, 0),
    ratio: round(inMemory / stored, 1),
  };
}
