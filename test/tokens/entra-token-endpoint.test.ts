/**
 * The local identity provider's token endpoint answers in Entra's shapes, checked on the wire (plain fetch, as MSAL
 * posts it) and through MSAL's cache (what the broker reads):
 * - `scope`: Microsoft Graph permissions WITHOUT the `https://graph.microsoft.com/` prefix, `/.default` expanded to
 *   the consented permissions, plus the OpenID Connect scopes asked for; any other API keeps its App ID URI
 *   (see src/tokens/granted-scopes.ts for the sources).
 * - the app's own credentials refused: HTTP 401 `invalid_client` with AADSTS7000215 (wrong secret), 7000218 (none),
 *   HTTP 400 `unauthorized_client` 700016 (unknown app), and any of them by fault injection (src/local/identity-provider/
 *   entra-token-errors.ts has the sources).
 * - client capabilities and claims: a token request declaring CP1 gets `xms_cc: ["cp1"]` access tokens; a refresh
 *   carrying a claims challenge is accepted unless the account's sessions were revoked, which Entra refuses with
 *   `invalid_grant` AADSTS50173 (interaction required).
 */
import { ConfidentialClientApplication, CryptoProvider, type Configuration } from '@azure/msal-node';
import { decodeJwt } from 'jose';
import {
  CONTOSO_SVC_APPROVALS,
  CONTOSO_SVC_WORKPOINT,
  GRAPH_AUDIENCE,
  LOCAL_API_AUDIENCE,
  LOCAL_CLIENT_ID,
  LOCAL_CLIENT_SECRET,
  LOCAL_GRAPH_CONSENTED_SCOPES,
  type LocalUser,
} from '../../src/local/identity-provider/directory';
import {
  getTokenStats,
  revokeLocalSessions,
  setTokenEndpointFault,
  startIdentityProvider,
  type LocalIdentityProvider,
} from '../../src/local/identity-provider/launch';
import { classifyTokenError } from '../../src/tokens/token-errors';
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

const msalConfig = (auth: { clientCapabilities?: string[] } = {}): Configuration => ({
  auth: {
    ...auth,
    clientId: LOCAL_CLIENT_ID,
    clientSecret: LOCAL_CLIENT_SECRET,
    authority: idp.authority,
    knownAuthorities: [new URL(idp.authority).host],
    authorityMetadata: JSON.stringify(idp.openidConfiguration),
  },
});

