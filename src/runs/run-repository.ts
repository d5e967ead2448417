import { createHash, randomUUID } from 'node:crypto';
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
import type { ProductEvent } from '../events/product-event';
import type { ExecutedAs, RetryingStep, Run, StepRecord, WaitingFor } from './run';

type RunRow = {
  partitionKey: string;
  rowKey: string;
  /** Absent on rows written before user processes: those are system runs. */
  kind?: Run['kind'];
  processId: string;
  processVersion: number;
  /** System runs only. */
  eventJson?: string;
  /** Absent on rows written before user processes: the event's subject. */
  subjectJson?: string;
  /** Its own column, so `GET runs?initiatedBy=me` is a Tables query. */
  initiatedByObjectId?: string;
  initiatedByUsername?: string;
  inputsJson?: string;
  formJson?: string;
  waitingForJson?: string;
  status: Run['status'];
  reason?: string;
  createdAt: string;
  finishedAt?: string;
  traceId?: string;
  traceSpanId?: string;
  /** The steps' JSON, split over `stepsJson`, `stepsJson2`, `stepsJson3`, ... (one string property holds 32K characters). */
  stepsJson: string;
  [more: `stepsJson${number}`]: string;
};

/** Characters per steps chunk: under Tables' 32K per string property. */
const stepsChunkChars = 32_000;

/** A run that cannot be stored even with its free text bounded (it would exceed what one entity holds). */
export class RunTooLargeError extends AppError {
  constructor(
    readonly runId: string,
    detail: string,
  ) {
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
    kind: r.kind,
    processId: r.processId,
    processVersion: r.processVersion,
    eventJson: r.event && JSON.stringify(r.event),
    subjectJson: JSON.stringify(r.subject),
    initiatedByObjectId: r.initiatedBy?.objectId,
    initiatedByUsername: r.initiatedBy?.username,
    inputsJson: r.inputs && JSON.stringify(r.inputs),
    formJson: r.form && JSON.stringify(r.form),
    waitingForJson: r.waitingFor && JSON.stringify(r.waitingFor),
    status: r.status,
    reason: r.reason === undefined ? undefined : truncated(r.reason, recordLimits.runReasonChars),
    createdAt: r.createdAt,
    finishedAt: r.finishedAt,
    traceId: r.traceId,
    traceSpanId: r.traceSpanId,
    ...chunks,
  }) as RunRow;
  const problem = entitySizeProblem(row);
  if (problem) throw new RunTooLargeError(r.id, problem);
  return row;
}

/**
 * A step as recorded before user processes named only `{connectionId, username}` as its executor: it was a connection. The
 * account's object id was not kept then, so it reads as empty.
 */
function migratedStep(step: StepRecord): StepRecord {
  const executedAs = step.executedAs as (Partial<ExecutedAs> & { connectionId?: string; username: string }) | undefined;
  if (!executedAs || executedAs.kind) return step;
  return {
    ...step,
    executedAs: { kind: 'connection', connectionId: executedAs.connectionId ?? '', username: executedAs.username, objectId: '' },
  };
}

function stepsOf(row: RunRow): StepRecord[] {
  let json = row.stepsJson;
  for (let n = 2; typeof row[`stepsJson${n}`] === 'string'; n++) json += row[`stepsJson${n}`];
  return (JSON.parse(json) as StepRecord[]).map(migratedStep);
}

/** `waitingFor` as rows written before it had a `kind` keep it. */
type UntaggedWaitingFor =
  { stepId: string; userObjectId: string } | { reason: 'user_session' } | (Omit<RetryingStep, 'kind'> & { reason: 'retrying' });

function waitingForOf(stored: WaitingFor | UntaggedWaitingFor): WaitingFor {
  if ('kind' in stored) return stored;
  if ('stepId' in stored) return { kind: 'form', ...stored };
  if (stored.reason === 'user_session') return { kind: 'user_session' };
  const { reason: _reason, ...retrying } = stored;
  return { kind: 'retrying', ...retrying };
}

const fromRow = (row: RunRow): Run => {
  const event = row.eventJson === undefined ? undefined : (JSON.parse(row.eventJson) as ProductEvent);
  return {
    id: row.rowKey,
    tenantId: row.partitionKey,
    kind: row.kind ?? 'system',
    processId: row.processId,
    processVersion: row.processVersion,
    ...(event ? { event } : {}),
    subject: row.subjectJson ? JSON.parse(row.subjectJson) : event!.subject,
    ...(row.initiatedByObjectId ? { initiatedBy: { objectId: row.initiatedByObjectId, username: row.initiatedByUsername ?? '' } } : {}),
    ...(row.inputsJson ? { inputs: JSON.parse(row.inputsJson) } : {}),
    ...(row.formJson ? { form: JSON.parse(row.formJson) } : {}),
    status: row.status,
    ...(row.waitingForJson ? { waitingFor: waitingForOf(JSON.parse(row.waitingForJson)) } : {}),
    ...(row.reason ? { reason: row.reason } : {}),
    createdAt: row.createdAt,
    ...(row.finishedAt ? { finishedAt: row.finishedAt } : {}),
    ...(row.traceId ? { traceId: row.traceId } : {}),
    ...(row.traceSpanId ? { traceSpanId: row.traceSpanId } : {}),
    steps: stepsOf(row),
  };
};

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
