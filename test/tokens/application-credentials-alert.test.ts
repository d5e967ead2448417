/**
 * One ApplicationCredentialsInvalid signal per app and period, however many refreshes fail, on however many
 * instances: each instance sends at most once per period, and the message id names the period so the queue's
 * duplicate detection (10 minutes, the same as the period) drops the other instances' copies. Uses the in-process bus,
 * which applies Service Bus duplicate detection.
 */
import { queueNames } from '../../src/config/queues';
import { createLocalServiceBus } from '../../src/local/local-service-bus';
import { ApplicationCredentialsAlert } from '../../src/tokens/application-credentials-alert';

const CLIENT_ID = 'c0c0c0c0-0000-4000-8000-00000000c11e';
const MINUTE = 60_000;

function setup() {
  const bus = createLocalServiceBus([], { maxDeliveryCount: 10 });
  const sent: { messageId: string; body: unknown }[] = [];
  const send = bus.send.bind(bus);
  bus.send = async (queue, messages) => {
    await send(queue, messages);
    if (queue === queueNames.connectionEvents) sent.push(...messages.map((m) => ({ messageId: m.messageId, body: m.body })));
  };
  let now = Date.parse('2026-11-30T10:03:00Z');
  const logs: string[] = [];
  const instance = () =>
    new ApplicationCredentialsAlert({ sender: bus, clientId: CLIENT_ID, logError: (m) => logs.push(m), now: () => now });
  return { bus, sent, logs, instance, advance: (ms: number) => (now += ms) };
}

test('many failures on one instance: one message, one error line; again after the period', async () => {
  const { bus, sent, logs, instance, advance } = setup();
  const alert = instance();
  for (let i = 0; i < 50; i++)
    await alert.raise("Microsoft Entra ID refused the app's own credentials (invalid_client, AADSTS7000222)", 7000222);
  expect(sent).toHaveLength(1);
  expect(sent[0].body).toEqual({
    type: 'ApplicationCredentialsInvalid',
    clientId: CLIENT_ID,
    setting: 'AUTH_CLIENT_ID',
    aadsts: 7000222,
    reason: expect.stringContaining('AADSTS7000222'),
    at: '2026-11-30T10:03:00.000Z',
  });
  expect(logs).toHaveLength(1);
  expect(logs[0]).toMatch(/^ApplicationCredentialsInvalid \(AUTH_CLIENT_ID [\w-]+\): .*AADSTS7000222/);

  advance(9 * MINUTE);
  await alert.raise('still failing', 7000222);
  expect(sent).toHaveLength(1);
  advance(2 * MINUTE);
  await alert.raise('still failing', 7000222);
  expect(sent).toHaveLength(2);
  expect(bus.stats()[queueNames.connectionEvents]).toMatchObject({ queued: 2, duplicatesDropped: 0 });
});

test('several instances in one period: one message reaches the queue', async () => {
  const { bus, instance, advance } = setup();
  const instances = [instance(), instance(), instance()];
  await Promise.all(instances.map((a) => a.raise('refused', 7000215)));
  advance(MINUTE);
  await Promise.all(instances.map((a) => a.raise('refused', 7000215)));
  expect(bus.stats()[queueNames.connectionEvents]).toMatchObject({ queued: 1, duplicatesDropped: 2 });
});

test('a send that failed is tried again by the next failure', async () => {
  const { bus, sent, instance } = setup();
  const alert = instance();
  const send = bus.send;
  bus.send = async () => Promise.reject(new Error('Service Bus unavailable'));
  await expect(alert.raise('refused')).rejects.toThrow('Service Bus unavailable');
  bus.send = send;
  await alert.raise('refused');
  expect(sent).toHaveLength(1);
});
