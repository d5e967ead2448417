/**
 * The `managedIdentity` credential mode end to end: the sign-in app and the API app authenticate to the local identity
 * provider with the Function's managed identity token as a client assertion (a federated identity credential, as in
 * Entra), through real MSAL Node, and no client secret is set anywhere. Refused assertions (expired, wrong audience,
 * wrong subject) are application-credentials failures with Entra's AADSTS codes, and a refused API credential raises
 * the alert naming API_CLIENT_ID.
 */
import type { AccessToken, TokenCredential } from '@azure/identity';
import { connectionSecretName } from '../../src/adapters/secret-store';
import type { ConnectionView } from '../../src/connections/connection';
import { CONTOSO_SVC_WORKPOINT, CONTOSO_USER, LOCAL_MANAGED_IDENTITY, TENANT_A } from '../../src/local/identity-provider/directory';
import { getTokenStats, mintLocalToken } from '../../src/local/identity-provider/launch';
import { LocalManagedIdentityCredential } from '../../src/local/local-credential';
import { UserAssertion } from '../../src/shared/user';
import { MsalClients } from '../../src/tokens/msal-clients';
import { redeemRefreshToken } from '../../src/tokens/redeem-refresh-token';
import { TokenAcquisitionError, type TokenFailure } from '../../src/tokens/token-errors';
import { UserTokens } from '../../src/tokens/user-tokens';
import { authorizeConnection } from '../support/connections';
import { startTestStack, type TestStack } from '../support/test-stack';

let stack: TestStack;
let connection: ConnectionView;

beforeAll(async () => {
  stack = await startTestStack({ credentialMode: 'managedIdentity' });
  connection = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

/** The identity endpoint's answer with a twist: another resource (audience), lifetime or identity. */
function identityToken(query: Record<string, string>): TokenCredential {
  return {
    async getToken(): Promise<AccessToken> {
      const url = new URL('/local/managed-identity/token', stack.identityProvider.url);
      url.searchParams.set('resource', 'api://AzureADTokenExchange');
      url.searchParams.set('client_id', LOCAL_MANAGED_IDENTITY.clientId);
      for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
      const body = (await (await fetch(url)).json()) as { access_token: string; expires_on: string };
      return { token: body.access_token, expiresOnTimestamp: Number(body.expires_on) * 1000, tokenType: 'Bearer' };
    },
  };
}

const ref = () => ({ tenantId: TENANT_A.id, id: connection.id, objectId: connection.account.objectId });
const storedCache = async () => (await stack.internals.secrets.get(connectionSecretName(TENANT_A.id, connection.id)))!;

async function userAssertion(): Promise<UserAssertion> {
  const { access_token, expires_in } = await mintLocalToken(stack.identityProvider.url, { username: CONTOSO_USER.username });
  stack.secretsSeen.set(access_token, 'user access token');
  return new UserAssertion(access_token, new Date(Date.now() + expires_in * 1000));
}

async function failureOf(promise: Promise<unknown>): Promise<TokenFailure> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof TokenAcquisitionError) return e.failure;
    throw e;
  }
  throw new Error('it succeeded');
}

describe('managedIdentity credential mode', () => {
  it('runs with no client secret in any setting', () => {
    expect(stack.env.AUTH_CLIENT_CREDENTIAL).toBe('managedIdentity');
    expect(stack.env.API_CLIENT_CREDENTIAL).toBe('managedIdentity');
    expect(stack.context.settings.AUTH_CLIENT_SECRET).toBeUndefined();
    expect(stack.context.settings.API_CLIENT_SECRET).toBeUndefined();
    expect(stack.context.settings.AZURE_CLIENT_ID).toBe(LOCAL_MANAGED_IDENTITY.clientId);
  });

  it('signs a connection in (code redemption with the assertion) and refreshes it', async () => {
    expect(connection.status).toBe('active');
    const refreshes = async () => (await getTokenStats(stack.identityProvider.url)).byGrantType.refresh_token ?? 0;
    const before = await refreshes();
    const test = await stack.api(`connections/${connection.id}/test`, { method: 'POST', token: await stack.tokenFor() });
    expect(test.status).toBe(200);
    expect(test.json.ok).toBe(true);
    expect(await refreshes()).toBe(before + 1);
  });

  it('exchanges a user token On-Behalf-Of as the API registration', async () => {
    const token = await stack.internals.userTokens.graphToken(await userAssertion());
    stack.secretsSeen.set(token.token, 'On-Behalf-Of Graph token');
    expect(token.token.split('.')).toHaveLength(3);
  });

  it.each([
    ['an expired assertion', { expires_in: '-120' }, 700024],
    ['an assertion for another audience', { resource: 'api://not-the-token-exchange' }, 700212],
  ])('refuses %s at a refresh: an application-credentials failure naming the federated credential', async (_what, query, code) => {
    const msal = new MsalClients(stack.context.settings, identityToken(query));
    const failure = await failureOf(redeemRefreshToken(msal, ref(), await storedCache(), undefined));
    expect(failure).toMatchObject({ kind: 'application_credentials', code });
    expect(failure.reason).toContain('federated credential');
    expect(failure.reason).toContain('api://AzureADTokenExchange');
    // The grant is fine: the connection stays active.
    expect((await stack.api(`connections/${connection.id}`)).json.status).toBe('active');
  });

  it('refuses a wrong assertion at On-Behalf-Of and raises the alert naming the API registration', async () => {
    const raised: TokenFailure[] = [];
    const msal = new MsalClients(stack.context.settings, identityToken({ expires_in: '-120' }));
    const tokens = new UserTokens(stack.context.settings, msal, undefined, undefined, (f) => {
      raised.push(f);
    });
    const failure = await failureOf(tokens.graphToken(await userAssertion()));
    expect(failure).toMatchObject({ kind: 'application_credentials', code: 700024 });
    expect(raised).toEqual([failure]);
    expect(tokens.exchangingClientId).toBe(stack.context.settings.API_CLIENT_ID);
  });

  it('refuses a token of another issuer with AADSTS700211 (no federated credential matches it)', async () => {
    const impostor: TokenCredential = {
      async getToken() {
        // A token of the provider's own users is signed by another issuer: it matches no federated credential.
        const { access_token } = await mintLocalToken(stack.identityProvider.url, {
          username: CONTOSO_USER.username,
          audience: 'api://AzureADTokenExchange',
        });
        return { token: access_token, expiresOnTimestamp: Date.now() + 3600_000 };
      },
    };
    const failure = await failureOf(
      redeemRefreshToken(new MsalClients(stack.context.settings, impostor), ref(), await storedCache(), undefined),
    );
    expect(failure).toMatchObject({ kind: 'application_credentials', code: 700211 });
  });

  it('an identity the platform does not know fails as transient, naming AZURE_CLIENT_ID', async () => {
    const unknown = new LocalManagedIdentityCredential(stack.identityProvider.url, '00000000-0000-4000-8000-000000000000');
    const failure = await failureOf(
      redeemRefreshToken(new MsalClients(stack.context.settings, unknown), ref(), await storedCache(), undefined),
    );
    expect(failure.kind).toBe('transient');
    expect(failure.reason).toContain('AZURE_CLIENT_ID');
  });
});
