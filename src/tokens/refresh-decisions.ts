import type { LeaseState } from './lease-row';
import type { AccessToken } from './token-types';
import type { CachedAccessToken } from './serialized-cache';

/*
 * The broker's refresh rules as plain functions of what it knows (the lease row, its memory, the clock): each returns
 * a decision and a reason, so a test can state every case with a frozen clock and no vault, table or token endpoint.
 * (Like Nango's `shouldRefresh`.) The protocol they decide steps of is described once, in token-broker.ts.
 */

/** How long other instances defer to one holding an unsaved rotated cache before falling back to the vault's. */
export const PENDING_GRACE_MS = 10 * 60_000;

export type WritePolicy = 'always' | 'interval';

/** Valid beyond the renew margin: serves a step without a refresh. */
export function isFresh(token: AccessToken, now: number, renewBeforeMs: number): boolean {
  return token.expiresOn.getTime() - renewBeforeMs > now;
}

/** What the row and memory say about one refresh flight (several lease attempts of one `getAccessToken`). */
export interface FlightView {
  startedAt: number;
  /** True for `forceRefresh` or a claims request: the token must be obtained after the flight began. */
  force: boolean;
  /** A claims request (claims challenge) the refresh must carry. */
  claims?: string;
  /** The lease row's cache hash when this flight first looked: a different stored version was written since. */
  baselineHash: string | undefined;
}

export interface Decision<T> {
  decision: T;
  reason: string;
}

const decide = <T>(decision: T, reason: string): Decision<T> => ({ decision, reason });

/**
 * Whether a token found in a cache serves the flight: fresh, and for a forced refresh obtained after the caller asked,
 * by whichever instance — either the cache is not the stored version the lease row named when the flight began (every
 * stored refresh writes a new version), or the token was certainly issued after the flight started (MSAL rounds
 * `cached_at` to the nearest second). `storedHash` is undefined when the cache is this instance's memory.
 */
export function cachedTokenServes(
  token: CachedAccessToken,
  flight: FlightView,
  storedHash: string | undefined,
  now: number,
  renewBeforeMs: number,
): Decision<boolean> {
  if (flight.claims !== undefined) return decide(false, 'only the token endpoint can say whether the claims are met');
  if (!isFresh(token, now, renewBeforeMs)) return decide(false, 'expires within the renew margin');
  if (!flight.force) return decide(true, 'fresh');
  if (storedHash !== undefined && flight.baselineHash !== undefined && storedHash !== flight.baselineHash) {
    return decide(true, 'a stored version written after the forced refresh began');
  }
  if (token.cachedAt >= flight.startedAt + 500) return decide(true, 'issued after the forced refresh began');
  return decide(false, 'may predate the forced refresh');
}

/**
 * Whether the row records the grant of one of these cache versions as dead (a grant dies as a whole, so the stored
 * version decides). The one "is the grant known dead" rule of the broker.
 */
export function knownDead(row: Pick<LeaseState, 'deadHash'> | undefined, ...hashes: string[]): boolean {
  return !!row?.deadHash && hashes.includes(row.deadHash);
}

/** A connection this instance found dead lives again when the row names a different stored version not itself known dead. */
export function signedInAgain(row: Pick<LeaseState, 'cacheHash' | 'deadHash'> | undefined, deadCacheHash: string): Decision<boolean> {
  if (!row) return decide(false, 'no lease row');
  if (row.cacheHash === deadCacheHash) return decide(false, 'the row still names the dead version');
  if (row.deadHash === row.cacheHash) return decide(false, 'the stored version is known dead too');
  return decide(true, 'a different stored version: a new sign-in');
}

/** What this instance remembers of a connection's cache, as the decisions need it. */
export interface MemoryView {
  /** Hash of the newest cache in memory (undefined: none). */
  cacheHash: string | undefined;
  /** Hash of the vault's copy as this instance last read or wrote it. */
  syncedHash: string | undefined;
  /** The memory holds a rotated cache whose vault write failed. */
  pendingWrite: boolean;
}

/**
 * Under the lease: which cache is the newest, ours or the vault's. The vault is read unless the row proves it still
 * holds what this instance last saw (the refresh protocol, token-broker.ts: "Refresh").
 */
