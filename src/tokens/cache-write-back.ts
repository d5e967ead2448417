import { connectionSecretName, SecretStoreError, type SecretStore } from '../adapters/secret-store';
import { backoffDelay, type BackoffPolicy } from '../shared/backoff';
import type { LeaseRow, LeaseState } from './lease-row';
import type { HeldLease, RefreshLeases } from './refresh-lease';
import { keepUnsavedCache, writeBackDue, type WritePolicy } from './refresh-decisions';
import { cacheHashOf, refreshTokenHashOf } from './serialized-cache';
import { adoptStored, type MemoryEntry, type TokenMemory } from './token-memory';
import { keyOf, type ConnectionRef } from './token-types';

/** Background retries of a refused write: 1 s doubling to 60 s, jittered. */
const RETRY_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 60_000 };

export interface CacheWriteBackOptions {
  secrets: SecretStore;
  leases: RefreshLeases;
  memory: TokenMemory;
  policy: WritePolicy;
  writeIntervalMs: number;
  instanceId: string;
  now: () => number;
}

/**
 * Getting a refreshed cache into Key Vault: right after the refresh, under the lease, when the write policy says it
 * is due; and, when the vault refused a write the grant depends on, again in the background until it succeeds or is
 * superseded. Until then the row names this instance in `pendingBy`, so others do not refresh with the stale token.
 */
export class CacheWriteBack {
  constructor(private readonly o: CacheWriteBackOptions) {}

  /** Under the lease, after a refresh produced `updated`; records on the lease what the row should say. */
  async afterRefresh(
    ref: ConnectionRef,
    entry: MemoryEntry,
    lease: HeldLease,
    prior: LeaseRow | undefined,
    updated: string,
  ): Promise<void> {
    const refreshedRefreshTokenHash = refreshTokenHashOf(updated);
    const due = writeBackDue({
      policy: this.o.policy,
      writeIntervalMs: this.o.writeIntervalMs,
      storedRefreshTokenHash: entry.storedRefreshTokenHash,
      refreshedRefreshTokenHash,
      lastWrittenAt: prior?.lastWrittenAt,
      now: this.o.now(),
    });
    if (!due.decision) return;
    try {
      await this.o.secrets.set(connectionSecretName(ref.tenantId, ref.id), updated);
      adoptStored(entry, updated);
      entry.writeRetryAttempt = undefined;
      lease.record({ cacheHash: entry.syncedHash!, ...this.written() });
    } catch (e) {
      if (!(e instanceof SecretStoreError)) throw e;
      if (!keepUnsavedCache(this.o.policy, entry.storedRefreshTokenHash).decision) return;
      entry.pendingWrite = true;
      lease.record({
        cacheHash: cacheHashOf(updated),
        pendingBy: this.o.instanceId,
        pendingSince: prior?.pendingBy === this.o.instanceId ? prior.pendingSince : this.o.now(),
      } satisfies Partial<LeaseState>);
      this.retryLater(ref, entry);
    }
  }

  private written() {
    return { lastWrittenAt: this.o.now(), lastWrittenBy: this.o.instanceId, pendingBy: '', pendingSince: 0 } satisfies Partial<LeaseState>;
  }

  private retryLater(ref: ConnectionRef, entry: MemoryEntry): void {
    if (entry.writeRetryTimer) return;
    entry.writeRetryAttempt = (entry.writeRetryAttempt ?? 0) + 1;
    entry.writeRetryTimer = setTimeout(
      () => {
        entry.writeRetryTimer = undefined;
        void this.retry(ref, entry);
      },
      backoffDelay(entry.writeRetryAttempt, RETRY_BACKOFF),
    );
    entry.writeRetryTimer.unref();
  }

  /** Retries writing a rotated cache that only this instance holds. */
  private async retry(ref: ConnectionRef, entry: MemoryEntry): Promise<void> {
    if (!entry.pendingWrite || !entry.cache || !this.o.memory.isCurrent(keyOf(ref), entry)) return;
    let got;
    try {
      got = await this.o.leases.tryAcquire(ref.tenantId, ref.id, entry.leaseHint);
    } catch {
      return this.retryLater(ref, entry);
    }
    if (!got.acquired) return this.retryLater(ref, entry);
    let retry = false;
    try {
      const cache = entry.cache;
      // Superseded (a new sign-in, or our memory changed): nothing of ours to save any more.
      if (!entry.pendingWrite || got.prior?.pendingBy !== this.o.instanceId || got.prior.cacheHash !== cacheHashOf(cache)) {
        entry.pendingWrite = false;
        return;
      }
      await this.o.secrets.set(connectionSecretName(ref.tenantId, ref.id), cache);
      adoptStored(entry, cache);
      entry.writeRetryAttempt = undefined;
      got.lease.record(this.written());
    } catch {
      retry = true;
    } finally {
      entry.leaseHint = await got.lease.release();
    }
    if (retry) this.retryLater(ref, entry);
  }
}
