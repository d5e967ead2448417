/**
 * oidc-provider's storage adapter for the local identity provider (LOCAL ONLY): in memory like oidc-provider's own,
 * but enumerable, because /local/revoke needs every grant of an account.
 */
import type { OidcPayload } from './oidc-provider-types';

export interface AccountStore {
  /** The adapter class oidc-provider instantiates once per model (Grant, Session, RefreshToken, ...). */
  Adapter: new (model: string) => unknown;
  /** Deletes the account's grants (and every token issued under them) and sessions; answers how many grants. */
  revokeAccount(accountId: string): number;
}

/** The models a grant issues (oidc-provider's memory adapter's `grantable` set). */
const grantable = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

export function createStore(): AccountStore {
  const entries = new Map<string, { payload: OidcPayload; expiresAt?: number }>();
  const live = (key: string) => {
    const e = entries.get(key);
    if (e?.expiresAt !== undefined && e.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return e;
  };
  class Adapter {
    constructor(private readonly model: string) {}
    private k(id: string) {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: OidcPayload, expiresIn?: number) {
      entries.set(this.k(id), { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
    }
    async find(id: string) {
      return live(this.k(id))?.payload;
    }
    async findByUid(uid: string) {
      for (const key of entries.keys()) {
        if (key.startsWith(`${this.model}:`) && live(key)?.payload.uid === uid) return entries.get(key)!.payload;
      }
      return undefined;
    }
    async findByUserCode(userCode: string) {
      for (const key of entries.keys()) {
        if (key.startsWith(`${this.model}:`) && live(key)?.payload.userCode === userCode) return entries.get(key)!.payload;
      }
      return undefined;
    }
    async consume(id: string) {
      const e = live(this.k(id));
      if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      entries.delete(this.k(id));
    }
    /**
     * Only what a grant issued goes with it, as in oidc-provider's own memory adapter (lib/adapters/memory_adapter.js,
     * its `grantable` models). An Interaction also carries the grantId of the session it started in: deleting it too
     * made switching accounts fail, since the provider revokes the old account's grant and then resumes that very
     * interaction ("interaction session not found").
     */
    async revokeByGrantId(grantId: string) {
      for (const [key, e] of entries) {
        if (e.payload.grantId === grantId && grantable.has(key.slice(0, key.indexOf(':')))) entries.delete(key);
      }
    }
  }
  const revokeAccount = (accountId: string): number => {
    const grantIds = new Set<string>();
    for (const [key, e] of entries) {
      if (key.startsWith('Grant:') && e.payload.accountId === accountId) grantIds.add(e.payload.jti);
      if (key.startsWith('Session:') && e.payload.accountId === accountId) entries.delete(key);
    }
    for (const [key, e] of entries) {
      if (grantIds.has(e.payload.grantId) || (key.startsWith('Grant:') && grantIds.has(e.payload.jti))) entries.delete(key);
    }
    return grantIds.size;
  };
  return { Adapter, revokeAccount };
}