/** Signs `user` in for `scopes` with MSAL's auth code flow; returns the client (its cache holds the tokens). */
async function signedIn(
  user: LocalUser,
  scopes: string[],
  auth: { clientCapabilities?: string[] } = {},
): Promise<ConfidentialClientApplication> {
  const msal = new ConfidentialClientApplication(msalConfig(auth));
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
/** The fields of a token endpoint answer these tests read. */
interface TokenAnswer {
  scope: string;
  refresh_token?: string;
  [field: string]: unknown;
}

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
  return { status: res.status, json: (await res.json()) as TokenAnswer };
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

describe("the app's own credentials refused, as Entra answers it", () => {
  test('a wrong client secret: HTTP 401 invalid_client AADSTS7000215; no secret: 7000218; an unknown app: 700016', async () => {
    const msal = await signedIn(CONTOSO_SVC_WORKPOINT, [GRAPH_DEFAULT]);
    const [rt] = Object.values(cacheOf(msal).RefreshToken);
    const wrong = await refresh(rt.secret, GRAPH_DEFAULT, { client_secret: 'an-old-secret' });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toMatchObject({
      error: 'invalid_client',
      error_description: expect.stringMatching(
        /^AADSTS7000215: Invalid client secret provided\. .*\r\nTrace ID: [\w-]+\r\nCorrelation ID: [\w-]+\r\nTimestamp: /s,
      ),
      error_codes: [7000215],
    });
    expect(wrong.json.error_description).not.toContain('an-old-secret');

    const none = await refresh(rt.secret, GRAPH_DEFAULT, { client_secret: '' });
    expect(none).toMatchObject({ status: 401, json: { error: 'invalid_client', error_codes: [7000218] } });
    const unknown = await refresh(rt.secret, GRAPH_DEFAULT, { client_id: '00000000-0000-4000-8000-0000000000ff' });
    expect(unknown).toMatchObject({ status: 400, json: { error: 'unauthorized_client', error_codes: [700016] } });

    // The refresh token was not harmed: the right secret still works.
    expect((await refresh(rt.secret, GRAPH_DEFAULT)).status).toBe(200);
  });

  test('injected (an expired secret): every token call answers 7000222 until cleared; MSAL raises it as Entra would', async () => {
    const msal = await signedIn(CONTOSO_SVC_WORKPOINT, [GRAPH_DEFAULT]);
    const account = (await msal.getTokenCache().getAllAccounts())[0];
    await setTokenEndpointFault(idp.url, { aadsts: 7000222 });
    try {
      const error = await msal.acquireTokenSilent({ account, scopes: [GRAPH_DEFAULT], forceRefresh: true }).then(
        () => undefined,
        (e: unknown) => e as { errorCode?: string; errorNo?: string; status?: number; errorMessage?: string },
      );
      expect(error).toMatchObject({ errorCode: 'invalid_client', errorNo: 7000222 });
      expect(classifyTokenError(error).kind).toBe('application_credentials');
      expect(error?.errorMessage).toContain('AADSTS7000222: The provided client secret keys');
    } finally {
      await setTokenEndpointFault(idp.url, null);
    }
    await expect(msal.acquireTokenSilent({ account, scopes: [GRAPH_DEFAULT], forceRefresh: true })).resolves.toMatchObject({
      accessToken: expect.any(String),
    });
  });

  test('fault injection refuses codes it cannot answer like Entra', async () => {
    await expect(setTokenEndpointFault(idp.url, { aadsts: 12345 })).rejects.toThrow(/HTTP 400/);
  });
});

describe('client capabilities and claims (continuous access evaluation)', () => {
  test('a client declaring CP1 gets tokens marked xms_cc ["cp1"]; one that does not, unmarked', async () => {
    const stats0 = await getTokenStats(idp.url);
    const cae = await signedIn(CONTOSO_SVC_WORKPOINT, [GRAPH_DEFAULT], { clientCapabilities: ['CP1'] });
    const plain = await signedIn(CONTOSO_SVC_WORKPOINT, [GRAPH_DEFAULT]);
    const tokenOf = (msal: ConfidentialClientApplication) =>
      Object.values(JSON.parse(msal.getTokenCache().serialize()).AccessToken as Record<string, { secret: string }>)[0].secret;
    expect(decodeJwt(tokenOf(cae))).toMatchObject({ xms_cc: ['cp1'] });
    expect(decodeJwt(tokenOf(plain)).xms_cc).toBeUndefined();
    // MSAL sent the capability as a claims request on the code redemption (msal-common addClaims).
    expect(((await getTokenStats(idp.url)).claims.xms_cc ?? 0) - (stats0.claims.xms_cc ?? 0)).toBe(1);
  });

  test('a refresh with a claims challenge is accepted; after revoked sessions it is refused with AADSTS50173 (interaction required)', async () => {
    const msal = await signedIn(CONTOSO_SVC_APPROVALS, [GRAPH_DEFAULT], { clientCapabilities: ['CP1'] });
    const account = (await msal.getTokenCache().getAllAccounts())[0];
    const claims = JSON.stringify({ access_token: { nbf: { essential: true, value: String(Math.floor(Date.now() / 1000)) } } });
    const before = await getTokenStats(idp.url);
    const ok = await msal.acquireTokenSilent({ account, scopes: [GRAPH_DEFAULT], claims });
    expect(decodeJwt(ok.accessToken)).toMatchObject({ xms_cc: ['cp1'] });
    expect(((await getTokenStats(idp.url)).claims.nbf ?? 0) - (before.claims.nbf ?? 0)).toBe(1);

    const revoked = await revokeLocalSessions(idp.url, CONTOSO_SVC_APPROVALS.username);
    const stale = JSON.stringify({ access_token: { nbf: { essential: true, value: String(revoked.tokensValidFrom) } } });
    const error = await msal.acquireTokenSilent({ account, scopes: [GRAPH_DEFAULT], claims: stale }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ errorCode: 'invalid_grant', errorNo: 50173 });
    expect(classifyTokenError(error).kind).toBe('dead_grant');

    // A new sign-in after the revocation works.
    await expect(signedIn(CONTOSO_SVC_APPROVALS, [GRAPH_DEFAULT], { clientCapabilities: ['CP1'] })).resolves.toBeDefined();
  });

  test('a claims parameter that is not a JSON object is refused (AADSTS90100), the refresh token unharmed', async () => {
    const msal = await signedIn(CONTOSO_SVC_WORKPOINT, [GRAPH_DEFAULT]);
    const [rt] = Object.values(cacheOf(msal).RefreshToken);
    expect(await refresh(rt.secret, GRAPH_DEFAULT, { claims: 'not json' })).toMatchObject({
      status: 400,
      json: { error: 'invalid_request', error_codes: [90100] },
    });
    expect((await refresh(rt.secret, GRAPH_DEFAULT)).status).toBe(200);
  });
});
