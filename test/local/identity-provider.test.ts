import {
  ConfidentialClientApplication,
  CryptoProvider,
  InteractionRequiredAuthError,
  ServerError,
  type AuthenticationResult,
  type Configuration,
} from '@azure/msal-node';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import {
  CONTOSO_ADMIN,
  CONTOSO_SVC_APPROVALS,
  CONTOSO_SVC_WORKPOINT,
  FABRIKAM_SVC,
  GRAPH_AUDIENCE,
  LOCAL_API_CLIENT_ID,
  LOCAL_CLIENT_ID,
  LOCAL_CLIENT_SECRET,
  type LocalUser,
} from '../../src/local/identity-provider/directory';
import {
  getTokenStats,
  mintLocalToken,
  resetTokenStats,
  revokeLocalGrants,
  setTokenEndpointFault,
  startIdentityProvider,
  type LocalIdentityProvider,
} from '../../src/local/identity-provider/launch';
import { signIn } from '../support/sign-in';

const redirectUri = 'http://localhost:7071/api/connections/callback';
const scopes = [`${GRAPH_AUDIENCE}/.default`];
const crypto = new CryptoProvider();

let idp: LocalIdentityProvider;

beforeAll(async () => {
  idp = await startIdentityProvider({ redirectUris: [redirectUri] });
});
afterAll(async () => {
  await idp?.stop();
});

/** What the backend configures: authority + knownAuthorities + authorityMetadata, default (AAD) protocol mode. */
const msalConfig = (): Configuration => ({
  auth: {
    clientId: LOCAL_CLIENT_ID,
    clientSecret: LOCAL_CLIENT_SECRET,
    authority: idp.authority,
    knownAuthorities: [new URL(idp.authority).host],
    authorityMetadata: JSON.stringify(idp.openidConfiguration),
  },
});

async function authorizeUrl(msal: ConfidentialClientApplication, extra: { loginHint?: string; pkce?: boolean } = {}) {
  const { verifier, challenge } = await crypto.generatePkceCodes();
  const state = crypto.createNewGuid();
  const nonce = crypto.createNewGuid();
  const url = await msal.getAuthCodeUrl({
    scopes,
    redirectUri,
    state,
    nonce,
    loginHint: extra.loginHint,
    ...(extra.pkce === false ? {} : { codeChallenge: challenge, codeChallengeMethod: 'S256' }),
  });
  return { url, verifier, state, nonce };
}

/** The full connection sign-in, as the callback would do it. */
async function connect(
  user: LocalUser,
): Promise<{ msal: ConfidentialClientApplication; result: AuthenticationResult; nonce: string; cache: string }> {
  const msal = new ConfidentialClientApplication(msalConfig());
  const { url, verifier, state, nonce } = await authorizeUrl(msal);
  const { redirectUrl } = await signIn(url, user.username);
  const callback = new URL(redirectUrl);
  expect(`${callback.origin}${callback.pathname}`).toBe(redirectUri);
  expect(callback.searchParams.get('state')).toBe(state);
  const code = callback.searchParams.get('code');
  expect(code).toBeTruthy();
  const result = await msal.acquireTokenByCode(
    { code: code!, scopes, redirectUri, codeVerifier: verifier, state, nonce },
    { code: code!, state },
  );
  return { msal, result, nonce, cache: msal.getTokenCache().serialize() };
}

async function refreshFromCache(cache: string): Promise<AuthenticationResult> {
  const msal = new ConfidentialClientApplication(msalConfig());
  msal.getTokenCache().deserialize(cache);
  const [account] = await msal.getTokenCache().getAllAccounts();
  return msal.acquireTokenSilent({ account, scopes, forceRefresh: true });
}

const isInvalidGrant = (e: unknown) =>
  e instanceof InteractionRequiredAuthError || (e instanceof ServerError && e.errorCode === 'invalid_grant');

