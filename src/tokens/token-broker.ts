import type { AccountInfo } from '@azure/msal-node';
import { connectionSecretName, type SecretStore } from '../adapters/secret-store';
import type { MsalClients } from './msal-clients';
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
  constructor(readonly failure: TokenFailure) {
    super(failure.reason);
    this.name = 'TokenAcquisitionError';
  }
}

export interface TokenBrokerEvents {
  /** The refresh token was used successfully. */
  refreshed?(ref: ConnectionRef, at: Date): Promise<void> | void;
  /** Only a new sign-in can help; the broker will not try again until `forget` is called. */
  grantDead?(ref: ConnectionRef, reason: string): Promise<void> | void;
}

/** Access tokens are renewed this long before they expire, so a step never starts with a dying token. */
const renewBeforeMs = 5 * 60 * 1000;

/**
 * Hands out access tokens for connections. Tokens are reused from memory; only when they are about
 * to expire is the connection's MSAL cache read from the secret store and its refresh token used.
 * Concurrent callers for one connection share that refresh.
 */
export class TokenBroker {
  private readonly tokens = new Map<string, AccessToken>();
  private readonly inflight = new Map<string, Promise<AccessToken>>();
  private readonly dead = new Map<string, string>();

  constructor(
    private readonly secrets: SecretStore,
    private readonly msal: MsalClients,
    private readonly events: TokenBrokerEvents = {},
    private readonly now: () => number = Date.now,
  ) {}

  async getAccessToken(ref: ConnectionRef, options: { forceRefresh?: boolean } = {}): Promise<AccessToken> {
    const key = keyOf(ref);
    const deadReason = this.dead.get(key);
    if (deadReason) throw new TokenAcquisitionError({ kind: 'dead_grant', reason: deadReason });
    const cached = this.tokens.get(key);
    if (!options.forceRefresh && cached && cached.expiresOn.getTime() - renewBeforeMs > this.now()) return cached;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.refresh(ref, options.forceRefresh === true).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  /** Stores the token cache of a fresh sign-in, replacing whatever the connection had. */
  async storeSignIn(ref: ConnectionRef, serializedCache: string): Promise<void> {
    await this.secrets.set(connectionSecretName(ref.tenantId, ref.id), serializedCache);
    this.forget(ref);
  }

  /** Drops what this instance remembers of a connection (after re-authorization or deletion). */
  forget(ref: Pick<ConnectionRef, 'tenantId' | 'id'>): void {
    const key = keyOf(ref);
    this.tokens.delete(key);
    this.dead.delete(key);
  }

  private async refresh(ref: ConnectionRef, forceRefresh: boolean): Promise<AccessToken> {
    const secretName = connectionSecretName(ref.tenantId, ref.id);
    const stored = await this.secrets.get(secretName);
    if (!stored) return this.failDead(ref, 'No sign-in is stored for this connection. Re-authorize the connection.');
    const client = await this.msal.create();
    const cache = client.getTokenCache();
    cache.deserialize(stored);
    const account = (await cache.getAllAccounts()).find((a: AccountInfo) => a.homeAccountId === `${ref.objectId}.${ref.tenantId}` || a.localAccountId === ref.objectId);
    if (!account) return this.failDead(ref, 'The stored sign-in belongs to no account of this connection. Re-authorize the connection.');
    let result;
    try {
      result = await client.acquireTokenSilent({ account, scopes: this.msal.scopes, forceRefresh });
    } catch (e) {
      const failure = classifyTokenError(e);
      if (failure.kind === 'dead_grant') return this.failDead(ref, failure.reason);
      throw new TokenAcquisitionError(failure);
    }
    if (!result?.accessToken || !result.expiresOn) {
      throw new TokenAcquisitionError({ kind: 'transient', reason: 'The sign-in service returned no access token.' });
    }
    const updated = cache.serialize();
    if (refreshTokensOf(updated) !== refreshTokensOf(stored)) {
      // A rotated refresh token must be kept, or the next refresh would present a dead one.
      await this.secrets.set(secretName, updated);
    }
    const token = { token: result.accessToken, expiresOn: result.expiresOn };
    this.tokens.set(keyOf(ref), token);
    await this.events.refreshed?.(ref, new Date(this.now()));
    return token;
  }

  private async failDead(ref: ConnectionRef, reason: string): Promise<never> {
    this.dead.set(keyOf(ref), reason);
    this.tokens.delete(keyOf(ref));
    await this.events.grantDead?.(ref, reason);
    throw new TokenAcquisitionError({ kind: 'dead_grant', reason });
  }
}

const keyOf = (ref: Pick<ConnectionRef, 'tenantId' | 'id'>) => `${ref.tenantId}/${ref.id}`;

function refreshTokensOf(serializedCache: string): string {
  const section = (JSON.parse(serializedCache) as { RefreshToken?: Record<string, { secret?: string }> }).RefreshToken ?? {};
  return Object.values(section)
    .map((t) => t.secret ?? '')
    .sort()
    .join('|');
}
