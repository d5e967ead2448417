import type { ProductEvent } from '../events/product-event';
import type { FormValue } from '../processes/form-values';

export type RunStatus = 'running' | 'waiting' | 'succeeded' | 'failed' | 'not_started';
export type StepStatus = 'pending' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'skipped';
/** A system run starts from a product event; a user run is started by a user on an item (issue 13). */
export type RunKind = 'system' | 'user';

/** Who executed a step (contract): the user a user process runs for, or a connection (a service account). */
export type ExecutedAs =
  { kind: 'user'; username: string; objectId: string } | { kind: 'connection'; username: string; objectId: string; connectionId: string };

export interface StepRecord {
  id: string;
  action?: string;
  status: StepStatus;
  startedAt?: string;
  finishedAt?: string;
  error?: string;
  summary?: string;
  executedAs?: ExecutedAs;
  attempts: number;
}

/** The list item a run is about: the event's subject, or the item a user started the run on. */
export interface ItemRef {
  siteId: string;
  listId: string;
  itemId: string;
}

export interface Initiator {
  objectId: string;
  username: string;
}

/**
 * What a waiting run waits for: the initiator to submit a form step, or the initiator's fresh token after their
 * session ran out between steps (On-Behalf-Of needs a live user token; it never falls back to another identity);
 * or, while it is still running, the next try of a step that failed transiently.
 */
export type WaitingFor = { stepId: string; userObjectId: string } | { reason: 'user_session' } | RetryingStep;

/**
 * A running run whose step failed transiently (token endpoint or Graph down): it is tried again at `nextAttemptAt`
 * by a scheduled message, retry `attempt` of those since `since` (step-retry-schedule.ts). The run stays `running`.
 */
export interface RetryingStep {
  reason: 'retrying';
  stepIndex: number;
  nextAttemptAt: string;
  attempt: number;
  since: string;
}

/** One execution of a published process version, with the audit of who did what. */
export interface Run {
  id: string;
  tenantId: string;
  kind: RunKind;
  processId: string;
  processVersion: number;
  /** The product event that started a system run. */
  event?: ProductEvent;
  subject: ItemRef;
  initiatedBy?: Initiator;
  /** What the user started the run with (`{{event.data.…}}` in its steps). */
  inputs?: Record<string, unknown>;
  /** Submitted form values by step id (`{{form.<stepId>.<field>}}`). */
  form?: Record<string, Record<string, FormValue>>;
  status: RunStatus;
  waitingFor?: WaitingFor;
  reason?: string;
  createdAt: string;
  finishedAt?: string;
  steps: StepRecord[];
}

/**
 * The event a step's conditions and templates see. A user run has no product event: its `event.subject` is the item
 * it was started on and `event.data` its inputs, so the same paths work in both kinds of process.
 */
export function scopeEventOf(run: Run): { subject: ItemRef; data: Record<string, unknown>; tenantId: string } & Partial<ProductEvent> {
  return run.event ?? { tenantId: run.tenantId, subject: run.subject, data: run.inputs ?? {} };
}

export const toRunView = (r: Run) => ({
  id: r.id,
  kind: r.kind,
  processId: r.processId,
  processVersion: r.processVersion,
  ...(r.event ? { event: { id: r.event.id, type: r.event.type, occurredAt: r.event.occurredAt, subject: r.event.subject } } : {}),
  subject: r.subject,
  ...(r.initiatedBy ? { initiatedBy: r.initiatedBy } : {}),
  ...(r.inputs ? { inputs: r.inputs } : {}),
  ...(r.form ? { form: r.form } : {}),
  status: r.status,
  ...(r.waitingFor ? { waitingFor: r.waitingFor } : {}),
  ...(r.reason ? { reason: r.reason } : {}),
  createdAt: r.createdAt,
  ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}),
  steps: r.steps,
});

/** A run as the API answers it. */
export type RunView = ReturnType<typeof toRunView>;
