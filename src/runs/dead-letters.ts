import { randomUUID } from 'node:crypto';
import { odataString, type TableFactory } from '../adapters/tables';

export interface DeadLetter {
  queue: string;
  messageId?: string;
  reason: string;
  /** The start of the body, for diagnosis (events and step messages carry no token material). */
  bodyPreview: string;
  at: string;
}

/**
 * Rows: partition = queue, row = inverted time + random (newest first), `at` = when recorded; deleted after
 * DEAD_LETTER_RETENTION_DAYS by the maintenance timer (retention.ts).
 *
 * Messages that can never be processed (malformed, pointing at nothing) are recorded here with the
 * reason and completed, instead of being retried until Service Bus gives up without saying why.
 */
export class DeadLetterLog {
  constructor(
    private readonly tables: TableFactory,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async record(entry: Omit<DeadLetter, 'at' | 'bodyPreview'> & { body: unknown }): Promise<void> {
    const now = this.now();
    const at = now.toISOString();
    const text = typeof entry.body === 'string' ? entry.body : (JSON.stringify(entry.body) ?? String(entry.body));
    await (
      await this.tables(this.tableName)
    ).createEntity({
      partitionKey: entry.queue,
      rowKey: `${String(9_999_999_999_999 - now.getTime()).padStart(13, '0')}-${randomUUID()}`,
      messageId: entry.messageId ?? '',
      reason: entry.reason.slice(0, 1000),
      bodyPreview: text.slice(0, 2000),
      at,
    });
  }

  async list(queue: string, limit = 100): Promise<DeadLetter[]> {
    const table = await this.tables(this.tableName);
    const out: DeadLetter[] = [];
    for await (const row of table.listEntities<DeadLetter>({ queryOptions: { filter: `PartitionKey eq ${odataString(queue)}` } })) {
      out.push({ queue, messageId: row.messageId || undefined, reason: row.reason, bodyPreview: row.bodyPreview, at: row.at });
      if (out.length >= limit) break;
    }
    return out;
  }
}
