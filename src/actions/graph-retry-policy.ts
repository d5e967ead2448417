import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How the Graph client retries and times out. A module of its own because actions accept it (action.ts) and the
 * Graph client applies it (graph-client.ts), and the client depends on action.ts for ActionError.
 */
export interface GraphRetryPolicy {
  /** Tries in this process, first included, for 429/503/504 (504 only for methods safe to repeat). */
  maxAttempts: number;
  /** Total time this call may spend waiting between tries; a longer Retry-After ends the call at once. */
  maxTotalWaitMs: number;
  /** Wait when a retryable answer has no usable Retry-After (multiplied by the try number). */
  defaultRetryAfterMs: number;
  /** Per try, covering the response body too. */
  timeoutMs: number;
  /** Replaceable so tests observe the waits instead of sitting through them. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const defaultGraphRetryPolicy: GraphRetryPolicy = {
  maxAttempts: 3,
  maxTotalWaitMs: 10_000,
  defaultRetryAfterMs: 1_000,
  timeoutMs: 30_000,
  sleep: async (ms, signal) => {
    await sleep(ms, undefined, signal ? { signal } : undefined);
  },
};
