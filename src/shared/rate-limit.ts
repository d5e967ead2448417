/**
 * A sliding-window limit of events per key (e.g. sign-ins per administrator), kept in this process's memory. Each
 * instance counts on its own, so with N instances a caller gets at most N times the limit: enough to stop a loop or a
 * script from filling tables, not an exact quota. Generic: the key and its meaning are the caller's.
 */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

export class SlidingWindowLimiter {
  private readonly events = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    /** Keys remembered at most; beyond it, keys with no event inside the window are dropped. */
    private readonly maxKeys = 10_000,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
    if (!(windowMs > 0)) throw new RangeError('windowMs must be positive');
  }

  /** Counts one event for `key` if the window has room; otherwise says when the oldest counted event leaves it. */
  take(key: string): RateDecision {
    const now = this.now();
    const recent = (this.events.get(key) ?? []).filter((t) => t > now - this.windowMs);
    if (recent.length >= this.limit) {
      this.events.set(key, recent);
      return { allowed: false, retryAfterMs: Math.max(1, recent[0] + this.windowMs - now) };
    }
    recent.push(now);
    this.events.set(key, recent);
    if (this.events.size > this.maxKeys) this.forgetIdle(now);
    return { allowed: true };
  }

  private forgetIdle(now: number): void {
    for (const [key, times] of this.events) if (times.at(-1)! <= now - this.windowMs) this.events.delete(key);
  }
}
