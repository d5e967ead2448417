import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { connectionSecretName, type SecretStore } from '../adapters/secret-store';
import { CacheWriteBack } from './cache-write-back';
import { DeadGrants } from './dead-grants';
import type { LeaseRow } from './lease-row';
import { LeaseBusyError, RefreshLeases, type HeldLease } from './refresh-lease';
import { afterRelease, cacheSource, cachedTokenServes, isFresh, knownDead, type FlightView } from './refresh-decisions';
import { redeemRefreshToken } from './redeem-refresh-token';
import { accessTokenIn, cacheHashOf, type CachedAccessToken } from './serialized-cache';
import { SingleFlight } from './single-flight';
import { inSpan, type SpanRef } from '../shared/spans';
import { DEAD_GRANT_DEFAULT_REASON, refreshFailureOf, TokenAcquisitionError, transient, type TokenFailure } from './token-errors';
import { adoptStored, TokenMemory, type MemoryEntry } from './token-memory';
import { keyOf, plain, type AccessToken, type ConnectionRef, type TokenBrokerEvents, type TokenBrokerOptions } from './token-types';

export { TokenAcquisitionError } from './token-errors';
export type { AccessToken, ConnectionRef, TokenBrokerEvents, TokenBrokerOptions } from './token-types';

/*
 * How the broker keeps Key Vault reads, vault writes and token calls at their minimum, safely across instances.
 * "Hash" is the one word for which version of a connection's cache (serialized-cache.ts). The parts:
 * token-memory.ts (what an instance remembers), single-flight.ts (one refresh per connection and instance),
 * refresh-lease.ts (the cross-instance lease row), refresh-decisions.ts (the rules, pure), cache-write-back.ts
 * (vault writes and their background retries), dead-grants.ts, redeem-refresh-token.ts (the token-endpoint call).
 *
 * Memory, per connection and instance: the access token, the newest serialized MSAL cache this instance knows,
 * and the hash of the vault's copy as this instance last read or wrote it ("synced hash").
 *
 * - Cache hit (token valid beyond the renew margin): nothing but memory. No vault read, no table call.
 * - Refresh: take the connection's lease (Table row, ETag-conditional write). The row records the hash of the newest
 *   stored cache. Every vault write by a broker happens under the lease and is recorded on the row before the lease
 *   is released, so "row hash == my synced hash, row released cleanly" proves the vault still holds what this
 *   instance last saw and its in-memory cache is at least as new: no vault read. Otherwise (another instance wrote,
 *   a new sign-in, a holder that died mid-refresh and may have written without recording it — a takeover) the vault
 *   is read, under the lease, so it cannot change underneath.
 *   Steady state for one instance: one vault read per connection ever, then one token call (+ one write when the
 *   refresh token rotated and the policy wants it) per token lifetime.
 * - Before calling the token endpoint the holder looks at the cache it has: if it carries an access token that is
 *   still fresh (another instance refreshed and wrote it, or a new sign-in), that token is used and no call is made.
 * - Instances that find the lease held poll the row instead of presenting the same refresh token — with rotation
 *   that would get the grant revoked by reuse detection. When the holder releases with a new hash they read the
 *   vault once and use its access token; otherwise they try the lease.
 * - Write-back: see writeBackDue. A rotated cache that cannot be written under 'always' exists only in this
 *   instance's memory: the row says so (`pendingBy`), other instances refuse to refresh with the now-dead stored
 *   token (transient error) for a grace period, and this instance retries the write in the background.
 * - Dead grants are recorded on the row (hash of the dead cache + reason) so other instances fail without a token
 *   call; a new sign-in changes the row's hash, which a dead connection re-checks at most every deadRecheckSeconds.
 */
/**
 * Where an access token came from, on its span: this instance's memory, the token endpoint (refresh), the vault under
 * the lease (another instance had refreshed), or another instance's refresh it waited for (lease wait).
 */
type TokenSource = 'cache' | 'refresh' | 'vault' | 'lease wait';
type Flight = FlightView & { note: { source?: TokenSource } };