test('auth code + PKCE gives Entra-shaped tokens, an oid.tid account and a refresh token usable from a new instance', async () => {
  await resetTokenStats(idp.url);
  const user = CONTOSO_SVC_WORKPOINT;
  const { result, nonce, cache } = await connect(user);

  expect(result.account).toMatchObject({
    homeAccountId: `${user.objectId}.${user.tenantId}`,
    localAccountId: user.objectId,
    tenantId: user.tenantId,
    username: user.username,
    name: user.name,
  });
  expect(result.idTokenClaims).toMatchObject({
    oid: user.objectId,
    tid: user.tenantId,
    preferred_username: user.username,
    name: user.name,
    nonce,
    aud: LOCAL_CLIENT_ID,
    iss: idp.issuer,
  });

  const jwks = createRemoteJWKSet(new URL(idp.jwksUri));
  const { payload } = await jwtVerify(result.accessToken, jwks, { issuer: idp.issuer, audience: GRAPH_AUDIENCE });
  expect(payload).toMatchObject({ tid: user.tenantId, oid: user.objectId, preferred_username: user.username });
  expect(String(payload.scp).split(' ')).toEqual(expect.arrayContaining(['Sites.ReadWrite.All', 'User.Read']));
  expect(result.expiresOn!.getTime() - Date.now()).toBeGreaterThan(3000 * 1000);

  const serialized = JSON.parse(cache) as { RefreshToken: Record<string, { secret: string }> };
  expect(Object.values(serialized.RefreshToken)).toHaveLength(1);

  const refreshed = await refreshFromCache(cache);
  expect(refreshed.accessToken).not.toBe(result.accessToken);
  expect(refreshed.account?.homeAccountId).toBe(`${user.objectId}.${user.tenantId}`);
  expect(decodeJwt(refreshed.accessToken)).toMatchObject({ aud: GRAPH_AUDIENCE, oid: user.objectId });

  const stats = await getTokenStats(idp.url);
  expect(stats.byGrantType).toEqual({ authorization_code: 1, refresh_token: 1 });
  expect(stats.byUsername).toEqual({ [user.username]: 2 });
});

test('a specific Graph scope gives scp with just that permission', async () => {
  const msal = new ConfidentialClientApplication(msalConfig());
  const { verifier, challenge } = await crypto.generatePkceCodes();
  const sites = [`${GRAPH_AUDIENCE}/Sites.ReadWrite.All`];
  // MSAL's select_account prompt is accepted (shown as a fresh sign-in form).
  const url = await msal.getAuthCodeUrl({
    scopes: sites,
    redirectUri,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
    prompt: 'select_account',
  });
  const code = new URL((await signIn(url, FABRIKAM_SVC.username)).redirectUrl).searchParams.get('code')!;
  const result = await msal.acquireTokenByCode({ code, scopes: sites, redirectUri, codeVerifier: verifier });
  expect(decodeJwt(result.accessToken)).toMatchObject({ aud: GRAPH_AUDIENCE, scp: 'Sites.ReadWrite.All', tid: FABRIKAM_SVC.tenantId });
  const silent = await msal.acquireTokenSilent({ account: result.account!, scopes: sites, forceRefresh: true });
  expect(decodeJwt(silent.accessToken).scp).toBe('Sites.ReadWrite.All');
});

test('after /local/revoke a refresh fails as invalid_grant', async () => {
  const user = CONTOSO_SVC_APPROVALS;
  const { cache } = await connect(user);
  expect(await revokeLocalGrants(idp.url, user.username)).toEqual({ revokedGrants: 1 });
  const error = await refreshFromCache(cache).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isInvalidGrant(error)).toBe(true);
});

