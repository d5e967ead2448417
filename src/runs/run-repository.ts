import { createHash } from 'node:crypto';
import { getEntityOrUndefined, isConcurrencyConflict, odataString, statusOf, withoutUndefined, type TableFactory } from '../adapters/tables';
import type { Run } from './run';

type RunRow = {
  partitionKey: string;
  rowKey: string;
  processId: string;
  processVersion: number;
  eventJson: string;
  status: Run['status'];
  reason?: string;
  createdAt: string;
  finishedAt?: string;
  stepsJson: string;
};

const toRow = (r: Run): RunRow =>
  withoutUndefined({
    partitionKey: r.tenantId,
    rowKey: r.id,
    processId: r.processId,
    processVersion: r.processVersion,
    eventJson: JSON.stringify(r.event),
    status: r.status,
    reason: r.reason,
    createdAt: r.createdAt,
    finishedAt: r.finishedAt,
    stepsJson: JSON.stringify(r.steps),
  });

const fromRow = (row: RunRow): Run => ({
  id: row.rowKey,
  tenantId: row.partitionKey,
  processId: row.processId,
  processVersion: row.processVersion,
  event: JSON.parse(row.eventJson),
  status: row.status,
  ...(row.reason ? { reason: row.reason } : {}),
  createdAt: row.createdAt,
  ...(row.finishedAt ? { finishedAt: row.finishedAt } : {}),
  steps: JSON.parse(row.stepsJson),
});

export const runIdPattern = /^\d{13}-[0-9a-f]{16}$/;

/**
 * Run ids sort newest first (inverted event time) and are derived from the event and process, so a
 * redelivered event finds its run instead of starting a second one.
 */
export function runIdFor(event: { id: string; occurredAt: string; tenantId: string }, processId: string): string {
  const inverted = String(9_999_999_999_999 - Date.parse(event.occurredAt)).padStart(13, '0');
  const hash = createHash('sha256').update(`${event.tenantId}|${event.id}|${processId}`).digest('hex').slice(0, 16);
  return `${inverted}-${hash}`;
}

export class RunRepository {
  constructor(
    private readonly tables: TableFactory,
    private readonly tableName: string,
  ) {}

  /** Creates the run; false when it already exists (a redelivered event). */
  async create(run: Run): Promise<boolean> {
    try {
      await (await this.tables(this.tableName)).createEntity(toRow(run));
      return true;
    } catch (e) {
      if (statusOf(e) === 409) return false;
      throw e;
    }
  }

  async get(tenantId: string, id: string): Promise<Run | undefined> {
    const row = await getEntityOrUndefined<RunRow>(await this.tables(this.tableName), tenantId, id);
    return row && fromRow(row as unknown as RunRow);
  }

  async list(tenantId: string, options: { processId?: string; limit?: number } = {}): Promise<Run[]> {
    const table = await this.tables(this.tableName);
    const filter = [`PartitionKey eq ${odataString(tenantId)}`, ...(options.processId ? [`processId eq ${odataString(options.processId)}`] : [])].join(' and ');
    const limit = options.limit ?? 50;
    const out: Run[] = [];
    for await (const row of table.listEntities<RunRow>({ queryOptions: { filter } })) {
      out.push(fromRow(row as RunRow));
      if (out.length >= limit) break;
    }
    return out;
  }

  async getWithEtag(tenantId: string, id: string): Promise<{ run: Run; etag: string } | undefined> {
    const row = await getEntityOrUndefined<RunRow>(await this.tables(this.tableName), tenantId, id);
    return row && { run: fromRow(row as unknown as RunRow), etag: row.etag };
  }

  /** Replaces the run if it still has `etag`; returns the new ETag (a stale one throws a 412). */
  async replace(run: Run, etag: string): Promise<string> {
    const result = await (await this.tables(this.tableName)).updateEntity(toRow(run), 'Replace', { etag });
    return result.etag!;
  }

  /** Read-modify-write with the row's ETag; `change` returns undefined to leave the run as it is. */
  async update(tenantId: string, id: string, change: (run: Run) => Run | undefined): Promise<Run | undefined> {
    const table = await this.tables(this.tableName);
    for (let attempt = 0; attempt < 10; attempt++) {
      const row = await getEntityOrUndefined<RunRow>(table, tenantId, id);
      if (!row) return undefined;
      const current = fromRow(row as unknown as RunRow);
      const next = change(current);
      if (!next) return current;
      try {
        await table.updateEntity(toRow(next), 'Replace', { etag: row.etag });
        return next;
      } catch (e) {
        if (!isConcurrencyConflict(e)) throw e;
      }
    }
    throw new Error('run update kept conflicting');
  }
}
