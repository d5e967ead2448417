import { type TableClient, type TransactionAction } from '@azure/data-tables';
import {
  getEntityOrUndefined,
  isConcurrencyConflict,
  odataString,
  statusOf,
  withoutUndefined,
  type TableFactory,
} from '../adapters/tables';
import type { Connection } from './connection';
import { connectionRowsFilter, outboxRow, type OutboxEntry } from './connection-outbox';

/**
 * Table row: partition = tenant id, row = connection id. Only metadata, never token material. The tenant's partition
 * also holds the outbox rows of its changes (connection-outbox.ts), written in the same transaction as the change.
 */
type ConnectionRow = {
  partitionKey: string;
  rowKey: string;
  displayName: string;
  username: string;
  objectId: string;
  status: Connection['status'];
  statusReason?: string;
  statusChangedAt?: string;
  isDefault: boolean;
  createdAt: string;
  createdBy: string;
  lastUsedAt?: string;
  lastRefreshedAt?: string;
};

const toRow = (c: Connection): ConnectionRow =>
  withoutUndefined({
    partitionKey: c.account.tenantId,
    rowKey: c.id,
    displayName: c.displayName,
    username: c.account.username,
    objectId: c.account.objectId,
    status: c.status,
    statusReason: c.statusReason,
    statusChangedAt: c.statusChangedAt,
    isDefault: c.isDefault,
    createdAt: c.createdAt,
    createdBy: c.createdBy,
    lastUsedAt: c.lastUsedAt,
    lastRefreshedAt: c.lastRefreshedAt,
  });

const fromRow = (r: ConnectionRow): Connection => ({
  id: r.rowKey,
  displayName: r.displayName,
  account: { username: r.username, objectId: r.objectId, tenantId: r.partitionKey },
  status: r.status,
  ...(r.statusReason ? { statusReason: r.statusReason } : {}),
  ...(r.statusChangedAt ? { statusChangedAt: r.statusChangedAt } : {}),
  isDefault: r.isDefault === true,
  createdAt: r.createdAt,
  createdBy: r.createdBy,
  ...(r.lastUsedAt ? { lastUsedAt: r.lastUsedAt } : {}),
  ...(r.lastRefreshedAt ? { lastRefreshedAt: r.lastRefreshedAt } : {}),
});

export class ConnectionRepository {
  constructor(
    private readonly tables: TableFactory,
    private readonly tableName: string,
  ) {}

  private table(): Promise<TableClient> {
    return this.tables(this.tableName);
  }

