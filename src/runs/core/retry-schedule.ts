import { backoffDelay } from '../../shared/backoff';

/**
 * When a step that failed transiently (token endpoint or Graph down, throttled) is tried again: as a scheduled
 * Service Bus message, with growing, jittered, capped delays, until a total time since its first failure is spent.
 * An abandoned message comes back at once and the queue's max delivery count is used up in about a minute, which
 * is shorter than real identity-provider outages; a scheduled message waits without holding anything. Pure, so
 * every case is unit-tested (test/runs/core/retry-schedule.unit.test.ts).
 */
export interface StepRetryPolicy {
  /** Ceiling of the first delay; doubles per retry (jittered between half and all of it). */
  firstDelayMs: number;
  /** Largest ceiling of one delay. */
  maxDelayMs: number;
  /** How long after the first failure the step is still retried (STEP_RETRY_MAX_TOTAL_MINUTES). */
  maxTotalMs: number;
}

export const defaultStepRetry: StepRetryPolicy = { firstDelayMs: 30_000, maxDelayMs: 15 * 60_000, maxTotalMs: 120 * 60_000 };

/** The retries of the step so far, as the run keeps them (`waitingFor: {kind: 'retrying', ...}`). */
export interface RetriesSoFar {
  /** Retries already scheduled (0 at the first failure). */
  attempt: number;
  /** When the step first failed (ISO). */
  since: string;
}

export type RetryDecision =
  /** Try again at `at` (retry number `attempt`, 1-based: it names the retry message, so a resend is a duplicate). */
  | { kind: 'retry'; attempt: number; at: Date; since: string }
  /** The budget is spent: the step fails with `reason`, which says how long and how often it was tried. */
  | { kind: 'give-up'; reason: string };

const minutes = (ms: number) => Math.max(1, Math.round(ms / 60_000));

/**
 * What to do after the step failed transiently with `reason` at `now` (`notBeforeMs`: the service's Retry-After). The last retry is moved to the end of the
 * budget rather than beyond it, so an outage that ends just before the budget still lets the step run.
 */
export function nextStepRetry(
  policy: StepRetryPolicy,
  soFar: RetriesSoFar | undefined,
  now: Date,
  reason: string,
  options: { random?: () => number; notBeforeMs?: number } = {},
): RetryDecision {
  const since = soFar?.since ?? now.toISOString();
  const attempt = (soFar?.attempt ?? 0) + 1;
  const deadline = Date.parse(since) + policy.maxTotalMs;
  if (now.getTime() >= deadline) {
    const tries = attempt; // the first try and attempt-1 retries
    return {
      kind: 'give-up',
      reason: `Gave up after ${tries} ${tries === 1 ? 'try' : 'tries'} over ${minutes(now.getTime() - Date.parse(since))} min: ${reason}`,
    };
  }
  // Graph's Retry-After (`notBeforeMs`) is honoured even past the backoff's own delay.
  const delay = Math.max(
    backoffDelay(attempt, { baseMs: policy.firstDelayMs, maxMs: policy.maxDelayMs }, options.random),
    options.notBeforeMs ?? 0,
  );
  return { kind: 'retry', attempt, at: new Date(Math.min(now.getTime() + delay, deadline)), since };
}
