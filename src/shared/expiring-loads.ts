/**
 * Results of slow reads reused for a short time per key. Concurrent callers share one pending load,
 * and a failed load is forgotten at once so the next caller tries again.
 */
export class ExpiringLoads<T> {
  private readonly entries = new Map<string, { at: number; value: Promise<T> }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    /** At most this many keys are kept (expired ones go first, then the oldest), for keys a caller can choose. */
    private readonly maxEntries = Infinity,
  ) {}

  get(key: string, load: () => Promise<T>): Promise<T> {
    const cached = this.entries.get(key);
    if (cached && this.now() - cached.at < this.ttlMs) return cached.value;
    const value = load();
    if (!cached && this.entries.size >= this.maxEntries) this.makeRoom();
    this.entries.set(key, { at: this.now(), value });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }

  private makeRoom(): void {
    for (const [key, entry] of this.entries) if (this.now() - entry.at >= this.ttlMs) this.entries.delete(key);
    // Maps iterate in insertion order: the first key is the oldest.
    while (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
