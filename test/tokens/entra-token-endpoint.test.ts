/**
 * The local identity provider's token endpoint answers in Entra's shapes, checked on the wire (plain fetch, as MSAL
 * posts it) and through MSAL's cache (what the broker reads):
 * - `scope`: Microsoft Graph permissions WITHOUT the `https://graph.microsoft.com/` prefix, `/.default` expanded to
 *   the consented permissions, plus the OpenID Connect scopes asked for; any other API keeps its App ID URI
 *   (see src/tokens/granted-scopes.ts for the sources).
 */
import { ConfidentialClientApplication, CryptoProvider, type Configuration } from '@azure/msal-node';
import {
  CONTOSO_SVC_WORKPOINT,
  GRAPH_AUDIENCE,
  LOCAL_API_AUDIENCE,
  LOCAL_CLIENT_ID,
  LOCAL_CLIENT_SECRET,
  LOCAL_GRAPH_CONSENTED_SCOPES,
  type LocalUser,
} from '../../src/local/identity-provider/directory';
import { startIdentityProvider, type LocalIdentityProvider } from '../../src/local/identity-provider/launch';
import { signIn } from '../support/sign-in';

const redirectUri = 'http://localhost:7071/api/connections/callback';
const GRAPH_DEFAULT = `${GRAPH_AUDIENCE}/.default`;

let idp: LocalIdentityProvider;

beforeAll(async () => {
  idp = await startIdentityProvider({ redirectUris: [redirectUri] });
}, 30_000);
afterAll(async () => {
  await idp?.stop();
});

const msalConfig = (): Configuration => ({
  auth: {
    clientId: LOCAL_CLIENT_ID,
    clientSecret: LOCAL_CLIENT_SECRET,
    authority: idp.authority,
    knownAuthorities: [new URL(idp.authority).host],
    authorityMetadata: JSON.stringify(idp.openidConfiguration),
  },
});

/** Signs `user` in for `scopes` with MSAL's auth code flow; returns the client (its cache holds the tokens). */
async function signedIn(user: LocalUser, scopes: string[]): Promise<ConfidentialClientApplication> {
  const msal = new ConfidentialClientApplication(msalConfig());
  const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
  const url = await msal.getAuthCodeUrl({ scopes, redirectUri, codeChallenge: challenge, codeChallengeMethod: 'S256' });
  const code = new URL((await signIn(url, user.username)).redirectUrl).searchParams.get('code')!;
  await msal.acquireTokenByCode({ code, scopes, redirectUri, codeVerifier: verifier });
  return msal;
}

const cacheOf = (msal: ConfidentialClientApplication) =>
  JSON.parse(msal.getTokenCache().serialize()) as {
    AccessToken: Record<string, { target: string }>;
    RefreshToken: Record<string, { secret: string }>;
  };

/** A refresh as MSAL posts it (client_secret_post), answered as JSON with its HTTP status. */
async function refresh(refreshToken: string, scope: string, extra: Record<string, string> = {}) {
  const res = await fetch(String(idp.openidConfiguration.token_endpoint), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: LOCAL_CLIENT_ID,
      client_secret: LOCAL_CLIENT_SECRET,
      refresh_token: refreshToken,
      scope,
      ...extra,
    }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

const sorted = (scope: string) => scope.split(' ').filter(Boolean).sort();

describe('scope shapes', () => {
  test('Graph /.default: the consented permissions without the Graph prefix, and the OIDC scopes asked for', async () => {
    const msal = await signedIn(CONTOSO_SVC_WORKPOINT, [GRAPH_DEFAULT]);
    // What MSAL stored from the code redemption (MSAL adds openid, profile and offline_access to every request).
    const [stored] = Object.values(cacheOf(msal).AccessToken);
    expect(sorted(stored.target)).toEqual(sorted([...LOCAL_GRAPH_CONSENTED_SCOPES, 'openid', 'profile', 'offline_access'].join(' ')));

    const [rt] = Object.values(cacheOf(msal).RefreshToken);
    const answer = await refresh(rt.secret, `${GRAPH_DEFAULT} openid profile offline_access`);
    expect(answer.status).toBe(200);
    expect(sorted(answer.json.scope)).toEqual(sorted([...LOCAL_GRAPH_CONSENTED_SCOPES, 'openid', 'profile', 'offline_access'].join(' ')));

    // Only what was asked: without openid/profile in the request, none in the answer.
    const bare = await refresh(answer.json.refresh_token ?? rt.secret, GRAPH_DEFAULT);
    expect(bare).toMatchObject({ status: 200 });
    expect(sorted(bare.json.scope)).toEqual(sorted(LOCAL_GRAPH_CONSENTED_SCOPES.join(' ')));
  });

  test('one Graph permission, asked with its prefix, is answered without it', async () => {
    const msal = await signedIn(CONTOSO_SVC_WORKPOINT, [`${GRAPH_AUDIENCE}/Sites.ReadWrite.All`]);
    const [rt] = Object.values(cacheOf(msal).RefreshToken);
    const answer = await refresh(rt.secret, `${GRAPH_AUDIENCE}/Sites.ReadWrite.All offline_access`);
    expect(sorted(answer.json.scope)).toEqual(['Sites.ReadWrite.All', 'offline_access']);
  });

  test('another API keeps its App ID URI', async () => {
    const msal = await signedIn(CONTOSO_SVC_WORKPOINT, [`${LOCAL_API_AUDIENCE}/access_as_user`]);
    const [stored] = Object.values(cacheOf(msal).AccessToken);
    expect(sorted(stored.target)).toEqual(sorted(`${LOCAL_API_AUDIENCE}/access_as_user openid profile offline_access`));
  });
});
