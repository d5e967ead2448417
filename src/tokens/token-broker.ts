import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { TableClient } from '@azure/data-tables';
import type { AccountInfo } from '@azure/msal-node';
import { connectionSecretName, SecretStoreError, type SecretStore } from '../adapters/secret-store';
import type { Settings } from '../config/settings';
import type { MsalClients } from './msal-clients';
import { EMPTY_LEASE, LeaseLostError, RefreshLeases, type AcquireResult, type LeaseRow, type LeaseState } from './refresh-lease';
import { coversScopes } from './granted-scopes';
import { classifyTokenError, type TokenFailure } from './token-errors';

export interface ConnectionRef {
  tenantId: string;
  id: string;
  objectId: string;
}

export interface AccessToken {
  token: string;
  expiresOn: Date;
}

export class TokenAcquisitionError extends Error {
  constructor(
    readonly failure: TokenFailure,
    options?: { cause?: unknown },
  ) {
    super(failure.reason, options);
    this.name = 'TokenAcquisitionError';
  }
}

export interface TokenBrokerEvents {
  /** This instance used the refresh token successfully (a token-endpoint call). */
  refreshed?(ref: ConnectionRef, at: Date): Promise<void> | void;
  /** Only a new sign-in can help; the broker will not try again until `forget`, a new sign-in, or another instance's re-authorization. */
  grantDead?(ref: ConnectionRef, reason: string): Promise<void> | void;
  /**
   * A token was handed out for the connection: at most once per `usedIntervalSeconds` per connection and
   * instance, not awaited, errors ignored, so recording `lastUsedAt` costs the step path nothing.
   */
  used?(ref: ConnectionRef, at: Date): Promise<void> | void;
  /**
   * Entra refused the app's own credentials (client secret expired or wrong, app registration missing or disabled).
   * Every refresh of every connection fails the same way until the app setting is fixed; the grants are fine, so no
   * connection is touched. Called on every such failure (after the lease is released): the receiver deduplicates.
   */
  applicationCredentialsInvalid?(failure: Extract<TokenFailure, { kind: 'application_credentials' }>): Promise<void> | void;
}

export interface TokenBrokerOptions {
  secrets: SecretStore;
  msal: Pick<MsalClients, 'create' | 'scopes'>;
  /** The `tokenLeases` table (tableNames().tokenLeases). */
  leaseTable: () => Promise<TableClient>;
  settings: Pick<Settings, 'TOKEN_CACHE_WRITE_POLICY' | 'TOKEN_CACHE_WRITE_INTERVAL_SECONDS' | 'TOKEN_REFRESH_LEASE_SECONDS'>;
  events?: TokenBrokerEvents;
  /** Access tokens are renewed this long before they expire, so a step never starts with a dying token. Default 300. */
  renewBeforeSeconds?: number;
  /** How often a connection found dead re-checks whether another instance stored a new sign-in. Default 30. */
  deadRecheckSeconds?: number;
  /** Throttle of the `used` event per connection. Default 60. */
  usedIntervalSeconds?: number;
  /** Recorded on lease rows; unique per process. */
  instanceId?: string;
  now?: () => number;
}

