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
