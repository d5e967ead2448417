/**
 * The one backoff rule of the app: exponential ceilings (`baseMs * 2^(attempt-1)`, capped at `maxMs`) with "equal
 * jitter" (a delay in [ceiling/2, ceiling]), like the Azure SDK's own retry strategy. Half the ceiling is always
 * waited, so retries never collapse to zero; the random half spreads instances that failed together.
 */
export interface BackoffPolicy {
  /** Ceiling of the first attempt. */
  baseMs: number;
  /** Largest ceiling. */
  maxMs: number;
}

/** Ceiling of attempt `attempt` (1-based) before jitter. */
export function backoffCeiling(attempt: number, policy: BackoffPolicy): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
}

/** A delay in [ms/2, ms]. `random` is injectable so tests can freeze it. */
export function withJitter(ms: number, random: () => number = Math.random): number {
  return ms / 2 + random() * (ms / 2);
}

/** The jittered delay of attempt `attempt` (1-based). */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  return withJitter(backoffCeiling(attempt, policy), random);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
