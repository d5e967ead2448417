/**
 * LOCAL ONLY. A credential for the local Key Vault stand-in (src/local/key-vault-stand-in.ts), which accepts
 * any bearer token. The token is a fixed, meaningless string, so nothing real can leak if it is ever sent
 * elsewhere; configuration validation refuses local mode outside a local instance.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';

export const LOCAL_STATIC_TOKEN = 'local-key-vault-stand-in-token';

/** 2100-01-01: far enough that the SDK's token cycler never tries to refresh it. */
const EXPIRES_ON = Date.UTC(2100, 0, 1);

export class LocalStaticCredential implements TokenCredential {
  async getToken(_scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
    return { token: LOCAL_STATIC_TOKEN, expiresOnTimestamp: EXPIRES_ON, tokenType: 'Bearer' };
  }
}

/**
 * LOCAL ONLY. The Function's user-assigned managed identity as the local identity provider plays it: tokens from its
 * /local/managed-identity/token endpoint (resource + client_id, as the platform's identity endpoint takes them), which
 * the provider accepts as client assertions of the registrations that trust the identity.
 */
export class LocalManagedIdentityCredential implements TokenCredential {
  constructor(
    private readonly providerUrl: string,
    private readonly clientId: string,
  ) {}

  async getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
    const scope = Array.isArray(scopes) ? scopes[0] : scopes;
    const resource = (scope ?? '').replace(/\/\.default$/, '');
    const url = new URL('/local/managed-identity/token', this.providerUrl);
    url.searchParams.set('resource', resource);
    url.searchParams.set('client_id', this.clientId);
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { access_token?: string; expires_on?: string; error_description?: string };
    if (!res.ok || !body.access_token) throw new Error(`ManagedIdentityCredential: ${body.error_description ?? `HTTP ${res.status}`}`);
    return { token: body.access_token, expiresOnTimestamp: Number(body.expires_on) * 1000, tokenType: 'Bearer' };
  }
}
