import type { ProductEvent } from '../../events/product-event';
import type { FormValue } from '../../processes/form-values';
import type { ItemRef, Initiator, Run, RunKind } from '../run';
import type { Refusal, Transition } from './commands';
import { withOutcome, withoutWaiting } from './step-records';

/** What a new run is made of: its process version and steps, what it is about, who started it, its trace. */
export interface NewRun {
  id: string;
  tenantId: string;
  kind: RunKind;
  process: { id: string; version: number; steps: readonly { id: string; action?: string }[] };
  subject: ItemRef;
  /** The product event that starts a system run. */
  event?: ProductEvent;
  /** The user who starts a user run. */
  initiatedBy?: Initiator;
  inputs?: Record<string, unknown>;
  trace: { traceId: string; spanId: string };
  /** A run that is not started (the loop guard) or fails at once (no connection), and why. */
  stopped?: { status: 'not_started' | 'failed'; reason: string };
}

/** The one run constructor: every step pending; a run that starts sends its first step (the creator writes it first). */
export function newRun(spec: NewRun, now: Date): Transition {
  const at = now.toISOString();
  const run: Run = {
    id: spec.id,
    tenantId: spec.tenantId,
    kind: spec.kind,
    processId: spec.process.id,
    processVersion: spec.process.version,
    ...(spec.event ? { event: spec.event } : {}),
    subject: spec.subject,
    ...(spec.initiatedBy ? { initiatedBy: spec.initiatedBy } : {}),
    ...(spec.inputs ? { inputs: spec.inputs } : {}),
    status: spec.stopped?.status ?? 'running',
    ...(spec.stopped ? { reason: spec.stopped.reason, finishedAt: at } : {}),
    createdAt: at,
    steps: spec.process.steps.map((s) => ({ id: s.id, ...(s.action ? { action: s.action } : {}), status: 'pending', attempts: 0 })),
    traceId: spec.trace.traceId,
    traceSpanId: spec.trace.spanId,
  };
  return { run, commands: startCommands(run) };
}

/** What a stored run that runs needs to go on: its first step's message (a redelivered event resends it: a duplicate). */
export const startCommands = (run: Run): Transition['commands'] =>
  run.status === 'running' ? [{ kind: 'sendStep', step: { tenantId: run.tenantId, runId: run.id, stepIndex: 0 } }] : [];

/** A user run whose first step could not be queued: it fails at once (nothing ran). */
export function queueingFailed(run: Run, now: Date): Transition {
  const failed: Run = { ...run, status: 'failed', reason: 'The run could not be queued.', finishedAt: now.toISOString() };
  return { run: failed, commands: [{ kind: 'dropUserSession' }, { kind: 'writeRun', run: failed }] };
}

export const noFormWaitingMessage = 'This run has no form step waiting for you under that id.';

/** The form step `stepId` the run waits for from its initiator, if it waits for that one. */
export function waitingForm(run: Run, stepId: string): number | undefined {
  const w = run.waitingFor;
  if (run.status !== 'waiting' || w?.kind !== 'form' || w.stepId !== stepId) return undefined;
  const index = run.steps.findIndex((s) => s.id === stepId);
  return index < 0 ? undefined : index;
}

/**
 * The initiator submitted the form step `stepId` with `values` (already validated against its fields): the step
 * succeeds like any other (`withOutcome`), the run goes on with their new token, or ends with its last step.
 */
export function formSubmitted(
  run: Run,
  submission: { stepId: string; values: Record<string, FormValue>; by: Initiator },
  now: Date,
): Transition | Refusal {
  const index = waitingForm(run, submission.stepId);
  if (index === undefined) return { refused: noFormWaitingMessage };
  const { by } = submission;
  const resumed: Run = { ...withoutWaiting(run), status: 'running', form: { ...run.form, [submission.stepId]: submission.values } };
  const next = withOutcome(
    resumed,
    index,
    {
      status: 'succeeded',
      summary: `Submitted by ${by.username}`,
      executedAs: { kind: 'user', username: by.username, objectId: by.objectId },
    },
    now.toISOString(),
  );
  if (next.status !== 'running') return { run: next, commands: [{ kind: 'writeRun', run: next }, { kind: 'dropUserSession' }] };
  return {
    run: next,
    commands: [
      // The token first: the next step may run the moment its message is sent.
      { kind: 'storeUserSession' },
      { kind: 'writeRun', run: next },
      { kind: 'sendStep', step: { tenantId: run.tenantId, runId: run.id, stepIndex: index + 1 } },
    ],
  };
}

export const notWaitingForSessionMessage = 'This run is not waiting for your sign-in.';

export const waitsForUserSession = (run: Run): boolean => run.status === 'waiting' && run.waitingFor?.kind === 'user_session';

/** The initiator came back with a fresh token: the run runs again from its first pending step. */
export function resumed(run: Run, now: Date): Transition | Refusal {
  if (!waitsForUserSession(run)) return { refused: notWaitingForSessionMessage };
  // The reason said why it waited; it runs again.
  const { waitingFor: _waitingFor, reason: _reason, ...rest } = run;
  const running: Run = { ...rest, status: 'running' };
  const index = running.steps.findIndex((s) => s.status === 'pending');
  return {
    run: running,
    commands: [
      { kind: 'storeUserSession' },
      { kind: 'writeRun', run: running },
      // A deliberate second message for the step: named by when, so duplicate detection does not drop it.
      ...(index >= 0
        ? [
            {
              kind: 'sendStep',
              step: { tenantId: run.tenantId, runId: run.id, stepIndex: index, occasion: `resume-${now.getTime()}` },
            } as const,
          ]
        : []),
    ],
  };
}
