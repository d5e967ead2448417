import type { TokenCredential } from '@azure/identity';
import type { Settings } from '../config/settings';

/**
 * How one app registration proves itself to Entra: its client secret, or a client assertion that is a token of the
 * app's user-assigned managed identity for `api://AzureADTokenExchange`, which Entra accepts because the registration
 * lists that identity as a federated identity credential (issuer https://login.microsoftonline.com/<tenant>/v2.0,
 * subject = the identity's object id, audience api://AzureADTokenExchange). Checked against
 * learn.microsoft.com/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity and
 * learn.microsoft.com/graph/api/application-post-federatedidentitycredentials ("audiences ... should be set to
 * api://AzureADTokenExchange"); MSAL Node takes the assertion as `auth.clientAssertion`, a callback it calls for each
 * token request (msal-common ClientAssertionCallback), so an expired identity token is never reused.
 */
export type AppCredential = { clientId: string; clientSecret: string } | { clientId: string; clientAssertion: () => Promise<string> };

/** The audience Entra requires of a federated credential's assertion in the public cloud. */
export const TOKEN_EXCHANGE_SCOPE = 'api://AzureADTokenExchange/.default';

/** The managed identity could not give the assertion (no identity, wrong client id, the endpoint down). */
export class ManagedIdentityAssertionError extends Error {
  constructor(cause: unknown) {
    super(
      `The app's managed identity (AZURE_CLIENT_ID) could not get its token for api://AzureADTokenExchange, the client assertion: ` +
        `${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}`,
      { cause },
    );
    this.name = 'ManagedIdentityAssertionError';
  }
}

/** The client assertion of `managedIdentity` mode: a fresh (or the credential's cached) identity token per request. */
export function managedIdentityAssertion(identity: TokenCredential): () => Promise<string> {
  return async () => {
    let token;
    try {
      token = await identity.getToken(TOKEN_EXCHANGE_SCOPE);
    } catch (e) {
      throw new ManagedIdentityAssertionError(e);
    }
    if (!token?.token) throw new ManagedIdentityAssertionError(new Error('no token'));
    return token.token;
  };
}

export type CredentialMode = Settings['AUTH_CLIENT_CREDENTIAL'];

/**
 * The credential of `clientId` in `mode`, or why there is none: the setting to fix is named, never the secret's value.
 * `secretSetting` is the app setting that would hold the secret.
 */
export function appCredential(
  clientId: string,
  mode: CredentialMode,
  secret: string | undefined,
  identity: TokenCredential | undefined,
  secretSetting: string,
): AppCredential | { problem: string } {
  if (mode === 'managedIdentity') {
    if (!identity) return { problem: 'the managed identity credential mode needs AZURE_CLIENT_ID (the client id of the app identity)' };
    return { clientId, clientAssertion: managedIdentityAssertion(identity) };
  }
  if (!secret) return { problem: `${secretSetting} is not set` };
  return { clientId, clientSecret: secret };
}
