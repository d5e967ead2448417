import { entitySizeProblem, withoutUndefined } from '../adapters/tables';
import type { ProductEvent } from '../events/product-event';
import { AppError } from '../shared/errors';
import { recordLimits, truncated } from './record-limits';
import type { ExecutedAs, RetryingStep, Run, StepRecord, WaitingFor } from './run';

/** A run as one Table row, and back; rows written by earlier versions read as today's runs. */

export type RunRow = {
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
export function toRow(r: Run): RunRow {
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

export const fromRow = (row: RunRow): Run => {
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
