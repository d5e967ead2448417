import type { Run, StepRecord } from '../run';

/** How a step ended, as its record keeps it. */
export type StepOutcome = Pick<StepRecord, 'status' | 'error' | 'summary' | 'executedAs'>;

/** The run with step `index` changed. */
export function withStep(run: Run, index: number, change: Partial<StepRecord>): Run {
  return { ...run, steps: run.steps.map((s, i) => (i === index ? { ...s, ...change } : s)) };
}

const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/**
 * The run after step `index` ended with `outcome` at `at`: a failed step fails the run (its reason names the step),
 * the last step's success or skip ends it, anything else leaves it running for the next step.
 */
export function withOutcome(run: Run, index: number, outcome: StepOutcome, at: string): Run {
  const next = withStep(run, index, { ...defined(outcome), finishedAt: at });
  if (outcome.status === 'failed')
    return { ...next, status: 'failed', reason: `Step "${run.steps[index].id}" failed: ${outcome.error}`, finishedAt: at };
  if (index === run.steps.length - 1) return { ...next, status: 'succeeded', finishedAt: at };
  return next;
}

/** The step that follows step `index` while the run goes on; undefined when there is none to enqueue. */
export function nextStepIndex(run: Run, index: number): number | undefined {
  return run.status === 'running' && index + 1 < run.steps.length ? index + 1 : undefined;
}

/** The run without what it waited for (the step ran again or ended, the form was submitted, the user is back). */
export function withoutWaiting(run: Run): Run {
  if (!run.waitingFor) return run;
  const { waitingFor: _waitingFor, ...rest } = run;
  return rest;
}

/** The run without a retry it waited for (the step runs again, or ended). */
export const withoutRetrying = (run: Run): Run => (run.waitingFor?.kind === 'retrying' ? withoutWaiting(run) : run);
