import type { MessageSender, OutgoingMessage } from '../../src/adapters/message-queue';
import { queueNames, type QueueName } from '../../src/config/queues';
import { postedEventSchema, queuePostedEvent, type PostedEvent } from '../../src/events/event-intake';
import { maxEventChars } from '../../src/events/product-event';
import { AppError } from '../../src/shared/errors';

const tenantId = '11111111-1111-4111-8111-111111111111';
/** The clock and the id generator, frozen. */
const frozenNow = new Date('2025-03-01T12:00:00.000Z');
const newId = () => '22222222-2222-4222-8222-222222222222';

class RecordingSender implements MessageSender {
  readonly sent: { queue: QueueName; message: OutgoingMessage }[] = [];
  async send(queue: QueueName, messages: OutgoingMessage[]): Promise<void> {
    for (const message of messages) this.sent.push({ queue, message });
  }
}

const posted = (change: Record<string, unknown> = {}): PostedEvent =>
  postedEventSchema.parse({
    type: 'ItemCreated',
    subject: { siteId: 'contoso.sharepoint.com,site-1', listId: 'contracts', itemId: 42 },
    ...change,
  });

describe('queuePostedEvent: an admin posts an event for their tenant', () => {
  test("an omitted id and time become a new id and now; the tenant is the admin's", async () => {
    const sender = new RecordingSender();
    const event = await queuePostedEvent(posted(), tenantId, { sender, now: () => frozenNow, newId });
    expect(event).toEqual({
      id: newId(),
      type: 'ItemCreated',
      tenantId,
      occurredAt: frozenNow.toISOString(),
      subject: { siteId: 'contoso.sharepoint.com,site-1', listId: 'contracts', itemId: '42' },
      data: {},
    });
    expect(sender.sent).toEqual([{ queue: queueNames.events, message: { body: event, messageId: `${tenantId}:${newId()}` } }]);
  });

  test("the caller's id and time are kept, so posting the same event twice sends the same message id", async () => {
    const sender = new RecordingSender();
    const own = posted({ id: 'item-42-created', occurredAt: '2025-02-28T09:30:00+01:00' });
    await queuePostedEvent(own, tenantId, { sender, now: () => frozenNow, newId });
    await queuePostedEvent(own, tenantId, { sender, now: () => new Date(frozenNow.getTime() + 60_000), newId: () => 'another' });
    expect(sender.sent.map((s) => s.message.messageId)).toEqual([`${tenantId}:item-42-created`, `${tenantId}:item-42-created`]);
    expect(sender.sent.map((s) => (s.message.body as { occurredAt: string }).occurredAt)).toEqual([
      '2025-02-28T09:30:00+01:00',
      '2025-02-28T09:30:00+01:00',
    ]);
  });

  test('a posted body cannot name another tenant or claim to be caused by a run', () => {
    expect(postedEventSchema.safeParse({ ...posted(), tenantId: '33333333-3333-4333-8333-333333333333' }).data).not.toHaveProperty(
      'tenantId',
    );
    expect(postedEventSchema.safeParse({ ...posted(), causedBy: { runId: 'r', processId: 'p', depth: 1 } }).data).not.toHaveProperty(
      'causedBy',
    );
  });

  test('an event too large for a run record is refused as too_large and nothing is sent', async () => {
    const sender = new RecordingSender();
    const huge = posted({ data: { text: 'x'.repeat(maxEventChars) } });
    const refusal = await queuePostedEvent(huge, tenantId, { sender, now: () => frozenNow, newId }).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(AppError);
    expect(refusal).toMatchObject({ code: 'too_large', message: expect.stringContaining(`at most ${maxEventChars} fit in a run record`) });
    expect(sender.sent).toEqual([]);
  });

  test('a tenant that is not a GUID is refused as bad_request and nothing is sent', async () => {
    const sender = new RecordingSender();
    const refusal = await queuePostedEvent(posted(), 'contoso', { sender, now: () => frozenNow, newId }).catch((e: unknown) => e);
    expect(refusal).toMatchObject({ code: 'bad_request', details: [expect.objectContaining({ path: 'tenantId' })] });
    expect(sender.sent).toEqual([]);
  });
});
