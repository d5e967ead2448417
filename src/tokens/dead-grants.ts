import type { RefreshLeases } from './refresh-lease';
import { deadRecheckDue, signedInAgain } from './refresh-decisions';
import { deadGrant } from './token-errors';
import type { MemoryEntry } from './token-memory';
import type { ConnectionRef, TokenBrokerEvents } from './token-types';

/**
 * Connections this instance knows to be dead: they fail at once, without a vault read or token call, until the lease
 * row names a different stored version (a new sign-in, possibly on another instance), re-checked at most every
 * `recheckMs`. "Hash" means which version of a cache (see serialized-cache.ts).
 */
export class DeadGrants {
  constructor(
    private readonly leases: RefreshLeases,
    private readonly events: Pick<TokenBrokerEvents, 'grantDead'>,
    private readonly recheckMs: number,
    private readonly now: () => number,
  ) {}

  /** Throws the dead-grant error while the entry is dead and no new sign-in is stored. */
  async throwIfStillDead(ref: ConnectionRef, entry: MemoryEntry): Promise<void> {
    const dead = entry.dead;
    if (!dead) return;
    if (deadRecheckDue(dead.checkedAt, this.now(), this.recheckMs)) {
      entry.deadCheck ??= (async () => {
        try {
          const row = await this.leases.read(ref.tenantId, ref.id);
          if (signedInAgain(row, dead.cacheHash).decision) {
            entry.dead = undefined;
            entry.leaseHint = row;
          }
        } catch {
          // Tables unavailable: stay dead until the next check.
        } finally {
          dead.checkedAt = this.now();
          entry.deadCheck = undefined;
        }
      })();
      await entry.deadCheck;
    }
    if (entry.dead) throw deadGrant(entry.dead.reason);
  }

  /**
   * Remembers the grant of the cache `cacheHash` (the row's stored version) as dead and throws. Only the instance that
   * saw the failure (`observed`) reports it; others learned it from the row, where it is already known.
   */
  async fail(ref: ConnectionRef, entry: MemoryEntry, reason: string, cacheHash: string, observed: boolean): Promise<never> {
    entry.dead = { reason, cacheHash, checkedAt: this.now() };
    entry.token = undefined;
    entry.cache = undefined;
    entry.syncedHash = undefined;
    entry.pendingWrite = false;
    // A re-authorization that stored new tokens meanwhile changes the row's hash: the dead grant is then history.
    if (observed && (await this.stillStored(ref, cacheHash))) {
      try {
        await this.events.grantDead?.(ref, reason);
      } catch {
        // The step still fails with the reason; the status is recorded by the next observer.
      }
    }
    throw deadGrant(reason);
  }

  /** Whether the row still names the cache that proved dead (an unreadable row counts as yes: report it). */
  private async stillStored(ref: ConnectionRef, cacheHash: string): Promise<boolean> {
    if (!cacheHash) return true;
    try {
      const row = await this.leases.read(ref.tenantId, ref.id);
      return !row?.cacheHash || row.cacheHash === cacheHash;
    } catch {
      return true;
    }
  }
}
