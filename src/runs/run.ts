import { z } from 'zod';
import { eventTypes, type ProductEvent } from '../events/product-event';
import type { FormValue } from '../processes/form-values';

export const runStatuses = ['running', 'waiting', 'succeeded', 'failed', 'not_started'] as const;
export type RunStatus = (typeof runStatuses)[number];
export const stepStatuses = ['pending', 'running', 'waiting', 'succeeded', 'failed', 'skipped'] as const;
export type StepStatus = (typeof stepStatuses)[number];
/** A system run starts from a product event; a user run is started by a user on an item. */
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
 * What a run waits for, tagged by `kind`: its initiator to submit a form step (`form`); the initiator's fresh token
 * after their session ran out between steps (`user_session`: On-Behalf-Of needs a live user token and never falls
 * back to another identity); or, while it is still running, the next try of a step that failed transiently
 * (`retrying`).
 */
export type WaitingFor = WaitingForForm | { kind: 'user_session' } | RetryingStep;

export interface WaitingForForm {
  kind: 'form';
  stepId: string;
  userObjectId: string;
}

/**
 * A running run whose step failed transiently (token endpoint or Graph down): it is tried again at `nextAttemptAt`
 * by a scheduled message, retry `attempt` of those since `since` (core/retry-schedule.ts). The run stays `running`.
 */
export interface RetryingStep {
  kind: 'retrying';
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
  /**
   * The run's W3C trace id: the event's or the starting request's `traceparent` continued, else a new trace. Absent on
   * runs stored before traces.
   */
  traceId?: string;
  /** The span that created the run: the parent of its steps' spans (internal, not in the API). */
  traceSpanId?: string;
}

/**
 * The event a step's conditions and templates see. A user run has no product event: its `event.subject` is the item
 * it was started on and `event.data` its inputs, so the same paths work in both kinds of process.
 */
export function scopeEventOf(run: Run): { subject: ItemRef; data: Record<string, unknown>; tenantId: string } & Partial<ProductEvent> {
  return run.event ?? { tenantId: run.tenantId, subject: run.subject, data: run.inputs ?? {} };
}

const itemRefSchema = z.strictObject({ siteId: z.string(), listId: z.string(), itemId: z.string() });
const personSchema = z.strictObject({ objectId: z.string(), username: z.string() });

const stepViewSchema = z.strictObject({
  id: z.string(),
  action: z.string().optional(),
  status: z.enum(stepStatuses),
  startedAt: z.iso.datetime().optional(),
  finishedAt: z.iso.datetime().optional(),
  error: z.string().optional(),
  summary: z.string().optional(),
  executedAs: z
    .discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('user'), username: z.string(), objectId: z.string() }),
      z.strictObject({ kind: z.literal('connection'), username: z.string(), objectId: z.string(), connectionId: z.string() }),
    ])
    .optional(),
  attempts: z.number().int().nonnegative(),
});

/** A run as the API answers it (contract, in the OpenAPI document). */
export const runViewSchema = z.strictObject({
  id: z.string(),
  kind: z.enum(['system', 'user']),
  processId: z.string(),
  processVersion: z.number().int(),
  /** The product event that started a system run. */
  event: z
    .strictObject({
      id: z.string(),
      type: z.enum(eventTypes),
      occurredAt: z.string(),
      subject: itemRefSchema,
    })
    .optional(),
  subject: itemRefSchema,
  initiatedBy: personSchema.optional(),
  inputs: z.record(z.string(), z.unknown()).optional(),
  form: z.record(z.string(), z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))).optional(),
  status: z.enum(runStatuses),
  /** Tagged by `kind`; `reason` repeats the kind of a session or retry wait for clients written before the tag. */
  waitingFor: z
    .discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('form'), stepId: z.string(), userObjectId: z.string() }),
      z.strictObject({ kind: z.literal('user_session'), reason: z.literal('user_session') }),
      z.strictObject({
        kind: z.literal('retrying'),
        reason: z.literal('retrying'),
        stepIndex: z.number().int().nonnegative(),
        nextAttemptAt: z.iso.datetime(),
        attempt: z.number().int().positive(),
        since: z.iso.datetime(),
      }),
    ])
    .optional(),
  reason: z.string().optional(),
  createdAt: z.iso.datetime(),
  finishedAt: z.iso.datetime().optional(),
  /** The run's W3C trace id (docs/processes.md "Traces"). */
  traceId: z.string().optional(),
  steps: z.array(stepViewSchema),
});
export type RunView = z.infer<typeof runViewSchema>;

export const toRunView = (r: Run): RunView => ({
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
  ...(r.waitingFor ? { waitingFor: waitingForView(r.waitingFor) } : {}),
  ...(r.reason ? { reason: r.reason } : {}),
  createdAt: r.createdAt,
  ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}),
  ...(r.traceId ? { traceId: r.traceId } : {}),
  steps: r.steps,
});

const waitingForView = (w: WaitingFor): NonNullable<RunView['waitingFor']> =>
  w.kind === 'form' ? w : w.kind === 'user_session' ? { ...w, reason: 'user_session' } : { ...w, reason: 'retrying' };