/*
 * How the broker keeps Key Vault reads, vault writes and token calls at their minimum, safely across instances.
 *
 * Memory, per connection and instance: the access token, the newest serialized MSAL cache this instance knows,
 * and the digest (SHA-256) of the vault's copy as this instance last read or wrote it ("synced hash").
 *
 * - Cache hit (token valid beyond the renew margin): nothing but memory. No vault read, no table call.
 * - Refresh: take the connection's lease (Table row, ETag-conditional write; see refresh-lease.ts). The row records
 *   the digest of the newest stored cache. Every vault write by a broker happens under the lease and is recorded in
 *   the row before the lease is released, so "row digest == my synced hash, row released cleanly" proves the vault
 *   still holds what this instance last saw and its in-memory cache is at least as new: no vault read. Otherwise
 *   (another instance wrote, a new sign-in, a holder that died mid-refresh and may have written without recording
 *   it — a takeover) the vault is read, under the lease, so it cannot change underneath.
 *   Steady state for one instance: one vault read per connection ever, then one token call (+ one write when the
 *   refresh token rotated and the policy wants it) per token lifetime.
 * - Before calling the token endpoint the holder looks at the cache it has: if it carries an access token that is
 *   still fresh (another instance refreshed and wrote it, or a new sign-in), that token is used and no call is made.
 * - Instances that find the lease held poll the row (jittered backoff, bounded by the lease duration) instead of
 *   presenting the same refresh token — with rotation that would get the grant revoked by reuse detection. When the
 *   holder releases with a new digest they read the vault once and use its access token; otherwise they try the lease.
 * - Write-back ('always'): whenever the refresh token differs from the vault's. ('interval'): at most once per
 *   interval per connection, tracked on the row across instances, because the provider (Entra) keeps old refresh
 *   tokens valid; always when the vault's copy has no refresh token. A new access token alone is never written.
 * - A rotated cache that cannot be written under 'always' exists only in this instance's memory: the row says so
 *   (`pendingBy`), other instances refuse to refresh with the now-dead stored token (transient error) for a grace
 *   period, and this instance retries the write in the background.
 * - Dead grants are recorded on the row (digest of the dead cache + reason) so other instances fail without a token
 *   call; a new sign-in changes the row's digest, which a dead connection re-checks at most every deadRecheckSeconds.
 */
export class TokenBroker {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, { promise: Promise<AccessToken>; force: boolean; claims?: string }>();
  private readonly secrets: SecretStore;
  private readonly msal: TokenBrokerOptions['msal'];
  private readonly leases: RefreshLeases;
  private readonly events: TokenBrokerEvents;
  private readonly policy: 'always' | 'interval';
  private readonly writeIntervalMs: number;
  private readonly renewBeforeMs: number;
  private readonly deadRecheckMs: number;
  private readonly usedIntervalMs: number;
  private readonly now: () => number;
  readonly instanceId: string;

