import type { TableClient, TransactionAction } from '@azure/data-tables';
import { statusOf, type TableFactory } from '../adapters/tables';

const dayMs = 24 * 3600_000;

/** What ages out, and after how long: one table, the ISO time property that dates a row, and the days it is kept. */
export interface RetentionRule {
  /** What the README and the timer's log call it. */
  name: 'runs' | 'deadLetters' | 'audit' | 'userSessions';
  table: string;
  /** Rows are deleted when any of these ISO 8601 UTC time properties is older than the cutoff. */
  timeProperties: readonly string[];
  days: number;
}

/** The oldest time a rule keeps at `now`: rows dated before it are deleted. */
export const retentionCutoff = (now: Date, days: number): string => new Date(now.getTime() - days * dayMs).toISOString();

/**
 * The OData filter of rows past the cutoff. The properties hold ISO 8601 UTC strings of one format
 * (`toISOString`), which sort as text in time order, so a string comparison is a time comparison. A row without
 * the property does not match (the service compares only rows that have it).
 */
export function expiredFilter(timeProperties: readonly string[], cutoff: string): string {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(cutoff)) throw new RangeError('cutoff must be an ISO 8601 UTC time');
  return timeProperties.map((p) => `${p} lt '${cutoff}'`).join(' or ');
}

export interface RetentionOutcome {
  name: RetentionRule['name'];
  cutoff: string;
  deleted: number;
  /** The batch was full: more rows may be past the cutoff; the next timer run continues with them. */
  more: boolean;
  /** Why this rule stopped early (tried again next run). */
  failed?: string;
}

/**
 * Deletes what is past its retention, at most `batchSize` rows per rule per run, so one timer run stays short however
 * much has piled up. Nothing to remember between runs: the rows deleted are gone, so the next run's query starts with
 * the oldest rows still past the cutoff, i.e. where this run stopped. Rows are deleted in transactions of up to 100
 * rows of one partition (an entity group transaction's limit); a batch that fails (e.g. a row deleted meanwhile by
 * another instance) is retried row by row, ignoring rows already gone.
 */
export class Retention {
  private readonly now: () => Date;

  constructor(private readonly deps: { tables: TableFactory; rules: readonly RetentionRule[]; batchSize?: number; now?: () => Date }) {
    this.now = deps.now ?? (() => new Date());
  }

  get batchSize(): number {
    return this.deps.batchSize ?? 500;
  }

  async run(): Promise<RetentionOutcome[]> {
    const now = this.now();
    const outcomes: RetentionOutcome[] = [];
    for (const rule of this.deps.rules) {
      const cutoff = retentionCutoff(now, rule.days);
      const outcome: RetentionOutcome = { name: rule.name, cutoff, deleted: 0, more: false };
      try {
        const table = await this.deps.tables(rule.table);
        const keys = await this.expiredKeys(table, expiredFilter(rule.timeProperties, cutoff));
        outcome.more = keys.length >= this.batchSize;
        outcome.deleted = await deleteRows(table, keys);
      } catch (e) {
        outcome.failed = `${(e as Error)?.name ?? 'Error'} while deleting expired ${rule.name}`;
      }
      outcomes.push(outcome);
    }
    return outcomes;
  }

  private async expiredKeys(table: TableClient, filter: string): Promise<{ partitionKey: string; rowKey: string }[]> {
    const keys: { partitionKey: string; rowKey: string }[] = [];
    // Keys only: a run row carries its event and steps (up to about 1 MB).
    const pages = table.listEntities({ queryOptions: { filter, select: ['PartitionKey', 'RowKey'] } }).byPage({ maxPageSize: 100 });
    for await (const page of pages) {
      for (const row of page) {
        keys.push({ partitionKey: row.partitionKey!, rowKey: row.rowKey! });
        if (keys.length >= this.batchSize) return keys;
      }
    }
    return keys;
  }
}

async function deleteRows(table: TableClient, keys: readonly { partitionKey: string; rowKey: string }[]): Promise<number> {
  const byPartition = new Map<string, string[]>();
  for (const k of keys) byPartition.set(k.partitionKey, [...(byPartition.get(k.partitionKey) ?? []), k.rowKey]);
  let deleted = 0;
  for (const [partitionKey, rowKeys] of byPartition) {
    for (let i = 0; i < rowKeys.length; i += 100) {
      const chunk = rowKeys.slice(i, i + 100);
      try {
        const actions: TransactionAction[] = chunk.map((rowKey) => ['delete', { partitionKey, rowKey }]);
        await table.submitTransaction(actions);
        deleted += chunk.length;
      } catch {
        for (const rowKey of chunk) {
          try {
            await table.deleteEntity(partitionKey, rowKey);
            deleted++;
          } catch (e) {
            if (statusOf(e) !== 404) throw e;
          }
        }
      }
    }
  }
  return deleted;
}
