import type { Run } from '../run';
import type { StepToSend } from '../step-message';

/**
 * What the run core asks its executors to do, as data (Temporal's workflow commands are the model): the core
 * decides, an executor (the step runner, event processing, the user routes) carries the commands out in order.
 */
export type RunCommand =
  /** Store the run, conditional on the ETag the executor read or last wrote (a stale one: the decision is redone). */
  | { kind: 'writeRun'; run: Run }
  /** Send a step message (the next step, the first one of a new run, a resumed one). */
  | { kind: 'sendStep'; step: StepToSend }
  /** Send a step message for later: a step that failed transiently is tried again then. */
  | { kind: 'scheduleRetry'; step: StepToSend & { notBefore: Date }; retry: ScheduledRetry }
  /** Keep the calling user's token for the run's next steps (it is exchanged On-Behalf-Of when they run). */
  | { kind: 'storeUserSession' }
  /** Drop the user's token kept for the run: the run ended, or waits for its user. */
  | { kind: 'dropUserSession' }
  /** Read the tenant's connection list again: a connection's grant turned out dead, so its status changed. */
  | { kind: 'refreshConnections' };

/** A step that failed transiently and is tried again by a scheduled message (for the handler's log line). */
export interface ScheduledRetry {
  stepIndex: number;
  attempt: number;
  nextAttemptAt: string;
  /** The classified reason (never a raw error text from outside the app). */
  reason: string;
}

/** The core's answer to an input: the next run and what to do about it. */
export interface Transition {
  run: Run;
  commands: RunCommand[];
}

/** A transition within a batch of steps: `next` the batch may go on with the run's next step, `stop` it is done. */
export interface StepTransition extends Transition {
  then: 'next' | 'stop';
}

/** The input does not apply to the run as it is now (a form not waiting, a run not waiting for its user). */
export interface Refusal {
  refused: string;
}

export const isRefusal = (t: Transition | Refusal): t is Refusal => 'refused' in t;
