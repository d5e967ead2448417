import { randomBytes } from 'node:crypto';
import type { TableEntity } from '@azure/data-tables';
import type { MessageSender, OutgoingMessage } from '../adapters/message-queue';
import { isConcurrencyConflict, odataString, statusOf, type TableFactory } from '../adapters/tables';
import { queueNames } from '../config/queues';
import type { AuditEntry, ConnectionAuditLog } from './connection-audit';

/**
 * What a connection change still has to tell the world: its audit entries and its `ConnectionStatusChanged`
 * messages. Written in the same Tables transaction as the change itself (see ConnectionRepository), so a crash
 * after the change can never lose them; delivered right after, and again by the next change of the tenant and the
 * maintenance timer until it succeeds.
 */
export interface OutboxEntry {
  at: string;
  audit: (AuditEntry & { connectionId: string })[];
  messages: OutgoingMessage[];
}

/**
 * Outbox rows live in the connections table, in the tenant's partition, because an Azure Tables transaction (entity
 * group transaction) covers only entities of one table with one PartitionKey, at most 100 of them
 * (learn.microsoft.com/rest/api/storageservices/performing-entity-group-transactions). Connection row keys are GUIDs
 * (hex digits and `-`); `~` sorts after all of them, so `RowKey lt '~'` selects connections and `RowKey ge '~'`
 * the outbox.
 */
export const outboxRowKeyPrefix = '~outbox_';
export const connectionRowsFilter = `RowKey lt '~'`;
const outboxRowsFilter = `RowKey ge '~'`;

type OutboxRow = { partitionKey: string; rowKey: string; entryJson: string };

/** The row that carries `entry` (a new, unique key per change: oldest first within a tenant). */
export function outboxRow(tenantId: string, entry: OutboxEntry): TableEntity<OutboxRow> {
  return {
    partitionKey: tenantId,
    rowKey: `${outboxRowKeyPrefix}${String(Date.parse(entry.at)).padStart(15, '0')}_${randomBytes(8).toString('hex')}`,
    entryJson: JSON.stringify(entry),
  };
}

export interface OutboxDelivery {
  delivered: number;
  /** Rows left pending (delivery failed); tried again by the next change of the tenant and the next timer run. */
  failed: number;
}

/**
 * Delivers outbox rows: the audit entries (written idempotently, keyed by the outbox row), then the messages, then
 * the row is deleted. A crash between any two of these repeats the earlier ones on the next delivery, which changes
 * nothing: the audit rows are upserted under the same keys, and the messages carry the same message ids, which
 * Service Bus duplicate detection drops when they are resent within the queue's `duplicateDetectionHistoryTimeWindow`
 * ("duplicate messages having the same MessageId and sent to the queue within duration of
 * DuplicateDetectionHistoryTimeWindow will be discarded", QueueProperties.RequiresDuplicateDetection,
 * learn.microsoft.com/dotnet/api/azure.messaging.servicebus.administration.queueproperties.requiresduplicatedetection;
 * infra/modules/service-bus.bicep turns it on for every queue with PT10M). The maintenance timer runs more often than
 * that window (MAINTENANCE_SCHEDULE, every 5 minutes), so a resend after such a crash lands inside it.
 */
export class ConnectionOutbox {
  constructor(
    private readonly deps: {
      tables: TableFactory;
      tableName: string;
      audit: Pick<ConnectionAuditLog, 'recordOnce'>;
      sender: MessageSender;
    },
  ) {}

  /** Every pending row of one tenant, oldest first (the next change of a tenant calls this). */
  async deliverTenant(tenantId: string): Promise<OutboxDelivery> {
    return this.deliverWhere(`PartitionKey eq ${odataString(tenantId)} and ${outboxRowsFilter}`);
  }

  /** Pending rows of every tenant, at most `limit` (the maintenance timer). */
  async deliverAll(limit = 500): Promise<OutboxDelivery> {
    return this.deliverWhere(outboxRowsFilter, limit);
  }

  private async deliverWhere(filter: string, limit = Infinity): Promise<OutboxDelivery> {
    const table = await this.deps.tables(this.deps.tableName);
    const rows: (OutboxRow & { etag: string })[] = [];
    for await (const row of table.listEntities<OutboxRow>({ queryOptions: { filter } })) {
      rows.push(row as OutboxRow & { etag: string });
      if (rows.length >= limit) break;
    }
    const outcome: OutboxDelivery = { delivered: 0, failed: 0 };
    for (const row of rows) {
      try {
        await this.deliver(row);
        outcome.delivered++;
      } catch {
        outcome.failed++;
      }
    }
    return outcome;
  }

  private async deliver(row: OutboxRow & { etag: string }): Promise<void> {
    const entry = JSON.parse(row.entryJson) as OutboxEntry;
    await this.deps.audit.recordOnce(row.partitionKey, row.rowKey, entry.audit);
    if (entry.messages.length) await this.deps.sender.send(queueNames.connectionEvents, entry.messages);
    try {
      await (await this.deps.tables(this.deps.tableName)).deleteEntity(row.partitionKey, row.rowKey, { etag: row.etag });
    } catch (e) {
      // Another instance delivered and deleted it first: its resend was dropped as a duplicate.
      if (statusOf(e) !== 404 && !isConcurrencyConflict(e)) throw e;
    }
  }
}
