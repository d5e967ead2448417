import { createHash } from 'node:crypto';
import {
  entitySizeProblem,
  getEntityOrUndefined,
  isConcurrencyConflict,
  isSizeRefusal,
  odataString,
  statusOf,
  tableLimits,
  withoutUndefined,
  type TableFactory,
} from '../adapters/tables';
import { AppError } from '../shared/errors';
import { recordLimits, truncated } from './record-limits';
import type { Run, StepRecord } from './run';

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
  /** The steps' JSON, split over `stepsJson`, `stepsJson2`, `stepsJson3`, ... (one string property holds 32K characters). */
  stepsJson: string;
  [more: `stepsJson${number}`]: string;
};

/** Characters per steps chunk: under Tables' 32K per string property. */
const stepsChunkChars = 32_000;

/** A run that cannot be stored even with its free text bounded (it would exceed what one entity holds). */
export class RunTooLargeError extends AppError {
  constructor(readonly runId: string, detail: string) {
    super('too_large', `Run ${runId} cannot be stored: ${detail}.`);
    this.name = 'RunTooLargeError';
  }
}

const boundedStep = (s: StepRecord): StepRecord => ({
  ...s,
  ...(s.error !== undefined ? { error: truncated(s.error, recordLimits.stepErrorChars) } : {}),
  ...(s.summary !== undefined ? { summary: truncated(s.summary, recordLimits.stepSummaryChars) } : {}),
});

/** The run as a row: free text bounded, steps split over as many properties as they need, the whole checked against Tables' limits. */
function toRow(r: Run): RunRow {
  const steps = JSON.stringify(r.steps.map(boundedStep));
  const chunks: Record<string, string> = {};
  for (let i = 0, n = 1; i === 0 || i < steps.length; i += stepsChunkChars, n++) {
    chunks[n === 1 ? 'stepsJson' : `stepsJson${n}`] = steps.slice(i, i + stepsChunkChars);
  }
  const row = withoutUndefined({
    partitionKey: r.tenantId,
    rowKey: r.id,
    processId: r.processId,
    processVersion: r.processVersion,
    eventJson: JSON.stringify(r.event),
    status: r.status,
    reason: r.reason === undefined ? undefined : truncated(r.reason, recordLimits.runReasonChars),
    createdAt: r.createdAt,
    finishedAt: r.finishedAt,
    ...chunks,
  }) as RunRow;
  const problem = entitySizeProblem(row);
  if (problem) throw new RunTooLargeError(r.id, problem);
  return row;
}

function stepsOf(row: RunRow): StepRecord[] {
  let json = row.stepsJson;
  for (let n = 2; typeof row[`stepsJson${n}`] === 'string'; n++) json += row[`stepsJson${n}`];
  return JSON.parse(json);
}

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
  steps: stepsOf(row),
});

/** Tables' own size refusal (should the estimate ever be short of the service's count) as the same clear error. */
async function storing<T>(run: Run, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    if (isSizeRefusal(e)) throw new RunTooLargeError(run.id, `Azure Tables refused it as too large (entity limit ${tableLimits.maxEntityBytes} bytes)`);
    throw e;
  }
}

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
      const current = fromRow(row as unknown as RunRow);
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
