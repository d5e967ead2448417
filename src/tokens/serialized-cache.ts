import { createHash } from 'node:crypto';
import { coversScopes } from './granted-scopes';
import type { AccessToken, ConnectionRef } from './token-types';

/*
 * Reading MSAL's serialized token cache (the JSON `TokenCache.serialize()` writes and the vault stores) without MSAL.
 *
 * Vocabulary: a cache's *hash* (SHA-256, base64url, of the serialized text) is the one word in src/tokens for "which
 * version of a connection's cache". The lease row's `cacheHash` names the newest stored version and `deadHash` one
 * whose grant proved dead; in memory, `syncedHash` is the vault's version as this instance last saw it. A hash is a
 * one-way digest of high-entropy data: it tells versions apart and reveals nothing usable.
 */

/** The hash of a serialized cache: which version it is. */
export const cacheHashOf = (serializedCache: string): string => createHash('sha256').update(serializedCache).digest('base64url');

export interface CachedAccessToken extends AccessToken {
  /** When the token was issued (ms, whole seconds), by whichever instance. */
  cachedAt: number;
}

interface JsonCacheSubset {
  Account?: Record<string, { home_account_id?: string; local_account_id?: string }>;
  AccessToken?: Record<
    string,
    { home_account_id?: string; secret?: string; target?: string; cached_at?: string; expires_on?: string; token_type?: string }
  >;
  RefreshToken?: Record<string, { secret?: string }>;
}

function parse(serializedCache: string): JsonCacheSubset | undefined {
  try {
    const json = JSON.parse(serializedCache) as unknown;
    return json && typeof json === 'object' ? (json as JsonCacheSubset) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The connection's access token in a serialized MSAL cache, read without MSAL: asking MSAL would refresh on its own
 * 300 s margin, outside the broker's control (and, for waiters, outside the lease). The account is matched by home
 * account id (`<objectId>.<tenantId>`) or local account id; the scopes by what Entra granted (granted-scopes.ts);
 * among several matching tokens the one that lives longest wins.
 */
export function accessTokenIn(
  serializedCache: string,
  ref: Pick<ConnectionRef, 'tenantId' | 'objectId'>,
  scopes: string[],
): CachedAccessToken | undefined {
  const json = parse(serializedCache);
  if (!json) return undefined;
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

/**
 * The hash of a cache's refresh tokens ('' when it has none): the part whose change must reach the vault (a new access
 * token alone is never written). Never leaves memory.
 */
export function refreshTokenHashOf(serializedCache: string): string {
  const section = parse(serializedCache)?.RefreshToken ?? {};
  const secrets = Object.values(section)
    .map((t) => t.secret ?? '')
    .filter(Boolean)
    .sort();
  return secrets.length ? cacheHashOf(secrets.join('|')) : '';
}
