/**
 * The local identity provider's On-Behalf-Of grant, driven by the real MSAL Node `acquireTokenOnBehalfOf` as the app
 * calls it: the API registration exchanges a user's token for this API for a Graph token for the same user, and
 * refuses what Entra refuses, with Entra's AADSTS codes.
 */
import { ConfidentialClientApplication, type Configuration } from '@azure/msal-node';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import {
  CONTOSO_USER,
  FABRIKAM_ADMIN,
  GRAPH_AUDIENCE,
  LOCAL_API_AUDIENCE,
  LOCAL_API_CLIENT_ID,
  LOCAL_API_CLIENT_SECRET,
  LOCAL_CLIENT_ID,
  LOCAL_CLIENT_SECRET,
} from '../../src/local/identity-provider/directory';
import {
  getTokenStats,
  mintLocalToken,
  resetTokenStats,
  setTokenEndpointFault,
  startIdentityProvider,
  type LocalIdentityProvider,
} from '../../src/local/identity-provider/launch';

const GRAPH_DEFAULT = [`${GRAPH_AUDIENCE}/.default`];
let idp: LocalIdentityProvider;

beforeAll(async () => {
  idp = await startIdentityProvider({ redirectUris: ['http://localhost:7071/api/connections/callback'] });
});
afterAll(async () => {
  await idp?.stop();
});
afterEach(async () => {
  await setTokenEndpointFault(idp.url, null);
});

/** A fresh MSAL instance each time, so no test is answered from another's cache. */
const msal = (clientId = LOCAL_API_CLIENT_ID, clientSecret = LOCAL_API_CLIENT_SECRET) => {
  const config: Configuration = {
    auth: {
      clientId,
      clientSecret,
      authority: idp.authority,
      knownAuthorities: [new URL(idp.authority).host],
      authorityMetadata: JSON.stringify(idp.openidConfiguration),
    },
  };
  return new ConfidentialClientApplication(config);
};

const userToken = async (extra: Partial<Parameters<typeof mintLocalToken>[1]> = {}) =>
  (await mintLocalToken(idp.url, { username: CONTOSO_USER.username, ...extra })).access_token;

/** MSAL's error for a refused exchange: what the app sees (errorCode, errorNo = first of Entra's error_codes). */
async function refusal(promise: Promise<unknown>): Promise<{ errorCode?: string; errorNo?: string; message: string; status?: number }> {
  try {
    await promise;
  } catch (e) {
    const err = e as { errorCode?: string; errorNo?: string | number; message: string; status?: number };
    return {
      errorCode: err.errorCode,
      errorNo: err.errorNo === undefined ? undefined : String(err.errorNo),
      message: err.message,
      status: err.status,
    };
  }
  throw new Error('the exchange succeeded');
}

