/**
 * Admin tokens from a real sign-in, as the admin page gets them (OpenID Connect code flow with PKCE, public client,
 * scope `<App ID URI>/access_as_user`), from a local provider whose API registration asks for v1.0 tokens (Entra's
 * default, `requestedAccessTokenVersion` null) and from one that asks for v2.0: the access token of either version is
 * accepted, the ID token of the same sign-in is refused with 401 although its audience (the admin page's client id)
 * is one the API accepts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { createAdminAuthenticator, type AdminAuthSettings } from '../../src/http/admin-auth';
import { httpStatusOf } from '../../src/http/errors';
import { AppError } from '../../src/shared/errors';
import {
  ADMIN_ROLE,
  CONTOSO_ADMIN,
  LOCAL_API_AUDIENCE,
  LOCAL_API_CLIENT_ID,
  LOCAL_API_SCOPE,
  LOCAL_PORTAL_CLIENT_ID,
} from '../../src/local/identity-provider/directory';
import { startIdentityProvider, type LocalIdentityProvider } from '../../src/local/identity-provider/launch';
import { signIn } from '../support/sign-in';
import { useTally } from '../support/tally';

const tally = useTally();

const PORTAL_REDIRECT = 'http://localhost:9/';
const providers: Partial<Record<1 | 2, LocalIdentityProvider>> = {};

beforeAll(async () => {
  const [v1, v2] = await Promise.all(
    ([1, 2] as const).map((apiAccessTokenVersion) =>
      startIdentityProvider({
        redirectUris: ['http://localhost:9/callback'],
        portalRedirectUris: [PORTAL_REDIRECT],
        apiAccessTokenVersion,
      }),
    ),
  );
  providers[1] = v1;
  providers[2] = v2;
});
afterAll(async () => {
  await Promise.all(Object.values(providers).map((p) => p?.stop()));
});

const settingsFor = (idp: LocalIdentityProvider): AdminAuthSettings => ({
  ADMIN_TOKEN_ISSUER: idp.issuer,
  ADMIN_TOKEN_ISSUER_V1: idp.v1IssuerTemplate,
  ADMIN_TOKEN_JWKS_URI: idp.jwksUri,
  // As Bicep's default: the App ID URI and the client id of the one registration behind the admin page and the API.
  ADMIN_TOKEN_AUDIENCE: [LOCAL_API_AUDIENCE, LOCAL_API_CLIENT_ID],
  ADMIN_TOKEN_SCOPE: LOCAL_API_SCOPE,
  ADMIN_ROLE,
});

/** The admin page's sign-in (src/portal/auth.ts), done with fetch. */
async function portalSignIn(idp: LocalIdentityProvider, username: string) {
  const meta = idp.openidConfiguration as { authorization_endpoint: string; token_endpoint: string };
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const authorize = new URL(meta.authorization_endpoint);
  authorize.search = new URLSearchParams({
    client_id: LOCAL_PORTAL_CLIENT_ID,
    response_type: 'code',
    response_mode: 'query',
    redirect_uri: PORTAL_REDIRECT,
    scope: `openid profile ${LOCAL_API_AUDIENCE}/${LOCAL_API_SCOPE}`,
    state,
    nonce: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const back = new URL((await signIn(authorize.href, username)).redirectUrl);
  expect(back.searchParams.get('state')).toBe(state);
  const res = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: LOCAL_PORTAL_CLIENT_ID,
      code: back.searchParams.get('code') ?? '',
      redirect_uri: PORTAL_REDIRECT,
      code_verifier: verifier,
    }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { access_token: string; id_token: string };
}

async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (e) {
    if (e instanceof AppError) return httpStatusOf[e.code];
    throw e;
  }
}

describe.each([1, 2] as const)('an API registration that asks for v%s.0 access tokens', (version) => {
  test("the access token from the admin page sign-in has Entra's shape of that version and is accepted", async () => {
    const idp = providers[version]!;
    const { access_token } = await portalSignIn(idp, CONTOSO_ADMIN.username);
    const claims = decodeJwt(access_token);
    const common = { tid: CONTOSO_ADMIN.tenantId, oid: CONTOSO_ADMIN.objectId, scp: LOCAL_API_SCOPE, roles: [ADMIN_ROLE] };
    if (version === 1) {
      expect(claims).toMatchObject({
        ...common,
        ver: '1.0',
        iss: idp.v1IssuerTemplate.replace('{tenantid}', CONTOSO_ADMIN.tenantId),
        aud: LOCAL_API_AUDIENCE,
        appid: LOCAL_PORTAL_CLIENT_ID,
        upn: CONTOSO_ADMIN.username,
        unique_name: CONTOSO_ADMIN.username,
      });
      for (const claim of ['azp', 'preferred_username', 'client_id', 'scope']) expect(claims).not.toHaveProperty(claim);
    } else {
      expect(claims).toMatchObject({
        ...common,
        ver: '2.0',
        iss: idp.issuer,
        aud: LOCAL_API_CLIENT_ID,
        azp: LOCAL_PORTAL_CLIENT_ID,
        preferred_username: CONTOSO_ADMIN.username,
      });
      for (const claim of ['appid', 'upn', 'unique_name', 'client_id', 'scope']) expect(claims).not.toHaveProperty(claim);
    }
    const authenticate = createAdminAuthenticator(settingsFor(idp));
    await expect(authenticate(`Bearer ${access_token}`)).resolves.toEqual({
      tenantId: CONTOSO_ADMIN.tenantId,
      objectId: CONTOSO_ADMIN.objectId,
      username: CONTOSO_ADMIN.username,
    });
    tally.uncounted();
  });

  test('the ID token of the same sign-in (admin role, audience the API accepts) is refused with 401', async () => {
    const idp = providers[version]!;
    const { id_token } = await portalSignIn(idp, CONTOSO_ADMIN.username);
    // The attack's premise: everything but the token type would pass.
    expect(decodeJwt(id_token)).toMatchObject({ aud: LOCAL_API_CLIENT_ID, roles: [ADMIN_ROLE], tid: CONTOSO_ADMIN.tenantId });
    const authenticate = createAdminAuthenticator(settingsFor(idp));
    expect(await statusOf(authenticate(`Bearer ${id_token}`))).toBe(401);
    tally.record({ kind: 'attack', category: 'Admin API: bad tokens on every route', tried: 1, handled: 1, faultsInjected: 0, lost: 0 });
  });
});
