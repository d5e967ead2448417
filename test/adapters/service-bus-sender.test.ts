/**
 * The real ServiceBusMessageSender (real @azure/service-bus client, token credential) against a tiny AMQP 1.0
 * listener built with rhea: TLS, SASL ANONYMOUS, `$cbs` put-token answered 202, `<queue>/$management`
 * schedule-message answered 200, and a receiver per queue that records what arrives. No Service Bus semantics:
 * it only shows what the SDK puts on the wire for our messages.
 */
import type { AccessToken, TokenCredential } from '@azure/identity';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import rhea, { type Connection, type EventContext, type Message, type Sender } from 'rhea';
import { messageIdFor } from '../../src/adapters/message-queue';
import { ServiceBusMessageSender, toServiceBusMessage } from '../../src/adapters/service-bus-sender';
import { queueNames } from '../../src/config/queues';
import { ensureLocalCertificate } from '../../src/local/certs';

const NAMESPACE = 'connections-test.servicebus.windows.net';
/** Service Bus's batch envelope: one transfer whose data sections are whole encoded messages. */
const BATCH_FORMAT = 0x80013700;
/** rhea's typings give decode() a narrower Message type than the one its events carry. */
const decode = (b: Buffer) => rhea.message.decode(b) as unknown as Message;

interface Received {
  queue: string;
  /** Transfers (batches) that carried it: equal numbers mean same batch. */
  transfer: number;
  message: Message;
}

interface Listener {
  port: number;
  received: Received[];
  putTokens: { name: unknown; type: unknown; token: unknown }[];
  scheduled: { queue: string; entries: Record<string, unknown>[]; message: Message[] }[];
  close(): Promise<void>;
}