describe('On-Behalf-Of at the local identity provider', () => {
  it("mints an ordinary user's token for this API as `npm run local:token -- user@contoso.test` does: scp, no admin role", async () => {
    const { payload } = await jwtVerify(await userToken(), createRemoteJWKSet(new URL(idp.jwksUri)), {
      issuer: idp.issuer,
      audience: LOCAL_API_CLIENT_ID,
    });
    expect(payload).toMatchObject({ oid: CONTOSO_USER.objectId, scp: 'access_as_user', preferred_username: CONTOSO_USER.username });
    expect(payload.roles).toBeUndefined();
  });

  it("exchanges a user's v2.0 token for this API for a Graph token of the same user, scp from the consented Graph permissions", async () => {
    await resetTokenStats(idp.url);
    const result = await msal().acquireTokenOnBehalfOf({ oboAssertion: await userToken(), scopes: GRAPH_DEFAULT });
    expect(result?.accessToken).toBeTruthy();
    const { payload } = await jwtVerify(result!.accessToken, createRemoteJWKSet(new URL(idp.jwksUri)), {
      issuer: idp.issuer,
      audience: GRAPH_AUDIENCE,
    });
    expect(payload).toMatchObject({
      oid: CONTOSO_USER.objectId,
      tid: CONTOSO_USER.tenantId,
      preferred_username: CONTOSO_USER.username,
      azp: LOCAL_API_CLIENT_ID,
      ver: '2.0',
    });
    expect(String(payload.scp).split(' ')).toEqual(expect.arrayContaining(['Sites.ReadWrite.All', 'User.Read']));
    // Roles stay with the user's token for this API; a Graph token carries none of them.
    expect(payload.roles).toBeUndefined();
    const stats = await getTokenStats(idp.url);
    expect(stats.byGrantType['urn:ietf:params:oauth:grant-type:jwt-bearer']).toBe(1);
    expect(stats.byUsername[CONTOSO_USER.username]).toBe(1);
  });

  it('accepts a v1.0 token whose audience is the App ID URI, and names only the asked Graph permission in scp', async () => {
    const assertion = await userToken({ version: 1 });
    expect(decodeJwt(assertion).aud).toBe(LOCAL_API_AUDIENCE);
    const result = await msal().acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes: [`${GRAPH_AUDIENCE}/Sites.ReadWrite.All`] });
    const payload = decodeJwt(result!.accessToken);
    expect(payload).toMatchObject({ oid: CONTOSO_USER.objectId, aud: GRAPH_AUDIENCE, scp: 'Sites.ReadWrite.All' });
  });

  it('refuses an expired assertion with invalid_grant AADSTS500133', async () => {
    const err = await refusal(
      msal().acquireTokenOnBehalfOf({ oboAssertion: await userToken({ expiresInSeconds: -5 }), scopes: GRAPH_DEFAULT }),
    );
    expect(err).toMatchObject({ errorCode: 'invalid_grant', errorNo: '500133' });
    expect(err.message).toContain('AADSTS500133: Assertion is not within its valid time range');
  });

  it("refuses an assertion for another audience (AADSTS500131), also when the sign-in app presents the API's token", async () => {
    const forGraph = await userToken({ audience: GRAPH_AUDIENCE, scp: 'User.Read' });
    const err = await refusal(msal().acquireTokenOnBehalfOf({ oboAssertion: forGraph, scopes: GRAPH_DEFAULT }));
    expect(err).toMatchObject({ errorCode: 'invalid_grant', errorNo: '500131' });
    expect(err.message).toContain(`The audience in the assertion was '${GRAPH_AUDIENCE}'`);

    const bySignInApp = await refusal(
      msal(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET).acquireTokenOnBehalfOf({ oboAssertion: await userToken(), scopes: GRAPH_DEFAULT }),
    );
    expect(bySignInApp).toMatchObject({ errorCode: 'invalid_grant', errorNo: '500131' });
  });

  it('refuses an assertion with a bad signature (AADSTS50013) and one that is no JWT (AADSTS50027)', async () => {
    const [header, payload, signature] = (await userToken()).split('.');
    const flipped = `${signature!.slice(0, -2)}${signature!.endsWith('AA') ? 'BB' : 'AA'}`;
    const err = await refusal(msal().acquireTokenOnBehalfOf({ oboAssertion: `${header}.${payload}.${flipped}`, scopes: GRAPH_DEFAULT }));
    expect(err).toMatchObject({ errorCode: 'invalid_grant', errorNo: '50013' });
    expect(err.message).toContain('Assertion failed signature validation');

    const malformed = await refusal(msal().acquireTokenOnBehalfOf({ oboAssertion: 'not-a-jwt', scopes: GRAPH_DEFAULT }));
    expect(malformed.errorNo).toBe('50027');
  });

  it('refuses a token without a delegated scope as Entra does (app-only: unauthorized_client AADSTS7000114)', async () => {
    const appOnly = await userToken({ scp: null, roles: ['Connections.Admin'] });
    const err = await refusal(msal().acquireTokenOnBehalfOf({ oboAssertion: appOnly, scopes: GRAPH_DEFAULT }));
    expect(err).toMatchObject({ errorCode: 'unauthorized_client', errorNo: '7000114' });
    expect(err.message).toContain(`Application '${LOCAL_API_CLIENT_ID}' is not allowed to make application on-behalf-of calls.`);
  });

  it('refuses Graph permissions the API registration was not consented (AADSTS65001) and a resource that does not exist (AADSTS500011)', async () => {
    const notConsented = await refusal(
      msal().acquireTokenOnBehalfOf({ oboAssertion: await userToken(), scopes: [`${GRAPH_AUDIENCE}/Mail.ReadWrite`] }),
    );
    expect(notConsented).toMatchObject({ errorCode: 'invalid_grant', errorNo: '65001' });
    const unknown = await refusal(msal().acquireTokenOnBehalfOf({ oboAssertion: await userToken(), scopes: ['api://nowhere/.default'] }));
    expect(unknown).toMatchObject({ errorCode: 'invalid_resource', errorNo: '500011' });
  });

  it("refuses the API registration's wrong secret (invalid_client AADSTS7000215) and an unknown client (AADSTS700016)", async () => {
    const wrongSecret = await refusal(
      msal(LOCAL_API_CLIENT_ID, 'wrong').acquireTokenOnBehalfOf({ oboAssertion: await userToken(), scopes: GRAPH_DEFAULT }),
    );
    expect(wrongSecret).toMatchObject({ errorCode: 'invalid_client', errorNo: '7000215' });
    const unknown = await refusal(
      msal('d0d0d0d0-0000-4000-8000-000000000000', 'x').acquireTokenOnBehalfOf({ oboAssertion: await userToken(), scopes: GRAPH_DEFAULT }),
    );
    expect(unknown).toMatchObject({ errorCode: 'unauthorized_client', errorNo: '700016' });
  });

  it("exchanges another tenant's user's token for a Graph token in that user's tenant", async () => {
    const assertion = (await mintLocalToken(idp.url, { username: FABRIKAM_ADMIN.username })).access_token;
    const result = await msal().acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes: GRAPH_DEFAULT });
    expect(decodeJwt(result!.accessToken)).toMatchObject({ oid: FABRIKAM_ADMIN.objectId, tid: FABRIKAM_ADMIN.tenantId });
  });

  it('answers with injected token-endpoint faults (503) and counts them, then exchanges again once cleared', async () => {
    await resetTokenStats(idp.url);
    await setTokenEndpointFault(idp.url, { status: 503 });
    const assertion = await userToken();
    const err = await refusal(msal().acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes: GRAPH_DEFAULT }));
    expect(err.errorCode).not.toBe('invalid_grant');
    expect((await getTokenStats(idp.url)).byStatus['503']).toBeGreaterThanOrEqual(1);
    await setTokenEndpointFault(idp.url, null);
    const result = await msal().acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes: GRAPH_DEFAULT });
    expect(decodeJwt(result!.accessToken).oid).toBe(CONTOSO_USER.objectId);
  });
});
