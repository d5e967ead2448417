import type { OutgoingMessage } from '../../src/adapters/message-queue';
import type { Connection } from '../../src/connections/connection';
import { connectionEventSchema } from '../../src/notifications/connection-notices';
import { sendReauthorizeWarnings } from '../../src/notifications/reauthorize-warnings';

const dayMs = 24 * 3600_000;
const now = new Date('2026-12-06T03:00:00.000Z');
const connection = (id: string, lastRefreshedDaysAgo: number): Connection => ({
  id,
  displayName: `Conn ${id}`,
  account: { username: `${id}@contoso.example`, objectId: `oid-${id}`, tenantId: 'tenant-a' },
  status: 'active',
  isDefault: false,
  createdAt: '2026-01-01T00:00:00.000Z',
  createdBy: 'admin',
  lastRefreshedAt: new Date(now.getTime() - lastRefreshedDaysAgo * dayMs).toISOString(),
});

async function warnings(connections: Connection[]) {
  const sent: OutgoingMessage[] = [];
  await sendReauthorizeWarnings({
    connections: { listActiveAcrossTenants: async () => connections },
    sender: { send: async (_q, m) => void sent.push(...m) },
    refreshTokenInactivityDays: 90,
    now,
  });
  return sent;
}

test('14 and 3 days before reauthorizeBy a warning is sent, each threshold under its own message id', async () => {
  // 90-day window: refreshed 70 days ago = 20 days left (nothing), 80 = 10 left (14-day), 88 = 2 left (3-day), 91 = past.
  const sent = await warnings([connection('fresh', 70), connection('soon', 80), connection('urgent', 88), connection('past', 91)]);
  expect(sent.map((m) => [(m.body as { connectionId: string }).connectionId, (m.body as { daysLeft: number }).daysLeft])).toEqual([
    ['soon', 10],
    ['urgent', 2],
  ]);
  expect(sent[0].messageId).toMatch(/^ReauthorizeSoon:soon:.*:14$/);
  expect(sent[1].messageId).toMatch(/^ReauthorizeSoon:urgent:.*:3$/);
  for (const m of sent) expect(connectionEventSchema.safeParse(m.body).success).toBe(true);
});

test('the same state gives the same message ids, so a second run mails nobody again', async () => {
  const first = await warnings([connection('soon', 80)]);
  const second = await warnings([connection('soon', 80)]);
  expect(second.map((m) => m.messageId)).toEqual(first.map((m) => m.messageId));
});