  constructor(options: TokenBrokerOptions) {
    this.secrets = options.secrets;
    this.msal = options.msal;
    this.events = options.events ?? {};
    this.policy = options.settings.TOKEN_CACHE_WRITE_POLICY;
    this.writeIntervalMs = options.settings.TOKEN_CACHE_WRITE_INTERVAL_SECONDS * 1000;
    this.renewBeforeMs = (options.renewBeforeSeconds ?? 300) * 1000;
    this.deadRecheckMs = (options.deadRecheckSeconds ?? 30) * 1000;
    this.usedIntervalMs = (options.usedIntervalSeconds ?? 60) * 1000;
    this.now = options.now ?? Date.now;
    this.instanceId = options.instanceId ?? `${hostname().slice(0, 40)}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.leases = new RefreshLeases(options.leaseTable, {
      leaseMs: options.settings.TOKEN_REFRESH_LEASE_SECONDS * 1000,
      instanceId: this.instanceId,
      now: this.now,
    });
  }

  /**
   * The connection's access token. `forceRefresh`: a token obtained after this call began. `claims`: a token
   * acquired with that claims request (JSON text of a Graph claims challenge, see claims-challenge.ts); always a
   * token-endpoint call, which fails as a dead grant when the claims need the account to sign in again.
   * `purpose`: `keep-alive` refreshes without counting as a use (no `used` event), so idle connections stay idle.
   */
  async getAccessToken(
    ref: ConnectionRef,
    options: { forceRefresh?: boolean; claims?: string; purpose?: 'use' | 'keep-alive' } = {},
  ): Promise<AccessToken> {
    const key = keyOf(ref);
    const claims = options.claims || undefined;
    const force = options.forceRefresh === true || claims !== undefined;
    const entry = this.entry(key);
    if (entry.dead) await this.checkStillDead(ref, entry);
    const cached = entry.token;
    if (!force && cached && this.isFresh(cached)) {
      if (options.purpose !== 'keep-alive') this.noteUsed(ref, entry);
      return cached;
    }
    let flight = this.inflight.get(key);
    // A forced refresh must not be satisfied by a plain refresh that may only adopt an older token: queue behind it.
    // A claims request is satisfied only by a refresh with the same claims.
    if (!flight || (force && !flight.force) || (claims !== undefined && flight.claims !== claims)) {
      const before = flight?.promise;
      const promise: Promise<AccessToken> = (async () => {
        if (before) await before.catch(() => undefined);
        return this.refresh(ref, entry, force, claims);
      })().finally(() => {
        if (this.inflight.get(key)?.promise === promise) this.inflight.delete(key);
      });
      flight = { promise, force, ...(claims !== undefined ? { claims } : {}) };
      this.inflight.set(key, flight);
    }
    const token = await flight.promise;
    if (options.purpose !== 'keep-alive') this.noteUsed(ref, entry);
    return token;
  }

  /** Stores the token cache of a fresh sign-in, replacing whatever the connection had, under the refresh lease. */
  async storeSignIn(ref: ConnectionRef, serializedCache: string): Promise<void> {
    const key = keyOf(ref);
    const deadline = this.now() + this.leases.leaseMs + WAIT_SLACK_MS;
    let got: AcquireResult = await this.leases.tryAcquire(ref.tenantId, ref.id, this.entries.get(key)?.leaseHint);
    // A refresh in flight elsewhere would otherwise write its (older grant's) cache over this one.
    for (let delay = FIRST_POLL_MS; !got.acquired; delay = Math.min(delay * 2, MAX_POLL_MS)) {
      if (this.now() > deadline) throw transient('Another instance is refreshing this connection; try again shortly.');
      await sleep(jittered(delay));
      got = await this.leases.tryAcquire(ref.tenantId, ref.id);
    }
    const changes: Partial<LeaseState> = {};
    let hint: LeaseRow | undefined;
    try {
      await this.secrets.set(connectionSecretName(ref.tenantId, ref.id), serializedCache);
      Object.assign(changes, {
        cacheHash: digest(serializedCache),
        lastWrittenAt: this.now(),
        lastWrittenBy: this.instanceId,
        pendingBy: '',
        pendingSince: 0,
        deadHash: '',
        deadReason: '',
      } satisfies Partial<LeaseState>);
    } finally {
      hint = await this.leases.release(got.lease, changes).catch(() => undefined);
    }
    this.forget(ref);
    const entry = this.entry(key);
    entry.leaseHint = hint;
    this.adopt(entry, serializedCache);
    // The sign-in's own access token serves the first steps: no vault read or token call right after connecting.
    const token = accessTokenIn(serializedCache, ref, this.msal.scopes);
    if (token && this.isFresh(token)) entry.token = plain(token);
  }

  /** Drops what this instance remembers of a connection (after re-authorization or deletion). */
  forget(ref: Pick<ConnectionRef, 'tenantId' | 'id'>): void {
    const key = keyOf(ref);
    const entry = this.entries.get(key);
    if (entry?.flushTimer) clearTimeout(entry.flushTimer);
    this.entries.delete(key);
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
    for (const entry of this.entries.values()) if (entry.flushTimer) clearTimeout(entry.flushTimer);
  }

  private entry(key: string): Entry {
    let entry = this.entries.get(key);
    if (!entry) this.entries.set(key, (entry = {}));
    return entry;
  }

  private isFresh(token: AccessToken): boolean {
    return token.expiresOn.getTime() - this.renewBeforeMs > this.now();
  }

  /**
   * Fresh, and for a forced refresh obtained after the caller asked, by whichever instance: either the cache is not
   * the stored version the lease row named when this flight began (every stored refresh writes a new version), or the
   * token was certainly issued after the flight started (MSAL rounds `cached_at` to the nearest second).
   * `storedDigest` is undefined when the cache is this instance's memory rather than a stored version.
   */
  private usable(token: CachedAccessToken, force: boolean, flight: Flight, storedDigest: string | undefined): boolean {
    // Only the token endpoint can say whether the claims are met (or need a new sign-in).
    if (flight.claims !== undefined) return false;
    if (!this.isFresh(token)) return false;
    if (!force) return true;
    return (storedDigest !== undefined && flight.baseline !== undefined && storedDigest !== flight.baseline) || token.cachedAt >= flight.startedAt + 500;
  }

  private noteUsed(ref: ConnectionRef, entry: Entry): void {
    const used = this.events.used;
    if (!used) return;
    const now = this.now();
    if (entry.usedAt !== undefined && now - entry.usedAt < this.usedIntervalMs) return;
    entry.usedAt = now;
    void Promise.resolve()
      .then(() => used(ref, new Date(now)))
      .catch(() => undefined);
  }

  private async checkStillDead(ref: ConnectionRef, entry: Entry): Promise<void> {
    const dead = entry.dead!;
    if (this.now() - dead.checkedAt >= this.deadRecheckMs) {
      entry.deadCheck ??= (async () => {
        try {
          const row = await this.leases.read(ref.tenantId, ref.id);
          // A different stored cache that is not itself known dead: someone signed in again.
          if (row && row.cacheHash !== dead.rowHash && row.deadHash !== row.cacheHash) {
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
    if (entry.dead) throw new TokenAcquisitionError({ kind: 'dead_grant', reason: entry.dead.reason });
  }

  private async refresh(ref: ConnectionRef, entry: Entry, force: boolean, claims?: string): Promise<AccessToken> {
    try {
      return await this.coordinatedRefresh(ref, entry, force, claims);
    } catch (e) {
      if (e instanceof TokenAcquisitionError) {
        if (e.failure.kind === 'application_credentials') await this.reportApplicationCredentials(e.failure);
        throw e;
      }
      // Vault, Tables, discovery or a lost lease: all worth a retry (the step runner backs off, then Service Bus redelivers).
      const what =
        e instanceof SecretStoreError
          ? `Key Vault ${e.operation} failed${e.statusCode ? ` with HTTP ${e.statusCode}` : e.code ? ` (${e.code})` : ''}`
          : e instanceof LeaseLostError
            ? 'the refresh lease was lost'
            : 'the token service could not be reached';
      throw new TokenAcquisitionError({ kind: 'transient', reason: `Token refresh temporarily unavailable: ${what}.` }, { cause: e });
    }
  }

  private async reportApplicationCredentials(failure: Extract<TokenFailure, { kind: 'application_credentials' }>): Promise<void> {
    try {
      await this.events.applicationCredentialsInvalid?.(failure);
    } catch {
      // The step or test still fails with the reason; the next failure raises the alert again.
    }
  }

  private async coordinatedRefresh(ref: ConnectionRef, entry: Entry, force: boolean, claims?: string): Promise<AccessToken> {
    const flight: Flight = { startedAt: this.now(), baseline: undefined, ...(claims !== undefined ? { claims } : {}) };
    // A crashed holder's lease runs out within leaseMs; waiting longer than that means something else is wrong.
    const deadline = flight.startedAt + this.leases.leaseMs + WAIT_SLACK_MS;
    let hint = entry.leaseHint;
    let delay = FIRST_POLL_MS;
    for (;;) {
      if (this.now() > deadline) throw transient("Another instance is still refreshing this connection's token; try again shortly.");
      const got = await this.leases.tryAcquire(ref.tenantId, ref.id, hint);
      hint = undefined;
      if (got.acquired) {
        flight.baseline ??= got.prior?.cacheHash ?? '';
        return await this.refreshHolding(ref, entry, got, force, flight);
      }

      let row = got.row;
      flight.baseline ??= row.cacheHash;
      const holder = row.holder;
      let waited = false;
      while (row.holder === holder && this.leases.isHeld(row)) {
        if (this.now() > deadline) throw transient("Another instance is still refreshing this connection's token; try again shortly.");
        waited = true;
        await sleep(jittered(delay));
        delay = Math.min(delay * 2, MAX_POLL_MS);
        row = (await this.leases.read(ref.tenantId, ref.id)) ?? FREE_ROW;
      }
      if (row.etag) hint = row;
      if (row.holder !== '') continue; // taken over by someone else, or expired: go through the lease again

      // Released: the holder's outcome is in the row and, unless pending, in the vault.
      if (row.deadHash && row.deadHash === row.cacheHash) {
        return this.failDead(ref, entry, row.deadReason || DEAD_DEFAULT, row.cacheHash, false);
      }
      if (!row.pendingBy && !entry.pendingWrite && row.cacheHash && row.cacheHash !== entry.syncedHash) {
        const stored = await this.secrets.get(connectionSecretName(ref.tenantId, ref.id));
        if (stored !== undefined) {
          this.adopt(entry, stored);
          const token = accessTokenIn(stored, ref, this.msal.scopes);
          if (token && this.usable(token, force, flight, entry.syncedHash!)) return (entry.token = plain(token));
        }
      }
      // Lost every race for a free row (tryAcquire gives up after a few): back off rather than spin on the table.
      if (!waited) await sleep(jittered(delay));
    }
  }

  private async refreshHolding(
    ref: ConnectionRef,
    entry: Entry,
    got: Extract<AcquireResult, { acquired: true }>,
    force: boolean,
    flight: Flight,
  ): Promise<AccessToken> {
    const changes: Partial<LeaseState> = {};
    let outcome: Outcome;
    try {
      outcome = await this.underLease(ref, entry, got, force, flight, changes);
    } finally {
      // A failed release leaves the row held until it expires; the next holder then treats the vault as unknown.
      entry.leaseHint = await this.leases.release(got.lease, changes).catch(() => undefined);
    }
    if (outcome.kind === 'dead') return this.failDead(ref, entry, outcome.reason, outcome.rowHash, outcome.observed);
    if (outcome.refreshed) {
      try {
        await this.events.refreshed?.(ref, new Date(this.now()));
      } catch {
        // Bookkeeping only: the token is good.
      }
    }
    return outcome.token;
  }

  /** Runs while holding the lease; records what the row should say in `changes`. */
  private async underLease(
    ref: ConnectionRef,
    entry: Entry,
    { lease, prior, takeover }: Extract<AcquireResult, { acquired: true }>,
    force: boolean,
    flight: Flight,
    changes: Partial<LeaseState>,
  ): Promise<Outcome> {
    const now = this.now();
    const secretName = connectionSecretName(ref.tenantId, ref.id);

    // 1. Which cache is the newest: ours, or the vault's.
    let cache: string;
    let storedDigest: string | undefined;
    if (prior?.pendingBy && prior.pendingBy !== this.instanceId && now - prior.pendingSince < PENDING_GRACE_MS) {
      // The vault's refresh token was rotated away and the new one lives only in that instance: using the stored one
      // would trip reuse detection and kill the grant. That instance keeps retrying its write.
      throw transient('The newest sign-in data of this connection is not saved yet; try again shortly.');
    }
    if (entry.pendingWrite && entry.cache && prior?.pendingBy === this.instanceId && prior.cacheHash === digest(entry.cache)) {
      cache = entry.cache;
    } else if (!takeover && prior && !prior.pendingBy && entry.cache && entry.syncedHash === prior.cacheHash) {
      cache = entry.cache;
    } else {
      entry.pendingWrite = false;
      const stored = await this.secrets.get(secretName);
      if (stored === undefined) {
        return { kind: 'dead', reason: 'No sign-in is stored for this connection. Re-authorize the connection.', rowHash: prior?.cacheHash ?? '', observed: true };
      }
      this.adopt(entry, stored);
      cache = stored;
      storedDigest = entry.syncedHash;
      changes.cacheHash = entry.syncedHash;
      if (prior?.pendingBy) Object.assign(changes, { pendingBy: '', pendingSince: 0 });
    }
    const rowHash = changes.cacheHash ?? prior?.cacheHash ?? '';

    // 2. Another instance already found this grant dead (a grant dies as a whole, so its stored version decides).
    if (prior?.deadHash && (prior.deadHash === rowHash || prior.deadHash === digest(cache))) {
      return { kind: 'dead', reason: prior.deadReason || DEAD_DEFAULT, rowHash, observed: false };
    }

    // 3. A fresh access token is already there (another instance refreshed and wrote it, or a new sign-in).
    const existing = accessTokenIn(cache, ref, this.msal.scopes);
    if (existing && this.usable(existing, force, flight, storedDigest)) {
      return { kind: 'token', token: (entry.token = plain(existing)), refreshed: false };
    }

    // 4. Use the refresh token. Enough lease must remain that nobody takes over while our call is in flight.
    await this.leases.ensureRemaining(lease, this.leases.leaseMs / 2);
    const redeemed = await this.redeem(ref, cache, flight.claims);
    if ('dead' in redeemed) {
      Object.assign(changes, { deadHash: rowHash, deadReason: redeemed.dead });
      return { kind: 'dead', reason: redeemed.dead, rowHash, observed: true };
    }
    const updated = redeemed.cache;
    entry.cache = updated;
    entry.token = redeemed.token;
    if (prior?.deadHash) Object.assign(changes, { deadHash: '', deadReason: '' });

    // 5. Write back only what matters: a refresh token that differs from the vault's, per policy.
    const rts = refreshTokensOf(updated);
    const storedUnusable = entry.storedRts === '';
    const due =
      this.policy === 'always' || storedUnusable || !prior?.lastWrittenAt || this.now() - prior.lastWrittenAt >= this.writeIntervalMs;
    if (rts !== entry.storedRts && due) {
      try {
        await this.secrets.set(secretName, updated);
        entry.syncedHash = digest(updated);
        entry.storedRts = rts;
        entry.pendingWrite = false;
        entry.flushDelay = undefined;
        Object.assign(changes, {
          cacheHash: entry.syncedHash,
          lastWrittenAt: this.now(),
          lastWrittenBy: this.instanceId,
          pendingBy: '',
          pendingSince: 0,
        } satisfies Partial<LeaseState>);
      } catch (e) {
        if (!(e instanceof SecretStoreError)) throw e;
        if (this.policy === 'always' || storedUnusable) {
          entry.pendingWrite = true;
          Object.assign(changes, {
            cacheHash: digest(updated),
            pendingBy: this.instanceId,
            pendingSince: prior?.pendingBy === this.instanceId ? prior.pendingSince : this.now(),
          } satisfies Partial<LeaseState>);
          this.scheduleFlush(ref, entry);
        }
        // Under 'interval' the stored refresh token stays valid (Entra): the next due refresh writes instead.
      }
    }
    return { kind: 'token', token: redeemed.token, refreshed: true };
  }

  /** One token-endpoint call with a fresh MSAL instance: MSAL would otherwise replay a remembered 429/5xx for 60 s. */
  private async redeem(ref: ConnectionRef, cache: string, claims?: string): Promise<{ token: AccessToken; cache: string } | { dead: string }> {
    const client = await this.msal.create();
    const tokenCache = client.getTokenCache();
    tokenCache.deserialize(cache);
    const account = (await tokenCache.getAllAccounts()).find(
      (a: AccountInfo) => a.homeAccountId === `${ref.objectId}.${ref.tenantId}` || a.localAccountId === ref.objectId,
    );
    if (!account) return { dead: 'The stored sign-in belongs to no account of this connection. Re-authorize the connection.' };
    let result;
    try {
      // Forced: the broker has already decided the cached access token will not do (its renew margin is not MSAL's).
      result = await client.acquireTokenSilent({ account, scopes: this.msal.scopes, forceRefresh: true, ...(claims !== undefined ? { claims } : {}) });
    } catch (e) {
      const failure = classifyTokenError(e);
      if (failure.kind === 'dead_grant') return { dead: failure.reason };
      throw new TokenAcquisitionError(failure);
    }
    if (!result?.accessToken || !result.expiresOn) throw transient('The sign-in service returned no access token.');
    return { token: { token: result.accessToken, expiresOn: result.expiresOn }, cache: tokenCache.serialize() };
  }

  /** Whether the row still names the cache that proved dead (an unreadable row counts as yes: report it). */
  private async stillStored(ref: ConnectionRef, rowHash: string): Promise<boolean> {
    if (!rowHash) return true;
    try {
      const row = await this.leases.read(ref.tenantId, ref.id);
      return !row?.cacheHash || row.cacheHash === rowHash;
    } catch {
      return true;
    }
  }

  private async failDead(ref: ConnectionRef, entry: Entry, reason: string, rowHash: string, observed: boolean): Promise<never> {
    entry.dead = { reason, rowHash, checkedAt: this.now() };
    entry.token = undefined;
    entry.cache = undefined;
    entry.syncedHash = undefined;
    entry.pendingWrite = false;
    // Only the instance that saw the failure reports it; others learned it from the row, where it is already known.
    // A re-authorization that stored new tokens meanwhile changes the row's digest: the dead grant is then history.
    if (observed && (await this.stillStored(ref, rowHash))) {
      try {
        await this.events.grantDead?.(ref, reason);
      } catch {
        // The step still fails with the reason; the status is recorded by the next observer.
      }
    }
    throw new TokenAcquisitionError({ kind: 'dead_grant', reason });
  }

  private adopt(entry: Entry, stored: string): void {
    entry.cache = stored;
    entry.syncedHash = digest(stored);
    entry.storedRts = refreshTokensOf(stored);
    entry.pendingWrite = false;
  }

  private scheduleFlush(ref: ConnectionRef, entry: Entry): void {
    if (entry.flushTimer) return;
    entry.flushDelay = Math.min((entry.flushDelay ?? 500) * 2, 60_000);
    entry.flushTimer = setTimeout(() => {
      entry.flushTimer = undefined;
      void this.flushPending(ref, entry);
    }, jittered(entry.flushDelay));
    entry.flushTimer.unref();
  }

  /** Retries writing a rotated cache that only this instance holds. */
  private async flushPending(ref: ConnectionRef, entry: Entry): Promise<void> {
    if (!entry.pendingWrite || !entry.cache || this.entries.get(keyOf(ref)) !== entry) return;
    let got: AcquireResult;
    try {
      got = await this.leases.tryAcquire(ref.tenantId, ref.id, entry.leaseHint);
    } catch {
      return this.scheduleFlush(ref, entry);
    }
    if (!got.acquired) return this.scheduleFlush(ref, entry);
    const changes: Partial<LeaseState> = {};
    let retry = false;
    try {
      const cache = entry.cache;
      // Superseded (a new sign-in, or our memory changed): nothing of ours to save any more.
      if (!entry.pendingWrite || got.prior?.pendingBy !== this.instanceId || got.prior.cacheHash !== digest(cache)) {
        entry.pendingWrite = false;
        return;
      }
      await this.secrets.set(connectionSecretName(ref.tenantId, ref.id), cache);
      entry.syncedHash = digest(cache);
      entry.storedRts = refreshTokensOf(cache);
      entry.pendingWrite = false;
      entry.flushDelay = undefined;
      Object.assign(changes, { lastWrittenAt: this.now(), lastWrittenBy: this.instanceId, pendingBy: '', pendingSince: 0 });
    } catch {
      retry = true;
    } finally {
      entry.leaseHint = await this.leases.release(got.lease, changes).catch(() => undefined);
    }
    if (retry) this.scheduleFlush(ref, entry);
  }
}

interface Entry {
  token?: AccessToken;
  /** Newest serialized cache this instance knows; under 'interval' it may be newer than the vault's. */
  cache?: string;
  /** Digest of the vault's copy as this instance last read or wrote it. */
  syncedHash?: string;
  /** Refresh-token fingerprint of that vault copy ('' = it has none). Never leaves memory. */
  storedRts?: string;
  /** A rotated cache that only this instance holds (its vault write failed under 'always'). */
  pendingWrite?: boolean;
  flushTimer?: NodeJS.Timeout;
  flushDelay?: number;
  /** The lease row as this instance left it: lets the next acquire take one request instead of two. */
  leaseHint?: LeaseRow;
  dead?: { reason: string; rowHash: string; checkedAt: number };
  deadCheck?: Promise<void>;
  usedAt?: number;
}

type Outcome =
  | { kind: 'token'; token: AccessToken; refreshed: boolean }
  | { kind: 'dead'; reason: string; rowHash: string; observed: boolean };

interface Flight {
  startedAt: number;
  /** The lease row's cache digest when this flight first looked: a different stored version was written since. */
  baseline: string | undefined;
  /** A claims request (claims challenge) the refresh must carry. */
  claims?: string;
}

interface CachedAccessToken extends AccessToken {
  /** When the token was issued (ms, whole seconds), by whichever instance. */
  cachedAt: number;
}

const FIRST_POLL_MS = 20;
const MAX_POLL_MS = 250;
const WAIT_SLACK_MS = 2000;
/** How long other instances defer to one holding an unsaved rotated cache before falling back to the vault's. */
const PENDING_GRACE_MS = 10 * 60_000;
const DEAD_DEFAULT = "The connection's sign-in is no longer valid. Re-authorize the connection.";
const FREE_ROW: LeaseRow = { ...EMPTY_LEASE, etag: '' };

const keyOf = (ref: Pick<ConnectionRef, 'tenantId' | 'id'>) => `${ref.tenantId}/${ref.id}`;
const transient = (reason: string) => new TokenAcquisitionError({ kind: 'transient', reason });
const plain = (t: AccessToken): AccessToken => ({ token: t.token, expiresOn: t.expiresOn });
const jittered = (ms: number) => ms / 2 + Math.random() * (ms / 2);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Identifies a cache version on the lease row without revealing anything usable. */
const digest = (serializedCache: string) => createHash('sha256').update(serializedCache).digest('base64url');

interface JsonCacheSubset {
  Account?: Record<string, { home_account_id?: string; local_account_id?: string }>;
  AccessToken?: Record<
    string,
    { home_account_id?: string; secret?: string; target?: string; cached_at?: string; expires_on?: string; token_type?: string }
  >;
  RefreshToken?: Record<string, { secret?: string }>;
}

/**
 * The connection's access token in a serialized MSAL cache, read without MSAL: asking MSAL would refresh on its own
 * 300 s margin, outside the broker's control (and, for waiters, outside the lease).
 */
function accessTokenIn(serializedCache: string, ref: ConnectionRef, scopes: string[]): CachedAccessToken | undefined {
  let json: JsonCacheSubset;
  try {
    json = JSON.parse(serializedCache) as JsonCacheSubset;
  } catch {
    return undefined;
  }
  const homeIds = new Set(
    Object.values(json.Account ?? {})
      .filter((a) => a.home_account_id === `${ref.objectId}.${ref.tenantId}` || a.local_account_id === ref.objectId)
      .map((a) => a.home_account_id),
  );
  let best: CachedAccessToken | undefined;
  for (const at of Object.values(json.AccessToken ?? {})) {
    if (!at.secret || !homeIds.has(at.home_account_id) || (at.token_type ?? 'Bearer').toLowerCase() !== 'bearer') continue;
    if (!coversScopes(at.target ?? '', scopes)) continue;
    const expiresOn = Number(at.expires_on) * 1000;
    const cachedAt = Number(at.cached_at) * 1000;
    if (!Number.isFinite(expiresOn) || !Number.isFinite(cachedAt)) continue;
    if (!best || expiresOn > best.expiresOn.getTime()) best = { token: at.secret, expiresOn: new Date(expiresOn), cachedAt };
  }
  return best;
}

/** Fingerprint of a cache's refresh tokens ('' when it has none): the part whose change must reach the vault. */
function refreshTokensOf(serializedCache: string): string {
  let section: Record<string, { secret?: string }>;
  try {
    section = (JSON.parse(serializedCache) as JsonCacheSubset).RefreshToken ?? {};
  } catch {
    return '';
  }
  const secrets = Object.values(section)
    .map((t) => t.secret ?? '')
    .filter(Boolean)
    .sort();
  return secrets.length ? digest(secrets.join('|')) : '';
}
