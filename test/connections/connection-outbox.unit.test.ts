import type { Connection } from '../../src/connections/connection';
import { diffConnections, outboxEntryFor } from '../../src/connections/connection-lifecycle';
import { connectionRowsFilter, outboxRow, outboxRowKeyPrefix } from '../../src/connections/connection-outbox';

const tenantId = '11111111-1111-4111-8111-111111111111';
const at = '2030-01-02T03:04:05.678Z';
const connection = (change: Partial<Connection> = {}): Connection => ({
  id: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  displayName: 'WorkPoint',
  account: { username: 'svc@contoso.com', objectId: 'oid-1', tenantId },
  status: 'active',
  isDefault: true,
  createdAt: '2030-01-01T00:00:00.000Z',
  createdBy: 'admin@contoso.com',
  ...change,
});

describe('outboxEntryFor', () => {
  test('a status change becomes one audit entry and one ConnectionStatusChanged with a stable message id', () => {
    const before = connection();
    const after = connection({ status: 'needs_reauth', statusReason: 'revoked', statusChangedAt: at });
    const entry = outboxEntryFor(tenantId, diffConnections([before], [after]), 'system', at)!;
    expect(entry.audit).toEqual([
      { connectionId: before.id, at, action: 'marked_needs_reauth', by: 'system', details: { reason: 'revoked' } },
    ]);
    expect(entry.messages).toEqual([
      {
        messageId: `${before.id}:needs_reauth:${Date.parse(at)}`,
        body: {
          type: 'ConnectionStatusChanged',
          tenantId,
          connectionId: before.id,
          displayName: 'WorkPoint',
          username: 'svc@contoso.com',
          from: 'active',
          to: 'needs_reauth',
          reason: 'revoked',
          at,
        },
        applicationProperties: { type: 'ConnectionStatusChanged', tenantId, to: 'needs_reauth' },
      },
    ]);
    // The same change described twice (a retry after a conflict) gives the same message id: duplicate detection holds.
    expect(outboxEntryFor(tenantId, diffConnections([before], [after]), 'system', at)!.messages[0].messageId).toBe(
      entry.messages[0].messageId,
    );
  });

  test('a rename is audited but announces nothing; no change, no entry', () => {
    const entry = outboxEntryFor(tenantId, diffConnections([connection()], [connection({ displayName: 'New' })]), 'admin', at)!;
    expect(entry.audit.map((a) => a.action)).toEqual(['renamed']);
    expect(entry.messages).toEqual([]);
    expect(outboxEntryFor(tenantId, [], 'admin', at)).toBeUndefined();
  });

  test('a deletion announces `deleted` from the status the connection had', () => {
    const entry = outboxEntryFor(tenantId, diffConnections([connection({ status: 'needs_reauth' })], []), 'admin', at)!;
    expect(entry.messages.map((m) => m.body)).toEqual([expect.objectContaining({ from: 'needs_reauth', to: 'deleted' })]);
  });
});

describe('outbox rows beside connection rows', () => {
  test("outbox row keys sort after every connection id (GUIDs), so `RowKey lt '~'` selects only connections", () => {
    const row = outboxRow(tenantId, { at, audit: [], messages: [] });
    expect(row.partitionKey).toBe(tenantId);
    expect(row.rowKey.startsWith(outboxRowKeyPrefix)).toBe(true);
    for (const id of [
      'ffffffff-ffff-4fff-bfff-ffffffffffff',
      'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF',
      '00000000-0000-4000-8000-000000000000',
    ]) {
      expect(id < '~' && row.rowKey >= '~').toBe(true);
    }
    expect(connectionRowsFilter).toBe("RowKey lt '~'");
  });

  test('two changes in the same millisecond get distinct rows, oldest first across milliseconds', () => {
    const a = outboxRow(tenantId, { at, audit: [], messages: [] }).rowKey;
    const b = outboxRow(tenantId, { at, audit: [], messages: [] }).rowKey;
    const later = outboxRow(tenantId, { at: '2030-01-02T03:04:05.679Z', audit: [], messages: [] }).rowKey;
    expect(a).not.toBe(b);
    expect([later, a].sort()[1]).toBe(later);
  });
});
