import type { AccountInfo } from '@azure/msal-node';
import type { MsalClients } from './msal-clients';
import { classifyTokenError, TokenAcquisitionError, transient } from './token-errors';
import type { AccessToken, ConnectionRef } from './token-types';

export type Redeemed = { token: AccessToken; cache: string } | { dead: string };

/**
 * One token-endpoint call with the refresh token in `cache`, with a fresh MSAL instance: a shared one would replay a
 * remembered 429/5xx for 60 s. Returns the new token and the updated cache, or why the grant is dead; other failures
 * throw a classified TokenAcquisitionError.
 */
export async function redeemRefreshToken(
  msal: Pick<MsalClients, 'create' | 'scopes'>,
  ref: ConnectionRef,
  cache: string,
  claims: string | undefined,
): Promise<Redeemed> {
  const client = await msal.create();
  const tokenCache = client.getTokenCache();
  tokenCache.deserialize(cache);
  const account = (await tokenCache.getAllAccounts()).find(
    (a: AccountInfo) => a.homeAccountId === `${ref.objectId}.${ref.tenantId}` || a.localAccountId === ref.objectId,
  );
  if (!account) return { dead: 'The stored sign-in belongs to no account of this connection. Re-authorize the connection.' };
  let result;
  try {
    // Forced: the broker has already decided the cached access token will not do (its renew margin is not MSAL's).
    result = await client.acquireTokenSilent({
      account,
      scopes: msal.scopes,
      forceRefresh: true,
      ...(claims !== undefined ? { claims } : {}),
    });
  } catch (e) {
    // A refresh is one tenant's: the tenant removing or disabling the app is that tenant's matter, not the vendor's.
    const failure = classifyTokenError(e, { tenantScoped: true });
    if (failure.kind === 'dead_grant') return { dead: failure.reason };
    throw new TokenAcquisitionError(failure);
  }
  if (!result?.accessToken || !result.expiresOn) throw transient('The sign-in service returned no access token.');
  return { token: { token: result.accessToken, expiresOn: result.expiresOn }, cache: tokenCache.serialize() };
}
