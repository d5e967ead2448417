import { type TableClient, type TransactionAction } from '@azure/data-tables';
import { getEntityOrUndefined, isConcurrencyConflict, odataString, withoutUndefined, type TableFactory } from '../adapters/tables';
import type { Connection } from './connection';

/** Table row: partition = tenant id, row = connection id. Only metadata, never token material. */
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

const toRow = (c: Connection): ConnectionRow => withoutUndefined({
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
    for await (const row of table.listEntities<ConnectionRow>({ queryOptions: { filter: `PartitionKey eq ${odataString(tenantId)}` } })) {
      out.push(fromRow(row as ConnectionRow));
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async get(tenantId: string, id: string): Promise<Connection | undefined> {
    const row = await getEntityOrUndefined<ConnectionRow>(await this.table(), tenantId, id);
    return row && fromRow(row as unknown as ConnectionRow);
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
      if ((e as { statusCode?: number }).statusCode === 404) return false;
      throw e;
    }
  }


  /**
   * Applies `change` to the tenant's connections (rows it leaves out are deleted) and writes the
   * changed rows in one transactional batch with their ETags, retrying on conflict: the tenant partition then always has exactly the
   * default that `change` chose, even when two admins act at once.
   */
  async updateTenant(tenantId: string, change: (connections: Connection[]) => Connection[]): Promise<Connection[]> {
    const table = await this.table();
    for (let attempt = 0; ; attempt++) {
      const rows: (ConnectionRow & { etag: string })[] = [];
      for await (const row of table.listEntities<ConnectionRow>({ queryOptions: { filter: `PartitionKey eq ${odataString(tenantId)}` } })) {
        rows.push(row as ConnectionRow & { etag: string });
      }
      const before = new Map(rows.map((r) => [r.rowKey, r]));
      const after = change(rows.map(fromRow));
      const actions: TransactionAction[] = [];
      const kept = new Set(after.map((c) => c.id));
      for (const old of rows) {
        if (!kept.has(old.rowKey)) actions.push(['delete', { partitionKey: tenantId, rowKey: old.rowKey }]);
      }
      for (const c of after) {
        const old = before.get(c.id);
        const row = toRow(c);
        if (!old) actions.push(['create', row]);
        else if (JSON.stringify(fromRow(old)) !== JSON.stringify(c)) actions.push(['update', row, 'Replace', { etag: old.etag }]);
      }
      if (actions.length === 0) return after;
      try {
        await table.submitTransaction(actions);
        return after;
      } catch (e) {
        if (attempt >= 5 || !isBatchConflict(e)) throw e;
      }
    }
  }
}

const isBatchConflict = (e: unknown) =>
  isConcurrencyConflict(e) || /UpdateConditionNotSatisfied|EntityAlreadyExists/.test(String((e as Error)?.message));
