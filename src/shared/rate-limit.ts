/**
 * A token bucket per key, in this process's memory: each key may spend `limit` units per `windowMs`, refilled
 * continuously (so a burst of `limit` is allowed, then one unit every `windowMs / limit`). A refused call learns when
 * the next unit is there. Buckets that have refilled completely carry no information and are dropped once more than
 * `maxKeys` keys are held, so memory stays bounded by the keys active in one window.
 */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;

  constructor(private readonly options: { limit: number; windowMs: number; now?: () => number; maxKeys?: number }) {
    if (!(options.limit >= 1) || !(options.windowMs > 0)) throw new Error('A rate limit needs limit >= 1 and windowMs > 0.');
    this.perMs = options.limit / options.windowMs;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Spends one unit of `key` if there is one. */
  take(key: string): RateDecision {
    const now = this.now();
    const bucket = this.buckets.get(key);
    const tokens = bucket ? Math.min(this.options.limit, bucket.tokens + (now - bucket.at) * this.perMs) : this.options.limit;
    if (tokens < 1) {
      if (bucket) Object.assign(bucket, { tokens, at: now });
      return { allowed: false, retryAfterMs: Math.ceil((1 - tokens) / this.perMs) };
    }
    if (!bucket && this.buckets.size >= (this.options.maxKeys ?? 100_000)) this.dropFull(now);
    this.buckets.set(key, { tokens: tokens - 1, at: now });
    return { allowed: true };
  }

  private dropFull(now: number): void {
    for (const [key, b] of this.buckets) if (b.tokens + (now - b.at) * this.perMs >= this.options.limit) this.buckets.delete(key);
    // Still full: every key is mid-window. Forgetting the oldest lets it through early, which is the lesser harm.
    while (this.buckets.size >= (this.options.maxKeys ?? 100_000)) this.buckets.delete(this.buckets.keys().next().value!);
  }
}