test('a token endpoint fault fails the refresh with a non-invalid_grant error, then refresh works again', async () => {
  const user = CONTOSO_ADMIN;
  const { cache } = await connect(user);
  await resetTokenStats(idp.url);
  await setTokenEndpointFault(idp.url, { status: 500, count: 1 });
  const msal = new ConfidentialClientApplication(msalConfig());
  msal.getTokenCache().deserialize(cache);
  const [account] = await msal.getTokenCache().getAllAccounts();
  const error = await msal.acquireTokenSilent({ account, scopes, forceRefresh: true }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServerError);
  expect((error as ServerError).errorCode).toBe('server_error');
  expect(isInvalidGrant(error)).toBe(false);
  // MSAL remembers a 429/5xx per instance (60 s without Retry-After) and replays it, errorCode '', without calling.
  await expect(msal.acquireTokenSilent({ account, scopes, forceRefresh: true })).rejects.toMatchObject({ errorCode: '' });
  expect((await getTokenStats(idp.url)).byStatus).toEqual({ 500: 1 });
  // The fault was for one request only; a new MSAL instance (no throttling state) refreshes fine.
  await expect(refreshFromCache(cache)).resolves.toMatchObject({ account: { username: user.username } });

  await setTokenEndpointFault(idp.url, 'down');
  const down = await refreshFromCache(cache).then(
    () => undefined,
    (e: unknown) => e,
  );
  await setTokenEndpointFault(idp.url, null);
  expect(down).toMatchObject({ errorCode: 'network_error' });
  expect((await getTokenStats(idp.url)).byUsername).toEqual({ [user.username]: 3 });
});

test('Cancel ends the sign-in with error=access_denied', async () => {
  const msal = new ConfidentialClientApplication(msalConfig());
  const { url, state } = await authorizeUrl(msal);
  const { redirectUrl } = await signIn(url, '', { cancel: true });
  const callback = new URL(redirectUrl);
  expect(`${callback.origin}${callback.pathname}`).toBe(redirectUri);
  expect(callback.searchParams.get('error')).toBe('access_denied');
  expect(callback.searchParams.get('state')).toBe(state);
  expect(callback.searchParams.get('code')).toBeNull();
});

test('an unknown username re-shows the form with an error; login_hint is prefilled and escaped', async () => {
  const msal = new ConfidentialClientApplication(msalConfig());
  const pages: string[] = [];
  const { url } = await authorizeUrl(msal, { loginHint: 'nobody"<b>@contoso.test' });
  await expect(signIn(url, 'nobody"<b>@contoso.test', { onForm: (html) => pages.push(html) })).rejects.toThrow(
    'sign-in refused: No account named "nobody"<b>@contoso.test" in the local directory.',
  );
  expect(pages[0]).toContain('value="nobody&quot;&lt;b&gt;@contoso.test"');
  expect(pages[0]).toMatch(/<label for="username">Username<\/label>/);
  expect(pages[1]).not.toContain('<b>');
});

test('PKCE is required', async () => {
  const msal = new ConfidentialClientApplication(msalConfig());
  const { url } = await authorizeUrl(msal, { pkce: false });
  const callback = new URL((await signIn(url, CONTOSO_ADMIN.username)).redirectUrl);
  expect(callback.searchParams.get('error')).toBe('invalid_request');
});

test('/local/tokens mints a token that verifies against the JWKS', async () => {
  const jwks = createRemoteJWKSet(new URL(idp.jwksUri));
  const { access_token, expires_in } = await mintLocalToken(idp.url, { username: CONTOSO_ADMIN.username });
  expect(expires_in).toBe(3600);
  // v2.0 by default, whose `aud` is the API's client id (v1.0 tokens carry the App ID URI: test/security/admin-token-versions.test.ts).
  const { payload } = await jwtVerify(access_token, jwks, { issuer: idp.issuer, audience: LOCAL_API_CLIENT_ID });
  expect(payload).toMatchObject({
    tid: CONTOSO_ADMIN.tenantId,
    oid: CONTOSO_ADMIN.objectId,
    preferred_username: CONTOSO_ADMIN.username,
    name: CONTOSO_ADMIN.name,
    roles: ['Connections.Admin'],
    ver: '2.0',
  });

  const custom = await mintLocalToken(idp.url, {
    username: FABRIKAM_SVC.username,
    audience: 'api://other',
    roles: ['X'],
    expiresInSeconds: -60,
  });
  await expect(jwtVerify(custom.access_token, jwks, { issuer: idp.issuer, audience: 'api://other' })).rejects.toMatchObject({
    code: 'ERR_JWT_EXPIRED',
  });
  expect(decodeJwt(custom.access_token)).toMatchObject({ roles: ['X'], tid: FABRIKAM_SVC.tenantId });
  await expect(mintLocalToken(idp.url, { username: 'nobody@contoso.test' })).rejects.toThrow(/HTTP 400/);
});