export function cacheSource(
  prior: Pick<LeaseState, 'cacheHash' | 'pendingBy' | 'pendingSince'> | undefined,
  takeover: boolean,
  memory: MemoryView,
  instanceId: string,
  now: number,
): Decision<'wait' | 'memory' | 'vault'> {
  if (prior?.pendingBy && prior.pendingBy !== instanceId && now - prior.pendingSince < PENDING_GRACE_MS) {
    // Using the stored refresh token would trip reuse detection and kill the grant; that instance keeps retrying.
    return decide('wait', "the vault's refresh token was rotated away; the new one lives only in another instance");
  }
  if (memory.pendingWrite && memory.cacheHash !== undefined && prior?.pendingBy === instanceId && prior.cacheHash === memory.cacheHash) {
    return decide('memory', 'our unsaved rotated cache is the newest');
  }
  if (!takeover && prior && !prior.pendingBy && memory.cacheHash !== undefined && memory.syncedHash === prior.cacheHash) {
    return decide('memory', 'the row names the version this instance last synced');
  }
  return decide(
    'vault',
    takeover ? 'a takeover: the vault may hold a version the row does not know' : 'the vault may be newer than memory',
  );
}

/**
 * A waiter whose holder released: the holder's outcome is on the row and, unless pending, in the vault.
 * `fail_dead`: the stored version is known dead. `read_vault`: a version this instance has not seen was stored.
 * `try_lease`: nothing new to use; take the lease.
 */
export function afterRelease(
  row: Pick<LeaseState, 'cacheHash' | 'deadHash' | 'pendingBy'>,
  memory: Pick<MemoryView, 'syncedHash' | 'pendingWrite'>,
): Decision<'fail_dead' | 'read_vault' | 'try_lease'> {
  if (knownDead(row, row.cacheHash)) return decide('fail_dead', 'the holder found the stored grant dead');
  if (row.pendingBy) return decide('try_lease', "the holder's cache is not in the vault");
  if (memory.pendingWrite) return decide('try_lease', 'our memory holds an unsaved rotated cache');
  if (!row.cacheHash || row.cacheHash === memory.syncedHash) return decide('try_lease', 'no stored version this instance has not seen');
  return decide('read_vault', 'a stored version this instance has not seen');
}

export interface WriteBackView {
  policy: WritePolicy;
  writeIntervalMs: number;
  /** Refresh-token hash of the vault's copy ('' = it has none; undefined = unknown). */
  storedRefreshTokenHash: string | undefined;
  /** Refresh-token hash of the refreshed cache. */
  refreshedRefreshTokenHash: string;
  /** Epoch ms of the last vault write recorded on the row (0 or undefined = unknown). */
  lastWrittenAt: number | undefined;
  now: number;
}

/**
 * Whether a refreshed cache is written to the vault. Only a refresh token that differs from the vault's matters (a new
 * access token alone is never written). 'always': every such change. 'interval': at most once per interval per
 * connection (tracked on the row across instances), because Entra keeps old refresh tokens valid; always when the
 * vault's copy has no refresh token.
 */
export function writeBackDue(v: WriteBackView): Decision<boolean> {
  if (v.refreshedRefreshTokenHash === v.storedRefreshTokenHash) return decide(false, "the refresh token is the vault's");
  if (v.policy === 'always') return decide(true, "policy 'always'");
  if (v.storedRefreshTokenHash === '') return decide(true, "the vault's copy has no refresh token");
  if (!v.lastWrittenAt) return decide(true, 'no write recorded yet');
  if (v.now - v.lastWrittenAt >= v.writeIntervalMs) return decide(true, 'the write interval has passed');
  return decide(false, 'written within the interval; the stored refresh token stays valid');
}

/**
 * After a failed vault write: must the rotated cache be kept (announced on the row as pending, retried in the
 * background)? Yes when the vault's refresh token may now be dead ('always' assumes rotation) or the vault has none;
 * under 'interval' the stored refresh token stays valid (Entra) and the next due refresh writes instead.
 */
export function keepUnsavedCache(policy: WritePolicy, storedRefreshTokenHash: string | undefined): Decision<boolean> {
  if (policy === 'always') return decide(true, "policy 'always': the stored refresh token may be rotated away");
  if (storedRefreshTokenHash === '') return decide(true, "the vault's copy has no refresh token");
  return decide(false, "under 'interval' the stored refresh token stays valid");
}

/** Whether a connection found dead re-reads the row to see if someone signed in again. */
export function deadRecheckDue(checkedAt: number, now: number, recheckMs: number): boolean {
  return now - checkedAt >= recheckMs;
}