async function startListener(cert: { cert: string; key: string }, maxMessageSize: number): Promise<Listener> {
  const container = rhea.create_container({ id: 'fake-service-bus' });
  const received: Received[] = [];
  const putTokens: Listener['putTokens'] = [];
  const scheduled: Listener['scheduled'] = [];
  const connections = new Set<Connection>();
  let transfers = 0;

  // Replies go out on the sender link the client named in reply_to (its receiver link's name).
  const reply = (ctx: EventContext, request: Message, status: number, body?: unknown) => {
    const link = ctx.connection.find_sender((s: Sender) => s.name === request.reply_to);
    if (!link) throw new Error(`no reply link ${String(request.reply_to)}`);
    link.send({ correlation_id: request.message_id, application_properties: { 'status-code': status, 'status-description': 'ok' }, body });
  };

  container.on('connection_open', (ctx: EventContext) => connections.add(ctx.connection));
  container.on('receiver_open', (ctx: EventContext) => {
    // Advertised to the client's sender link; the SDK sizes its batches from it.
    (ctx.receiver as unknown as { local: { attach: { max_message_size?: number } } }).local.attach.max_message_size = maxMessageSize;
  });
  container.on('message', (ctx: EventContext) => {
    const address = String(ctx.receiver!.target?.address);
    const request = ctx.message!;
    if (address === '$cbs') {
      putTokens.push({ name: request.application_properties?.name, type: request.application_properties?.type, token: request.body });
      return reply(ctx, request, 202);
    }
    if (address.endsWith('/$management')) {
      const op = request.application_properties?.operation;
      if (op !== 'com.microsoft:schedule-message') return reply(ctx, request, 501);
      const entries = (request.body as { messages: Record<string, unknown>[] }).messages;
      scheduled.push({
        queue: address.slice(0, -'/$management'.length),
        entries,
        message: entries.map((e) => decode(e.message as Buffer)),
      });
      return reply(ctx, request, 200, { 'sequence-numbers': entries.map((_, i) => i + 1) });
    }
    const transfer = ++transfers;
    if (ctx.delivery!.format === BATCH_FORMAT) {
      // rhea leaves a transfer of a non-standard format undecoded.
      const envelope = decode(request as unknown as Buffer);
      const section = envelope.body as { content: Buffer | Buffer[]; multiple: boolean };
      const parts = section.multiple ? (section.content as Buffer[]) : [section.content as Buffer];
      for (const p of parts) received.push({ queue: address, transfer, message: decode(p) });
    } else {
      received.push({ queue: address, transfer, message: request });
    }
  });

  const server = container.listen({
    port: 0,
    host: '127.0.0.1',
    transport: 'tls',
    cert: cert.cert,
    key: cert.key,
  } as never) as unknown as tls.Server;
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    received,
    putTokens,
    scheduled,
    close: async () => {
      for (const c of connections) c.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** The body of a data section as text. */
const text = (m: Message) => {
  const b = m.body as { content?: unknown } | Buffer;
  const content = Buffer.isBuffer(b) ? b : (b as { content: unknown }).content;
  return Buffer.from(content as Buffer).toString('utf8');
};

class FakeCredential implements TokenCredential {
  scopes: string[] = [];
  async getToken(scopes: string | string[]): Promise<AccessToken> {
    this.scopes.push(...[scopes].flat());
    return { token: 'fake-entra-token', expiresOnTimestamp: Date.now() + 3600_000, tokenType: 'Bearer' };
  }
}

let listener: Listener;
let sender: ServiceBusMessageSender;
const credential = new FakeCredential();
let connectSpy: jest.SpyInstance | undefined;

beforeAll(async () => {
  const cert = await ensureLocalCertificate();
  // The SDK always uses TLS with a credential. Trust the local certificate for this test's connections only
  // (npm test also sets NODE_EXTRA_CA_CERTS; plain `npx jest` does not).
  const original = tls.connect;
  connectSpy = jest
    .spyOn(tls, 'connect')
    .mockImplementation(((port: number, host: string, options: tls.ConnectionOptions, cb?: () => void) =>
      original(port, host, { ...options, ca: [cert.cert] }, cb)) as never);
  listener = await startListener(cert, 4096);
  sender = new ServiceBusMessageSender(`sb://${NAMESPACE}/`, credential, {
    customEndpointAddress: `sb://localhost:${listener.port}`,
    retryOptions: { maxRetries: 0, timeoutInMs: 10_000 },
  });
});

afterAll(async () => {
  await sender?.close();
  await listener?.close();
  connectSpy?.mockRestore();
});

describe('toServiceBusMessage', () => {
  it('maps body to JSON bytes and carries ids and properties', () => {
    const m = toServiceBusMessage({ messageId: 'm', sessionId: 's', body: { a: 1 }, applicationProperties: { k: true } });
    expect(m).toEqual({
      body: Buffer.from('{"a":1}'),
      contentType: 'application/json',
      messageId: 'm',
      sessionId: 's',
      applicationProperties: { k: true },
    });
    expect(() => toServiceBusMessage({ messageId: 'u', body: undefined })).toThrow(TypeError);
  });
});

describe('ServiceBusMessageSender against an AMQP listener', () => {
  it('authenticates with the token credential and sends messages with id, session id and JSON body', async () => {
    await sender.send(queueNames.steps, [
      {
        messageId: 'run-1:step-a',
        sessionId: 'run-1',
        body: { runId: 'run-1', stepId: 'a' },
        applicationProperties: { kind: 'step', attempt: 1 },
      },
      { messageId: 'run-2:step-a', sessionId: 'run-2', body: { runId: 'run-2', stepId: 'a' } },
    ]);
    const got = listener.received.filter((r) => r.queue === queueNames.steps);
    expect(got.map((r) => [r.message.message_id, r.message.group_id, JSON.parse(text(r.message))])).toEqual([
      ['run-1:step-a', 'run-1', { runId: 'run-1', stepId: 'a' }],
      ['run-2:step-a', 'run-2', { runId: 'run-2', stepId: 'a' }],
    ]);
    expect(got[0].message.content_type).toBe('application/json');
    expect(got[0].message.application_properties).toEqual({ kind: 'step', attempt: 1 });
    expect(got[0].transfer).toBe(got[1].transfer); // one batch
    expect(credential.scopes).toContain('https://servicebus.azure.net//.default');
    expect(listener.putTokens[0]).toMatchObject({ type: 'jwt', token: 'fake-entra-token' });
    expect(String(listener.putTokens[0].name)).toContain(NAMESPACE);
  });

  it('splits into several batches when one is full, keeping order', async () => {
    const before = listener.received.length;
    const messages = [...Array(12).keys()].map((i) => ({ messageId: `e-${i}`, body: { i, pad: 'x'.repeat(900) } }));
    await sender.send(queueNames.events, messages);
    const got = listener.received.slice(before);
    expect(got.map((r) => r.message.message_id)).toEqual(messages.map((m) => m.messageId));
    expect(got.every((r) => r.queue === queueNames.events)).toBe(true);
    expect(got.map((r) => JSON.parse(text(r.message)).i)).toEqual([...Array(12).keys()]);
    const transfers = new Set(got.map((r) => r.transfer));
    expect(transfers.size).toBeGreaterThan(2); // ~1 KB each against a 4 KB link limit
  });

  it('refuses a message larger than the link allows', async () => {
    await expect(sender.send(queueNames.events, [{ messageId: 'huge', body: 'x'.repeat(5000) }])).rejects.toThrow(/larger than/);
  });

  it('carries ids of 128 characters and refuses longer ones as the local bus does (the SDK checks before sending)', async () => {
    const before = listener.received.length;
    const id = messageIdFor('r'.repeat(36), 'e'.repeat(200)); // hashed to fit
    await sender.send(queueNames.steps, [
      { messageId: 'i'.repeat(128), sessionId: 's'.repeat(128), body: 1 },
      { messageId: id, sessionId: 'r', body: 2 },
    ]);
    expect(listener.received.slice(before).map((r) => [r.message.message_id, r.message.group_id])).toEqual([
      ['i'.repeat(128), 's'.repeat(128)],
      [id, 'r'],
    ]);
    await expect(sender.send(queueNames.steps, [{ messageId: 'i'.repeat(129), sessionId: 'r', body: 1 }])).rejects.toThrow(
      "Length of 'messageId' property on the message cannot be greater than 128 characters.",
    );
    await expect(sender.send(queueNames.steps, [{ messageId: 'ok', sessionId: 's'.repeat(129), body: 1 }])).rejects.toThrow(
      "Length of 'sessionId' property on the message cannot be greater than 128 characters.",
    );
    expect(listener.received.length).toBe(before + 2);
  });

  it('schedules future messages through the management link and sends due ones at once', async () => {
    const at = new Date(Date.now() + 60_000);
    const before = listener.received.length;
    await sender.send(queueNames.steps, [
      { messageId: 'later-1', sessionId: 'run-9', body: { n: 1 }, scheduledEnqueueTime: at },
      { messageId: 'later-2', sessionId: 'run-9', body: { n: 2 }, scheduledEnqueueTime: at },
      { messageId: 'past', sessionId: 'run-9', body: { n: 0 }, scheduledEnqueueTime: new Date(0) },
    ]);
    expect(listener.received.slice(before).map((r) => r.message.message_id)).toEqual(['past']);
    expect(listener.scheduled).toHaveLength(1);
    const [s] = listener.scheduled;
    expect(s.queue).toBe(queueNames.steps);
    expect(s.entries.map((e) => [e['message-id'], e['session-id']])).toEqual([
      ['later-1', 'run-9'],
      ['later-2', 'run-9'],
    ]);
    expect(s.message.map((m) => [m.message_id, m.group_id, JSON.parse(text(m))])).toEqual([
      ['later-1', 'run-9', { n: 1 }],
      ['later-2', 'run-9', { n: 2 }],
    ]);
    const when = s.message[0].message_annotations?.['x-opt-scheduled-enqueue-time'] as Date;
    expect(new Date(when).getTime()).toBe(at.getTime());
  });
});
