import type { LeaseRow } from './lease-row';
import { cacheHashOf, refreshTokenHashOf } from './serialized-cache';
import type { AccessToken } from './token-types';

/** What one instance remembers of one connection. "Hash" means which version of a cache (see serialized-cache.ts). */
export interface MemoryEntry {
  token?: AccessToken;
  /** Newest serialized cache this instance knows; under 'interval' it may be newer than the vault's. */
  cache?: string;
  /** Hash of the vault's copy as this instance last read or wrote it. */
  syncedHash?: string;
  /** Refresh-token hash of that vault copy ('' = it has none). Never leaves memory. */
  storedRefreshTokenHash?: string;
  /** A rotated cache that only this instance holds (its vault write failed). */
  pendingWrite?: boolean;
  /** The background retry of that write, and how many attempts it has made. */
  writeRetryTimer?: NodeJS.Timeout;
  writeRetryAttempt?: number;
  /** The lease row as this instance left it: lets the next acquire take one request instead of two. */
  leaseHint?: LeaseRow;
  dead?: { reason: string; cacheHash: string; checkedAt: number };
  deadCheck?: Promise<void>;
  usedAt?: number;
}

/** The in-memory cache of the broker: one entry per connection key, replaced as a whole on sign-in or deletion. */
export class TokenMemory {
  private readonly entries = new Map<string, MemoryEntry>();

  /** The connection's entry, created empty when missing. */
  entry(key: string): MemoryEntry {
    let entry = this.entries.get(key);
    if (!entry) this.entries.set(key, (entry = {}));
    return entry;
  }

  peek(key: string): MemoryEntry | undefined {
    return this.entries.get(key);
  }

  /** False once the connection was forgotten (or replaced) since `entry` was handed out. */
  isCurrent(key: string, entry: MemoryEntry): boolean {
    return this.entries.get(key) === entry;
  }

  forget(key: string): void {
    const entry = this.entries.get(key);
    if (entry?.writeRetryTimer) clearTimeout(entry.writeRetryTimer);
    this.entries.delete(key);
  }

  /** Stops background retries (tests, shutdown). */
  close(): void {
    for (const entry of this.entries.values()) if (entry.writeRetryTimer) clearTimeout(entry.writeRetryTimer);
  }
}

/** Takes a cache read from (or just written to) the vault as the newest this instance knows. */
export function adoptStored(entry: MemoryEntry, stored: string): void {
  entry.cache = stored;
  entry.syncedHash = cacheHashOf(stored);
  entry.storedRefreshTokenHash = refreshTokenHashOf(stored);
  entry.pendingWrite = false;
}
