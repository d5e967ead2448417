import type { ExecutedAs, Run } from '../run';
import type { RunCommand, StepTransition } from './commands';
import { nextStepRetry, type StepRetryPolicy } from './retry-schedule';
import { nextStepIndex, withOutcome, withoutRetrying, withStep, type StepOutcome } from './step-records';

/**
 * The transitions of a run's steps, as the step runner meets them: a step starts, ends, fails, or makes the run
 * wait. Each takes the run as the batch holds it and the time, and returns the next run and the commands to carry
 * out. A batch runs a run's consecutive steps in one invocation: an outcome that leaves the run running is not
 * written on its own; it goes with the next write (the next step marked running, or the batch's end).
 */

/** What a failure while getting the token or running the action means for the step (classified by the executor). */
export type StepFailure =
  /** The executing identity's grant is dead (revoked, expired, password changed): retrying cannot help. */
  | { kind: 'dead_grant'; reason: string }
  /**
   * Nothing happened and a later try may succeed (outage, throttling, the app's own credentials failing): tried
   * again by a scheduled message, not before `nextRetryDelayMs` when the service said so.
   */
  | { kind: 'transient'; reason: string; nextRetryDelayMs?: number }
  | { kind: 'permanent'; reason: string };

/** How the batch ends after step `index`: what is unsaved is written, a finished user run's token dropped, the next step sent. */
export function batchEnds(run: Run, index: number, unsaved: boolean): RunCommand[] {
  const next = nextStepIndex(run, index);
  return [
    ...(unsaved ? [{ kind: 'writeRun', run } as const] : []),
    ...(run.status !== 'running' && run.kind === 'user' ? [{ kind: 'dropUserSession' } as const] : []),
    ...(next !== undefined ? [{ kind: 'sendStep', step: { tenantId: run.tenantId, runId: run.id, stepIndex: next } } as const] : []),
  ];
}

/** Step `index` ended with `outcome` at `now`: the batch goes on while the run runs, else the run is written and the batch ends. */
export function stepEnded(run: Run, index: number, outcome: StepOutcome, now: Date): StepTransition {
  const recorded = withOutcome(withoutRetrying(run), index, outcome, now.toISOString());
  if (recorded.status === 'running') return { run: recorded, commands: [], then: 'next' };
  return { run: recorded, commands: batchEnds(recorded, index, true), then: 'stop' };
}

/**
 * Step `index` is about to run its action as `executedAs`: recorded running first (with the previous step's outcome
 * if this batch ran it), so a redelivered message never repeats an action whose outcome was not recorded
 * (`planDelivery` fails a step it finds running). A step tried again no longer waits for its retry.
 */
export function stepStarts(run: Run, index: number, executedAs: ExecutedAs, now: Date): StepTransition {
  const running = withoutRetrying(
    withStep(run, index, { status: 'running', startedAt: now.toISOString(), attempts: run.steps[index].attempts + 1, executedAs }),
  );
  return { run: running, commands: [{ kind: 'writeRun', run: running }], then: 'next' };
}

export interface FailureContext {
  executedAs: ExecutedAs;
  /** The action was called (the step was recorded running): a transient failure puts it back to pending. */
  during: 'token' | 'action';
  retryPolicy: StepRetryPolicy;
  /** The jitter of retry delays (Math.random in production; tests freeze it). */
  random?: () => number;
}

/**
 * Step `index` failed. A dead grant or a permanent failure fails it (a connection's dead grant also re-reads the
 * tenant's connections: its status changed). A transient one is tried again by a scheduled message while the retry
 * budget lasts, then fails saying how long it was tried: the message goes out before the run row says so, so a row
 * never shows a retry no message will make; its id names the retry, so a redelivery that resends it is a duplicate.
 */
