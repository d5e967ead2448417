import { createHash } from 'node:crypto';
import type { TransactionAction } from '@azure/data-tables';
import { odataString, type TableFactory } from '../adapters/tables';

export const auditActions = [
  'created',
  'reauthorized',
  'renamed',
  'default_changed',
  'marked_needs_reauth',
  'reactivated',
  'deleted',
] as const;
export type AuditAction = (typeof auditActions)[number];

/** Plain values only: ids, names, flags, reasons. Never token material (nothing here ever sees any). */
export type AuditDetails = Record<string, string | number | boolean>;

export interface AuditEntry {
  at: string;
  action: AuditAction;
  /** The admin's username, or `system` (keep-alive, step runner, any refresh that finds a dead grant). */
  by: string;
  details: AuditDetails;
}

/** Who changes a connection when no admin does. */
export const SYSTEM_ACTOR = 'system';

type AuditRow = {
  partitionKey: string;
  rowKey: string;
  connectionId: string;
  at: string;
  action: AuditAction;
  by: string;
  detailsJson: string;
};

/** Larger than any Date in ms (8.64e15): subtracting from it makes newer times sort first as strings. */
const MAX_MS = 8_640_000_000_000_000;
const invertedTime = (at: string) => String(MAX_MS - Date.parse(at)).padStart(16, '0');

/**
 * The audit log of connection changes (table `ConnectionAudit`): partition = tenant, row =
 * `<connectionId>_<inverted ms>_<inverted index><hash of the change>`, so one connection's entries are one key range,
 * newest first, and outlive the connection itself. Entries of one change are written in one batch; the
 * inverted index keeps their order when they share a millisecond.
 */
export class ConnectionAuditLog {
  constructor(
    private readonly tables: TableFactory,
    private readonly tableName: string,
  ) {}

  /**
   * Records the entries of one change exactly once however often it is called with the same `changeKey` (the
   * connection outbox row that carries them, connection-outbox.ts): their row keys derive from it, and rows are
   * upserted, so a delivery repeated after a crash rewrites the same rows.
   */
  async recordOnce(tenantId: string, changeKey: string, entries: (AuditEntry & { connectionId: string })[]): Promise<void> {
    const suffix = (i: number) => createHash('sha256').update(`${tenantId}|${changeKey}|${i}`).digest('hex').slice(0, 8);
    if (entries.length === 0) return;
    if (entries.length > 99) throw new RangeError('at most 99 audit entries per change');
    const actions: TransactionAction[] = entries.map((e, i) => [
      'upsert',
      {
        partitionKey: tenantId,
        rowKey: `${e.connectionId}_${invertedTime(e.at)}_${String(99 - i).padStart(2, '0')}${suffix(i)}`,
        connectionId: e.connectionId,
        at: e.at,
        action: e.action,
        by: e.by,
        detailsJson: JSON.stringify(e.details),
      } satisfies AuditRow,
      'Replace',
    ]);
    await (await this.tables(this.tableName)).submitTransaction(actions);
  }

  /** Newest first. */
  async list(tenantId: string, connectionId: string, limit = 100): Promise<AuditEntry[]> {
    const table = await this.tables(this.tableName);
    // '_' + 1 = '`': the key range of exactly this connection's rows (ids are fixed-length GUIDs).
    const filter = `PartitionKey eq ${odataString(tenantId)} and RowKey gt ${odataString(`${connectionId}_`)} and RowKey lt ${odataString(`${connectionId}\``)}`;
    const out: AuditEntry[] = [];
    for await (const page of table.listEntities<AuditRow>({ queryOptions: { filter } }).byPage({ maxPageSize: Math.min(limit, 1000) })) {
      for (const row of page) {
        out.push({ at: row.at, action: row.action, by: row.by, details: JSON.parse(row.detailsJson) as AuditDetails });
        if (out.length >= limit) return out;
      }
    }
    return out;
  }
}
