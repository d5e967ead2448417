import type { ProductEvent } from '../events/product-event';

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'not_started';
export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

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

export const toRunView = (r: Run) => ({
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

/** A run as the API answers it. */
export type RunView = ReturnType<typeof toRunView>;
