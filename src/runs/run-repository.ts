import { createHash, randomUUID } from 'node:crypto';
import {
  getEntityOrUndefined,
  isConcurrencyConflict,
  isSizeRefusal,
  odataString,
  statusOf,
  tableLimits,
  type TableFactory,
} from '../adapters/tables';
import type { Run } from './run';
import { fromRow, RunTooLargeError, toRow, type RunRow } from './run-rows';

export { RunTooLargeError } from './run-rows';

/** Tables' own size refusal (should the estimate ever be short of the service's count) as the same clear error. */
async function storing<T>(run: Run, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    if (isSizeRefusal(e))
      throw new RunTooLargeError(run.id, `Azure Tables refused it as too large (entity limit ${tableLimits.maxEntityBytes} bytes)`);
    throw e;
  }
}

export const runIdPattern = /^\d{13}-[0-9a-f]{16}$/;

const timeOrderedId = (at: Date, hashOf: string) =>
  `${String(9_999_999_999_999 - at.getTime()).padStart(13, '0')}-${createHash('sha256').update(hashOf).digest('hex').slice(0, 16)}`;

/**
 * Run ids sort newest first by the time the event was received (inverted), never by the event's own `occurredAt`,
 * which the sender controls (a year-2300 `occurredAt` would give ids the step runner refuses, sorted ahead of
 * every real run). The rest derives from the event and process, so a redelivered event finds its run instead of
 * starting a second one: `receivedAt` comes from `RunRepository.receivedAt`, the same for every delivery.
 */
export function runIdFor(event: { id: string; tenantId: string }, processId: string, receivedAt: Date): string {
  return timeOrderedId(receivedAt, `${event.tenantId}|${event.id}|${processId}`);
}

/** A user run's id: ordered like the others by its start, the rest random (nothing to deduplicate: one HTTP call, one run). */
export const newRunId = (at: Date): string => timeOrderedId(at, randomUUID());

/** Remembers when an event was first received (row `received-<hash>` of the runs table, beside its runs). */
type ReceivedRow = { partitionKey: string; rowKey: string; eventId: string; receivedAt: string };
const receivedRowKey = (tenantId: string, eventId: string) =>
  `received-${createHash('sha256').update(`${tenantId}|${eventId}`).digest('hex').slice(0, 32)}`;
/** Run rows start with a digit (runIdPattern); every other row of the table sorts after ':'. */
const onlyRuns = `RowKey lt ':'`;

export class RunRepository {
  constructor(
    private readonly tables: TableFactory,
    private readonly tableName: string,
  ) {}

  /**
   * When the event was first received: `now` on its first delivery (stored with a conditional insert), the stored
   * time on every later one, also when two deliveries race. Run ids derive from it (runIdFor).
   */
  async receivedAt(event: { tenantId: string; id: string }, now: Date): Promise<Date> {
    const table = await this.tables(this.tableName);
    const row: ReceivedRow = {
      partitionKey: event.tenantId,
      rowKey: receivedRowKey(event.tenantId, event.id),
      eventId: event.id,
      receivedAt: now.toISOString(),
    };
    try {
      await table.createEntity(row);
      return now;
    } catch (e) {
      if (statusOf(e) !== 409) throw e;
    }
    const stored = await getEntityOrUndefined<ReceivedRow>(table, row.partitionKey, row.rowKey);
    if (!stored) throw new Error('the received-time row of an event vanished');
    return new Date(stored.receivedAt);
  }

  /** The run an event started for a process, if the event was received and the run stored. */
  async findForEvent(tenantId: string, eventId: string, processId: string): Promise<Run | undefined> {
    const received = await getEntityOrUndefined<ReceivedRow>(
      await this.tables(this.tableName),
      tenantId,
      receivedRowKey(tenantId, eventId),
    );
    return received && this.get(tenantId, runIdFor({ tenantId, id: eventId }, processId, new Date(received.receivedAt)));
  }

  /** Creates the run; false when it already exists (a redelivered event). */
  async create(run: Run): Promise<boolean> {
    const row = toRow(run);
    try {
      await storing(run, async () => (await this.tables(this.tableName)).createEntity(row));
      return true;
    } catch (e) {
      if (statusOf(e) === 409) return false;
      throw e;
    }
  }

  async get(tenantId: string, id: string): Promise<Run | undefined> {
    const row = await getEntityOrUndefined<RunRow>(await this.tables(this.tableName), tenantId, id);
    return row && fromRow(row);
  }

  async list(tenantId: string, options: { processId?: string; initiatedBy?: string; limit?: number } = {}): Promise<Run[]> {
    const table = await this.tables(this.tableName);
    const filter = [
      `PartitionKey eq ${odataString(tenantId)}`,
      onlyRuns,
      ...(options.processId ? [`processId eq ${odataString(options.processId)}`] : []),
      ...(options.initiatedBy ? [`initiatedByObjectId eq ${odataString(options.initiatedBy)}`] : []),
    ].join(' and ');
    const limit = options.limit ?? 50;
    const out: Run[] = [];
    for await (const row of table.listEntities<RunRow>({ queryOptions: { filter } })) {
      out.push(fromRow(row as RunRow));
      if (out.length >= limit) break;
    }
    return out;
  }

  /** How many of a user's runs are `running` or `waiting`, counted up to `atMost` (reads only as many rows). */
  async countActive(tenantId: string, initiatedBy: string, atMost: number): Promise<number> {
    const table = await this.tables(this.tableName);
    const filter = [
      `PartitionKey eq ${odataString(tenantId)}`,
      onlyRuns,
      `initiatedByObjectId eq ${odataString(initiatedBy)}`,
      `(status eq 'running' or status eq 'waiting')`,
    ].join(' and ');
    let count = 0;
    for await (const _ of table.listEntities({ queryOptions: { filter, select: ['RowKey'] } })) if (++count >= atMost) break;
    return count;
  }

  async getWithEtag(tenantId: string, id: string): Promise<{ run: Run; etag: string } | undefined> {
    const row = await getEntityOrUndefined<RunRow>(await this.tables(this.tableName), tenantId, id);
    return row && { run: fromRow(row), etag: row.etag };
  }

  /** Replaces the run if it still has `etag`; returns the new ETag (a stale one throws a 412). */
  async replace(run: Run, etag: string): Promise<string> {
    const row = toRow(run);
    const result = await storing(run, async () => (await this.tables(this.tableName)).updateEntity(row, 'Replace', { etag }));
    return result.etag!;
  }

  /** Read-modify-write with the row's ETag; `change` returns undefined to leave the run as it is. */
  async update(tenantId: string, id: string, change: (run: Run) => Run | undefined): Promise<Run | undefined> {
    const table = await this.tables(this.tableName);
    for (let attempt = 0; attempt < 10; attempt++) {
      const row = await getEntityOrUndefined<RunRow>(table, tenantId, id);
      if (!row) return undefined;
      const current = fromRow(row);
      const next = change(current);
      if (!next) return current;
      try {
        const nextRow = toRow(next);
        await storing(next, () => table.updateEntity(nextRow, 'Replace', { etag: row.etag }));
        return next;
      } catch (e) {
        if (!isConcurrencyConflict(e)) throw e;
      }
    }
    throw new Error('run update kept conflicting');
  }
}