  async list(tenantId: string): Promise<Connection[]> {
    const table = await this.table();
    const out: Connection[] = [];
    for await (const row of table.listEntities<ConnectionRow>({ queryOptions: { filter: tenantConnections(tenantId) } })) {
      out.push(fromRow(row as ConnectionRow));
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async get(tenantId: string, id: string): Promise<Connection | undefined> {
    const row = await getEntityOrUndefined<ConnectionRow>(await this.table(), tenantId, id);
    return row && fromRow(row);
  }

  async findByAccount(tenantId: string, objectId: string): Promise<Connection | undefined> {
    return (await this.list(tenantId)).find((c) => c.account.objectId === objectId);
  }

  /** Writes the whole row (create or replace). */
  async save(connection: Connection): Promise<void> {
    await (await this.table()).upsertEntity(toRow(connection), 'Replace');
  }

  /** Merges a few fields into an existing row; false when the row is gone. */
  async patch(tenantId: string, id: string, fields: Partial<Omit<ConnectionRow, 'partitionKey' | 'rowKey'>>): Promise<boolean> {
    try {
      await (await this.table()).updateEntity({ partitionKey: tenantId, rowKey: id, ...fields }, 'Merge', { etag: '*' });
      return true;
    } catch (e) {
      if (statusOf(e) === 404) return false;
      throw e;
    }
  }

  /**
   * Every active connection of every tenant: a cross-partition scan, for the daily keep-alive only
   * (one row per connection, so this stays small next to what the keep-alive then does per row).
   */
  async listActiveAcrossTenants(): Promise<Connection[]> {
    const table = await this.table();
    const out: Connection[] = [];
    for await (const row of table.listEntities<ConnectionRow>({
      queryOptions: { filter: `status eq 'active' and ${connectionRowsFilter}` },
    })) {
      out.push(fromRow(row as ConnectionRow));
    }
    return out;
  }

  /**
   * Changes one row with its ETag, re-reading on conflict: `change` sees the stored connection and returns
   * the new one, or undefined for no change. Answers what was replaced and what was written, so exactly one
   * of several concurrent callers sees a given status transition. Undefined when nothing was written
   * (no change, or the row is gone: a deleted connection is never brought back).
   */
  async transition(
    tenantId: string,
    id: string,
    change: (connection: Connection) => Connection | undefined,
    outbox?: (before: Connection, after: Connection) => OutboxEntry | undefined,
  ): Promise<{ before: Connection; after: Connection } | undefined> {
    const table = await this.table();
    for (let attempt = 0; ; attempt++) {
      const row = await getEntityOrUndefined<ConnectionRow>(table, tenantId, id);
      if (!row) return undefined;
      const before = fromRow(row);
      const after = change(before);
      if (!after || JSON.stringify(after) === JSON.stringify(before)) return undefined;
      const entry = outbox?.(before, after);
      try {
        // With an outbox entry, one transaction: the change and what it must announce are stored together or not at all.
        if (entry)
          await table.submitTransaction([
            ['update', toRow(after), 'Replace', { etag: row.etag }],
            ['create', outboxRow(tenantId, entry)],
          ]);
        else await table.updateEntity(toRow(after), 'Replace', { etag: row.etag });
        return { before, after };
      } catch (e) {
        if (statusOf(e) === 404) return undefined;
        if (attempt >= 5 || !isBatchConflict(e)) throw e;
      }
    }
  }

  /** `rewriteTenantConnections` without the rows it replaced. */
  async updateTenant(tenantId: string, change: (connections: Connection[]) => Connection[]): Promise<Connection[]> {
    return (await this.rewriteTenantConnections(tenantId, change)).after;
  }

  /**
   * Applies `change` to the tenant's connections (rows it leaves out are deleted) and writes the
   * changed rows in one transactional batch with their ETags, retrying on conflict: the tenant partition then always has exactly the
   * default that `change` chose, even when two admins act at once. `before` is what the successful
   * attempt read, so the caller can tell exactly what it changed (audit, notifications).
   */
  async rewriteTenantConnections(
    tenantId: string,
    change: (connections: Connection[]) => Connection[],
    outbox?: (before: Connection[], after: Connection[]) => OutboxEntry | undefined,
  ): Promise<{ before: Connection[]; after: Connection[] }> {
    const table = await this.table();
    for (let attempt = 0; ; attempt++) {
      const rows: (ConnectionRow & { etag: string })[] = [];
      for await (const row of table.listEntities<ConnectionRow>({ queryOptions: { filter: tenantConnections(tenantId) } })) {
        rows.push(row as ConnectionRow & { etag: string });
      }
      const before = new Map(rows.map((r) => [r.rowKey, r]));
      const current = rows.map(fromRow);
      const after = change(current);
      const actions: TransactionAction[] = [];
      const kept = new Set(after.map((c) => c.id));
      for (const old of rows) {
        // A batch delete carries no ETag (SDK); a row already gone fails the batch with 404, which is retried below.
        if (!kept.has(old.rowKey)) actions.push(['delete', { partitionKey: tenantId, rowKey: old.rowKey }]);
      }
      for (const c of after) {
        const old = before.get(c.id);
        const row = toRow(c);
        if (!old) actions.push(['create', row]);
        else if (JSON.stringify(fromRow(old)) !== JSON.stringify(c)) actions.push(['update', row, 'Replace', { etag: old.etag }]);
      }
      if (actions.length === 0) return { before: current, after };
      const entry = outbox?.(current, after);
      if (entry) actions.push(['create', outboxRow(tenantId, entry)]);
      try {
        await table.submitTransaction(actions);
        return { before: current, after };
      } catch (e) {
        if (attempt >= 5 || !isBatchConflict(e)) throw e;
      }
    }
  }
}

/** The tenant's connection rows (not its outbox rows). */
const tenantConnections = (tenantId: string) => `PartitionKey eq ${odataString(tenantId)} and ${connectionRowsFilter}`;

/** Someone changed the partition between our read and our batch: read again and decide again. */
const isBatchConflict = (e: unknown) =>
  isConcurrencyConflict(e) ||
  statusOf(e) === 404 ||
  /UpdateConditionNotSatisfied|EntityAlreadyExists|ResourceNotFound/.test(String((e as Error)?.message));