export class TokenBroker {
  private readonly memory = new TokenMemory();
  private readonly flights = new SingleFlight<AccessToken>();
  private readonly secrets: SecretStore;
  private readonly msal: TokenBrokerOptions['msal'];
  private readonly leases: RefreshLeases;
  private readonly events: TokenBrokerEvents;
  private readonly writeBack: CacheWriteBack;
  private readonly deadGrants: DeadGrants;
  private readonly renewBeforeMs: number;
  private readonly usedIntervalMs: number;
  private readonly now: () => number;
  readonly instanceId: string;

  constructor(options: TokenBrokerOptions) {
    this.secrets = options.secrets;
    this.msal = options.msal;
    this.events = options.events ?? {};
    this.renewBeforeMs = (options.renewBeforeSeconds ?? 300) * 1000;
    this.usedIntervalMs = (options.usedIntervalSeconds ?? 60) * 1000;
    this.now = options.now ?? Date.now;
    this.instanceId = options.instanceId ?? `${hostname().slice(0, 40)}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.leases = new RefreshLeases(options.leaseTable, {
      leaseMs: options.settings.TOKEN_REFRESH_LEASE_SECONDS * 1000,
      instanceId: this.instanceId,
      now: this.now,
    });
    this.writeBack = new CacheWriteBack({
      secrets: this.secrets,
      leases: this.leases,
      memory: this.memory,
      policy: options.settings.TOKEN_CACHE_WRITE_POLICY,
      writeIntervalMs: options.settings.TOKEN_CACHE_WRITE_INTERVAL_SECONDS * 1000,
      instanceId: this.instanceId,
      now: this.now,
    });
    this.deadGrants = new DeadGrants(this.leases, this.events, (options.deadRecheckSeconds ?? 30) * 1000, this.now);
  }

  /**
   * The connection's access token. `forceRefresh`: a token obtained after this call began. `claims`: a token
   * acquired with that claims request (JSON text of a Graph claims challenge, see claims-challenge.ts); always a
   * token-endpoint call, which fails as a dead grant when the claims need the account to sign in again.
   * `purpose`: `keep-alive` refreshes without counting as a use (no `used` event), so idle connections stay idle.
   */
  async getAccessToken(
    ref: ConnectionRef,
    options: { forceRefresh?: boolean; claims?: string; purpose?: 'use' | 'keep-alive'; trace?: SpanRef } = {},
  ): Promise<AccessToken> {
    // A span per acquisition, tagged with where the token came from (never the token).
    return inSpan('token acquisition', options.trace, { 'tenant.id': ref.tenantId, 'connection.id': ref.id }, async (span) => {
      const flight: { source?: TokenSource } = {};
      const token = await this.acquire(ref, options, flight);
      span.set({ 'token.source': flight.source ?? 'shared refresh' });
      return token;
    });
  }

  private async acquire(
    ref: ConnectionRef,
    options: { forceRefresh?: boolean; claims?: string; purpose?: 'use' | 'keep-alive' },
    note: { source?: TokenSource },
  ): Promise<AccessToken> {
    const key = keyOf(ref);
    const claims = options.claims || undefined;
    const force = options.forceRefresh === true || claims !== undefined;
    const entry = this.memory.entry(key);
    if (entry.dead) await this.deadGrants.throwIfStillDead(ref, entry);
    const cached = entry.token;
    if (!force && cached && isFresh(cached, this.now(), this.renewBeforeMs)) {
      if (options.purpose !== 'keep-alive') this.noteUsed(ref, entry);
      note.source = 'cache';
      return cached;
    }
    const request = { force, ...(claims !== undefined ? { claims } : {}) };
    // Only the caller that starts the flight learns its source; callers that join it record 'shared refresh'.
    const token = await this.flights.run(key, request, () =>
      this.refresh(ref, entry, { ...request, startedAt: this.now(), baselineHash: undefined, note }),
    );
    if (options.purpose !== 'keep-alive') this.noteUsed(ref, entry);
    return token;
  }

  /** Stores the token cache of a fresh sign-in, replacing whatever the connection had, under the refresh lease. */
  async storeSignIn(ref: ConnectionRef, serializedCache: string): Promise<void> {
    const key = keyOf(ref);
    let got;
    try {
      // A refresh in flight elsewhere would otherwise write its (older grant's) cache over this one.
      got = await this.leases.acquireOrWait(ref.tenantId, ref.id, { hint: this.memory.peek(key)?.leaseHint });
    } catch (e) {
      if (e instanceof LeaseBusyError) throw transient('Another instance is refreshing this connection; try again shortly.');
      throw e;
    }
    const { lease } = got as Extract<typeof got, { acquired: true }>; // without onReleased it returns only once acquired
    let hint: LeaseRow | undefined;
    try {
      await this.secrets.set(connectionSecretName(ref.tenantId, ref.id), serializedCache);
      lease.record({
        cacheHash: cacheHashOf(serializedCache),
        lastWrittenAt: this.now(),
        lastWrittenBy: this.instanceId,
        pendingBy: '',
        pendingSince: 0,
        deadHash: '',
        deadReason: '',
      });
    } finally {
      hint = await lease.release();
    }
    this.forget(ref);
    const entry = this.memory.entry(key);
    entry.leaseHint = hint;
    adoptStored(entry, serializedCache);
    // The sign-in's own access token serves the first steps: no vault read or token call right after connecting.
    const token = accessTokenIn(serializedCache, ref, this.msal.scopes);
    if (token && isFresh(token, this.now(), this.renewBeforeMs)) entry.token = plain(token);
  }

  /** Drops what this instance remembers of a connection (after re-authorization or deletion). */
  forget(ref: Pick<ConnectionRef, 'tenantId' | 'id'>): void {
    this.memory.forget(keyOf(ref));
  }

  /**
   * For a deleted connection: forgets it here and removes its lease row, so other instances stop trusting their
   * in-memory copy (they find no row, read the vault, find no secret, and report the grant dead).
   */
  async discard(ref: Pick<ConnectionRef, 'tenantId' | 'id'>): Promise<void> {
    this.forget(ref);
    await this.leases.remove(ref.tenantId, ref.id);
  }

  /** Stops background retries (tests, shutdown). */
  close(): void {
    this.memory.close();
  }

  private serves(token: CachedAccessToken, flight: FlightView, storedHash: string | undefined): boolean {
    return cachedTokenServes(token, flight, storedHash, this.now(), this.renewBeforeMs).decision;
  }

  private noteUsed(ref: ConnectionRef, entry: MemoryEntry): void {
    const used = this.events.used;
    if (!used) return;
    const now = this.now();
    if (entry.usedAt !== undefined && now - entry.usedAt < this.usedIntervalMs) return;
    entry.usedAt = now;
    void Promise.resolve()
      .then(() => used(ref, new Date(now)))
      .catch(() => undefined);
  }

  private async refresh(ref: ConnectionRef, entry: MemoryEntry, flight: Flight): Promise<AccessToken> {
    try {
      return await this.coordinatedRefresh(ref, entry, flight);
    } catch (e) {
      if (e instanceof TokenAcquisitionError) {
        if (e.failure.kind === 'application_credentials') await this.reportApplicationCredentials(e.failure);
        throw e;
      }
      throw refreshFailureOf(e);
    }
  }

  private async reportApplicationCredentials(failure: Extract<TokenFailure, { kind: 'application_credentials' }>): Promise<void> {
    try {
      await this.events.applicationCredentialsInvalid?.(failure);
    } catch {
      // The step or test still fails with the reason; the next failure raises the alert again.
    }
  }

  private async coordinatedRefresh(ref: ConnectionRef, entry: MemoryEntry, flight: Flight): Promise<AccessToken> {
    const got = await this.leases.acquireOrWait(ref.tenantId, ref.id, {
      hint: entry.leaseHint,
      onFirstLook: (row) => (flight.baselineHash ??= row?.cacheHash ?? ''),
      // The holder released: use its outcome when it stored one this instance can use.
      onReleased: async (row) => {
        const next = afterRelease(row, { syncedHash: entry.syncedHash, pendingWrite: entry.pendingWrite === true }).decision;
        if (next === 'fail_dead')
          return this.deadGrants.fail(ref, entry, row.deadReason || DEAD_GRANT_DEFAULT_REASON, row.cacheHash, false);
        if (next !== 'read_vault') return undefined;
        const stored = await this.secrets.get(connectionSecretName(ref.tenantId, ref.id));
        if (stored === undefined) return undefined;
        adoptStored(entry, stored);
        const token = accessTokenIn(stored, ref, this.msal.scopes);
        return token && this.serves(token, flight, entry.syncedHash!) ? (entry.token = plain(token)) : undefined;
      },
    });
    if (!got.acquired) {
      flight.note.source = 'lease wait';
      return got.settled;
    }
    return this.refreshHolding(ref, entry, got.lease, got.prior, got.takeover, flight);
  }

  private async refreshHolding(
    ref: ConnectionRef,
    entry: MemoryEntry,
    lease: HeldLease,
    prior: LeaseRow | undefined,
    takeover: boolean,
    flight: Flight,
  ): Promise<AccessToken> {
    let outcome: Outcome;
    try {
      outcome = await this.underLease(ref, entry, lease, prior, takeover, flight);
    } finally {
      entry.leaseHint = await lease.release();
    }
    if (outcome.kind === 'dead') return this.deadGrants.fail(ref, entry, outcome.reason, outcome.cacheHash, outcome.observed);
    flight.note.source = outcome.refreshed ? 'refresh' : 'vault';
    if (outcome.refreshed) {
      try {
        await this.events.refreshed?.(ref, new Date(this.now()));
      } catch {
        // Bookkeeping only: the token is good.
      }
    }
    return outcome.token;
  }

  /** Runs while holding the lease; records on it what the row should say. */
  private async underLease(
    ref: ConnectionRef,
    entry: MemoryEntry,
    lease: HeldLease,
    prior: LeaseRow | undefined,
    takeover: boolean,
    flight: FlightView,
  ): Promise<Outcome> {
    // 1. Which cache is the newest: ours, or the vault's.
    const memory = {
      cacheHash: entry.cache ? cacheHashOf(entry.cache) : undefined,
      syncedHash: entry.syncedHash,
      pendingWrite: entry.pendingWrite === true,
    };
    const source = cacheSource(prior, takeover, memory, this.instanceId, this.now()).decision;
    if (source === 'wait') throw transient('The newest sign-in data of this connection is not saved yet; try again shortly.');
    let cache: string;
    let storedHash: string | undefined;
    if (source === 'memory') {
      cache = entry.cache!;
    } else {
      entry.pendingWrite = false;
      const stored = await this.secrets.get(connectionSecretName(ref.tenantId, ref.id));
      if (stored === undefined) {
        const reason = 'No sign-in is stored for this connection. Re-authorize the connection.';
        return { kind: 'dead', reason, cacheHash: prior?.cacheHash ?? '', observed: true };
      }
      adoptStored(entry, stored);
      cache = stored;
      storedHash = entry.syncedHash;
      lease.record({ cacheHash: storedHash, ...(prior?.pendingBy ? { pendingBy: '', pendingSince: 0 } : {}) });
    }
    const rowHash = lease.recorded.cacheHash ?? prior?.cacheHash ?? '';

    // 2. Another instance already found this grant dead.
    if (knownDead(prior, rowHash, cacheHashOf(cache))) {
      return { kind: 'dead', reason: prior!.deadReason || DEAD_GRANT_DEFAULT_REASON, cacheHash: rowHash, observed: false };
    }

    // 3. A fresh access token is already there (another instance refreshed and wrote it, or a new sign-in).
    const existing = accessTokenIn(cache, ref, this.msal.scopes);
    if (existing && this.serves(existing, flight, storedHash)) {
      return { kind: 'token', token: (entry.token = plain(existing)), refreshed: false };
    }

    // 4. Use the refresh token. Enough lease must remain that nobody takes over while our call is in flight.
    await lease.ensureRemaining(this.leases.leaseMs / 2);
    const redeemed = await redeemRefreshToken(this.msal, ref, cache, flight.claims);
    if ('dead' in redeemed) {
      lease.record({ deadHash: rowHash, deadReason: redeemed.dead });
      return { kind: 'dead', reason: redeemed.dead, cacheHash: rowHash, observed: true };
    }
    entry.cache = redeemed.cache;
    entry.token = redeemed.token;
    if (prior?.deadHash) lease.record({ deadHash: '', deadReason: '' });

    // 5. Write back only what matters, per policy.
    await this.writeBack.afterRefresh(ref, entry, lease, prior, redeemed.cache);
    return { kind: 'token', token: redeemed.token, refreshed: true };
  }
}

type Outcome =
  | { kind: 'token'; token: AccessToken; refreshed: boolean }
  /** `cacheHash`: the stored version whose grant is dead. */
  | { kind: 'dead'; reason: string; cacheHash: string; observed: boolean };