export function stepFailed(run: Run, index: number, failure: StepFailure, now: Date, context: FailureContext): StepTransition {
  const { executedAs } = context;
  const refresh: RunCommand[] = failure.kind === 'dead_grant' && executedAs.kind === 'connection' ? [{ kind: 'refreshConnections' }] : [];
  const fail = () => {
    const ended = stepEnded(run, index, { status: 'failed', error: failure.reason, executedAs }, now);
    return { ...ended, commands: [...refresh, ...ended.commands] };
  };
  if (failure.kind !== 'transient') return fail();

  const waiting = run.waitingFor;
  const soFar = waiting?.kind === 'retrying' && waiting.stepIndex === index ? waiting : undefined;
  const decision = nextStepRetry(context.retryPolicy, soFar, now, failure.reason, {
    ...(failure.nextRetryDelayMs !== undefined ? { notBeforeMs: failure.nextRetryDelayMs } : {}),
    ...(context.random ? { random: context.random } : {}),
  });
  if (decision.kind === 'give-up') {
    const ended = stepEnded(run, index, { status: 'failed', error: decision.reason, executedAs }, now);
    return ended;
  }
  // Not done, so it may run again: back to pending, written with the retry in one write.
  const pending = context.during === 'action' ? withStep(run, index, { status: 'pending' }) : run;
  const nextAttemptAt = decision.at.toISOString();
  const retrying: Run = {
    ...pending,
    waitingFor: { kind: 'retrying', stepIndex: index, nextAttemptAt, attempt: decision.attempt, since: decision.since },
  };
  return {
    run: retrying,
    commands: [
      {
        kind: 'scheduleRetry',
        step: { tenantId: run.tenantId, runId: run.id, stepIndex: index, occasion: `retry-${decision.attempt}`, notBefore: decision.at },
        retry: { stepIndex: index, attempt: decision.attempt, nextAttemptAt, reason: failure.reason },
      },
      { kind: 'writeRun', run: retrying },
    ],
    then: 'stop',
  };
}

/**
 * A form step of a user run: the run waits until its initiator submits it. Their token is dropped now (the
 * submission brings a new one); nothing is sent, the submission sends what follows.
 */
export function waitForForm(run: Run, index: number, userObjectId: string, now: Date): StepTransition {
  const waiting: Run = {
    ...withStep(withoutRetrying(run), index, { status: 'waiting', startedAt: now.toISOString() }),
    status: 'waiting',
    waitingFor: { kind: 'form', stepId: run.steps[index].id, userObjectId },
  };
  return { run: waiting, commands: [{ kind: 'dropUserSession' }, { kind: 'writeRun', run: waiting }], then: 'stop' };
}

/** The user's session is over before an unelevated step: the run waits for `POST runs/{id}/resume` with a fresh token. */
export function waitForUserSession(run: Run, reason: string): StepTransition {
  const waiting: Run = { ...run, status: 'waiting', waitingFor: { kind: 'user_session' }, reason };
  return { run: waiting, commands: [{ kind: 'dropUserSession' }, { kind: 'writeRun', run: waiting }], then: 'stop' };
}

/**
 * The message's step cannot be run at all (its tenant is no longer served, or the message is poison): it fails with
 * `reason`, and with it the run, so the run does not stay `running` with nothing to move it.
 */
export function stepRefused(run: Run, index: number, reason: string, now: Date): StepTransition | undefined {
  if (run.status !== 'running' || !run.steps[index]) return undefined;
  return stepEnded(run, index, { status: 'failed', error: reason }, now);
}

/**
 * The same, for a run whose own data cannot even be serialized (nested too deeply): the event's data and the inputs
 * are dropped from the record, which says so.
 */
export function stepRefusedWithoutData(run: Run, index: number, reason: string, now: Date): StepTransition | undefined {
  const { inputs: _inputs, ...rest } = run;
  const bare: Run = { ...rest, ...(rest.event ? { event: { ...rest.event, data: {} } } : {}) };
  return stepRefused(bare, index, `${reason} Its data was dropped from the record.`, now);
}
