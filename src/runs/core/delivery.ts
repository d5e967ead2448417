import { conditionsHold } from '../../processes/conditions';
import type { ProcessDefinition, StepDefinition } from '../../processes/process-definition';
import { scopeEventOf, type Run, type StepRecord } from '../run';
import type { StepMessage } from '../step-message';

/**
 * Planning a step message: what it means for its run, decided from the run record, the message and how it was
 * delivered, before anything is executed. Pure, so every case (redelivery, duplicates, stray copies, interrupted
 * actions) is unit-tested without a queue (test/runs/core/delivery.unit.test.ts); the step runner carries the plan out.
 * A scheduled retry arrives the same way: as the delivery of its message, for a step that is pending again.
 */

/** Form steps wait for a person; nothing in this app executes them. */
export const notExecutableMessage = 'Only action steps run in system processes.';

export interface Delivery {
  deliveryCount: number;
  maxDeliveryCount: number;
  /** The Service Bus session the message came from; every step message of a run is sent with session = run id. */
  sessionId?: string;
}

/** What a delivered step message means for its run. */
export type DeliveryPlan =
  /** Can never be processed: recorded as dead-lettered with the reason, never retried. */
  | { kind: 'poison'; reason: string }
  /** The run or step has already ended; the message is completed and nothing changes. */
  | { kind: 'nothing-to-do'; reason: string }
  /** The step finished on an earlier delivery: only make sure the next step is enqueued (its resend is a duplicate). */
  | { kind: 'already-done'; reason: string }
  /** The step fails, and with it the run, with `reason` as the step's error. */
  | { kind: 'fail-run'; reason: string }
  /** The step is due: what it does depends on its definition (`planStep`). */
  | { kind: 'plan-step'; step: StepRecord };

/** Why a pending step's action may have happened without being recorded, so it is not repeated. */
export const interruptedMessage =
  'The step was interrupted while its action ran; it was not repeated, to avoid doing it twice. Check the target and re-run if needed.';

/**
 * Whether the message came in its run's session. The session is what keeps a run's steps one at a time; a message
 * outside it could run alongside (or ahead of) the run's own steps. Checked before the run is read.
 */
export const inRunSession = (message: StepMessage, delivery: Delivery): boolean =>
  delivery.sessionId === undefined || delivery.sessionId === message.runId;

/** `run` is the record the message names, undefined when there is none (or it was not read: wrong session). */
export function planDelivery(message: StepMessage, delivery: Delivery, run: Run | undefined): DeliveryPlan {
  if (!inRunSession(message, delivery)) {
    return { kind: 'poison', reason: `the message came in session "${(delivery.sessionId ?? '').slice(0, 64)}", not its run's session` };
  }
  if (!run) return { kind: 'poison', reason: `run ${message.runId} does not exist` };
  if (run.status !== 'running') return { kind: 'nothing-to-do', reason: `run ${run.id} is ${run.status}` };
  const step = run.steps[message.stepIndex];
  if (!step) return { kind: 'poison', reason: `run ${run.id} has no step ${message.stepIndex}` };
  // Steps run in order. A message for a later step while an earlier one is unfinished is out of order (a
  // duplicate or stray copy): running it would skip ahead. The earlier step enqueues this one when it finishes.
  const unfinished = run.steps.findIndex((s, i) => i < message.stepIndex && (s.status === 'pending' || s.status === 'running'));
  if (unfinished >= 0) {
    return {
      kind: 'poison',
      reason: `step ${message.stepIndex} of run ${run.id} arrived before step ${unfinished} finished; it was not run early`,
    };
  }
  switch (step.status) {
    case 'succeeded':
    case 'skipped':
      return { kind: 'already-done', reason: `step ${message.stepIndex} of run ${run.id} is ${step.status}` };
    case 'failed':
      return { kind: 'nothing-to-do', reason: `step ${message.stepIndex} of run ${run.id} failed` };
    case 'waiting':
      // A form the user has not submitted yet: the submission enqueues what follows.
      return { kind: 'nothing-to-do', reason: `step ${message.stepIndex} of run ${run.id} waits for its form` };
    case 'running':
      // Marked running and never recorded: the previous delivery died during the action. Doing it again could do
      // it twice, so the step fails and says why.
      return { kind: 'fail-run', reason: interruptedMessage };
    case 'pending':
      return { kind: 'plan-step', step };
  }
}

/** What a due step does, by its definition in the run's process version. */
export type StepPlan =
  | { kind: 'poison'; reason: string }
  | { kind: 'fail-run'; reason: string }
  /** Recorded as skipped with `reason` as its summary; the run goes on. */
  | { kind: 'skip'; reason: string }
  /** A form step of a user run: the run waits until its initiator submits it (nothing is enqueued meanwhile). */
  | { kind: 'wait-for-form'; definition: StepDefinition; userObjectId: string }
  | { kind: 'run-step'; definition: StepDefinition };

export function planStep(run: Run, step: StepRecord, process: ProcessDefinition): StepPlan {
  const definition = process.steps.find((s) => s.id === step.id);
  if (!definition) return { kind: 'poison', reason: `process ${run.processId} v${run.processVersion} has no step ${step.id}` };
  const forUser = run.kind === 'user' && process.kind === 'user' && run.initiatedBy !== undefined;
  if (definition.type !== 'action' && !forUser) return { kind: 'fail-run', reason: notExecutableMessage };
  if (!conditionsHold(definition.conditions, { event: scopeEventOf(run) })) return { kind: 'skip', reason: 'Conditions did not hold.' };
  if (definition.type === 'form') return { kind: 'wait-for-form', definition, userObjectId: run.initiatedBy!.objectId };
  return { kind: 'run-step', definition };
}

/** Whether Service Bus will not deliver this message again after it is abandoned. */
export const isLastDelivery = (delivery: Delivery): boolean => delivery.deliveryCount >= delivery.maxDeliveryCount;
