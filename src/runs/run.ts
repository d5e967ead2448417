import { z } from 'zod';
import { eventTypes, type ProductEvent } from '../events/product-event';

export const runStatuses = ['running', 'succeeded', 'failed', 'not_started'] as const;
export type RunStatus = (typeof runStatuses)[number];
export const stepStatuses = ['pending', 'running', 'succeeded', 'failed', 'skipped'] as const;
export type StepStatus = (typeof stepStatuses)[number];

export interface ExecutedAs {
  connectionId: string;
  username: string;
}

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

/** One execution of a published process version, with the audit of who did what. */
export interface Run {
  id: string;
  tenantId: string;
  processId: string;
  processVersion: number;
  event: ProductEvent;
  status: RunStatus;
  reason?: string;
  createdAt: string;
  finishedAt?: string;
  steps: StepRecord[];
}

const stepViewSchema = z.strictObject({
  id: z.string(),
  action: z.string().optional(),
  status: z.enum(stepStatuses),
  startedAt: z.iso.datetime().optional(),
  finishedAt: z.iso.datetime().optional(),
  error: z.string().optional(),
  summary: z.string().optional(),
  executedAs: z.strictObject({ connectionId: z.string(), username: z.string() }).optional(),
  attempts: z.number().int().nonnegative(),
});

/** A run as the API answers it (contract, in the OpenAPI document). */
export const runViewSchema = z.strictObject({
  id: z.string(),
  processId: z.string(),
  processVersion: z.number().int(),
  event: z.strictObject({
    id: z.string(),
    type: z.enum(eventTypes),
    occurredAt: z.string(),
    subject: z.strictObject({ siteId: z.string(), listId: z.string(), itemId: z.string() }),
  }),
  status: z.enum(runStatuses),
  reason: z.string().optional(),
  createdAt: z.iso.datetime(),
  finishedAt: z.iso.datetime().optional(),
  steps: z.array(stepViewSchema),
});
export type RunView = z.infer<typeof runViewSchema>;

export const toRunView = (r: Run): RunView => ({
  id: r.id,
  processId: r.processId,
  processVersion: r.processVersion,
  event: { id: r.event.id, type: r.event.type, occurredAt: r.event.occurredAt, subject: r.event.subject },
  status: r.status,
  ...(r.reason ? { reason: r.reason } : {}),
  createdAt: r.createdAt,
  ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}),
  steps: r.steps,
});
