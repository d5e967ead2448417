/**
 * The On-Behalf-Of grant at the local identity provider's token endpoint (LOCAL ONLY), answered as Entra's v2.0 endpoint
 * does (learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow, "Middle-tier access token request"):
 * POST /token with grant_type urn:ietf:params:oauth:grant-type:jwt-bearer, client_id, client_secret, assertion, scope
 * and requested_token_use=on_behalf_of — what MSAL Node's acquireTokenOnBehalfOf sends (msal-common
 * OnBehalfOfClient.createTokenRequestBody; it adds openid profile offline_access to the scopes and client_info=1).
 *
 * Entra rules modelled:
 * - the client authenticates with its secret (invalid_client otherwise, as for other grants);
 * - the assertion is an access token signed by this provider (AADSTS50013), not expired (AADSTS500133: no clock skew,
 *   as in the answer quoted in microsoftgraph/msgraph-sdk-dotnet#2551), issued by the issuer of its version, and for
 *   the client that presents it: its client id or one of its App ID URIs (AADSTS500131);
 * - "the OBO flow only works for user principals": a token without a delegated scope (`scp`), e.g. app-only, is refused
 *   (unauthorized_client AADSTS7000114);
 * - roles stay with the user's token: the new token carries the user, the tenant and the delegated Graph permissions;
 * - Graph permissions must be consented for the client (AADSTS65001, suberror consent_required); `/.default` is what
 *   is consented; only Microsoft Graph is a downstream resource here (others: AADSTS500011).
 * Not modelled: refresh tokens and ID tokens in the answer (Entra may add them for offline_access/openid; MSAL Node
 * never refreshes On-Behalf-Of tokens, it exchanges the assertion again), Conditional Access claims challenges.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT, type KeyLike } from 'jose';
import { clientInfo, entraResponseScope, scpFor } from './entra-claims';
import { entraTokenError, type EntraTokenError } from './entra-token-errors';
import {
  findUserByObjectId,
  GRAPH_AUDIENCE,
  LOCAL_API_AUDIENCE,
  LOCAL_API_CLIENT_ID,
  LOCAL_API_CLIENT_SECRET,
  LOCAL_CLIENT_ID,
  LOCAL_CLIENT_SECRETS,
  LOCAL_GRAPH_CONSENTED_SCOPES,
  type LocalUser,
} from './directory';
import { v1IssuerTemplate } from './token-versions';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export interface OnBehalfOfIssuer {
  signing: { key: KeyLike; publicKey: KeyLike; kid: string };
  /** The provider's v2.0 issuer. */
  issuer: string;
  url: string;
  accessTokenTtl: number;
}

/** The registrations that hold client secrets, and the audiences (client id, App ID URIs) of tokens issued to each. */
const CONFIDENTIAL_CLIENTS: Record<string, { secrets: readonly string[]; audiences: readonly string[] }> = {
  [LOCAL_API_CLIENT_ID]: { secrets: [LOCAL_API_CLIENT_SECRET], audiences: [LOCAL_API_CLIENT_ID, LOCAL_API_AUDIENCE] },
  [LOCAL_CLIENT_ID]: { secrets: LOCAL_CLIENT_SECRETS, audiences: [LOCAL_CLIENT_ID] },
};

const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

const sameSecret = (expected: string, given: string): boolean => {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
};

export type OnBehalfOfAnswer = { status: 200; body: Record<string, unknown>; user: LocalUser } | (EntraTokenError & { user?: LocalUser });

/** Answers one On-Behalf-Of token request (its form parameters), as Entra would. */
export async function onBehalfOf(issuer: OnBehalfOfIssuer, params: URLSearchParams, cp1: boolean): Promise<OnBehalfOfAnswer> {
  const clientId = params.get('client_id') ?? '';
  for (const parameter of ['client_id', 'assertion', 'scope', 'requested_token_use']) {
    if (!params.get(parameter)) return entraTokenError(900144, clientId, { parameter });
  }
  if (params.get('requested_token_use') !== 'on_behalf_of') return entraTokenError(900144, clientId, { parameter: 'requested_token_use' });

  const client = CONFIDENTIAL_CLIENTS[clientId];
  if (!client) return entraTokenError(700016, clientId);
  const secret = params.get('client_secret');
  if (!secret) return entraTokenError(7000218, clientId);
  if (!client.secrets.some((s) => sameSecret(s, secret))) return entraTokenError(7000215, clientId);

  const assertion = params.get('assertion') ?? '';
  let claims: Record<string, unknown>;
  try {
    decodeProtectedHeader(assertion);
    claims = decodeJwt(assertion);
  } catch {
    return entraTokenError(50027, clientId);
  }
  if (decodeProtectedHeader(assertion).kid !== issuer.signing.kid) return entraTokenError(50013, clientId);
  try {
    await jwtVerify(assertion, issuer.signing.publicKey, { algorithms: ['RS256'], clockTolerance: 0, requiredClaims: ['exp'] });
  } catch (e) {
    if (e instanceof joseErrors.JWTExpired) {
      return entraTokenError(500133, clientId, { expiry: new Date(Number(claims.exp) * 1000).toISOString() });
    }
    if (e instanceof joseErrors.JWSSignatureVerificationFailed) {
      return entraTokenError(50013, clientId, {
        reason:
          'Assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value.]',
      });
    }
    return entraTokenError(50013, clientId, { reason: `Assertion is invalid: ${(e as Error).message}` });
  }

  const audience = typeof claims.aud === 'string' ? claims.aud : JSON.stringify(claims.aud ?? '');
  if (!client.audiences.includes(audience)) return entraTokenError(500131, clientId, { audience });
  // An app-only token (client credentials: roles, no scp) names no user to act for: Entra answers unauthorized_client
  // AADSTS7000114 (learn.microsoft.com/entra/identity-platform/reference-error-codes, MicrosoftDocs/azure-docs#65279;
  // the answer quoted in AzureAD/microsoft-authentication-library-for-dotnet#2130).
  if (typeof claims.scp !== 'string' || !claims.scp.trim()) return entraTokenError(7000114, clientId);
  const user = typeof claims.oid === 'string' ? findUserByObjectId(claims.oid) : undefined;
  const expectedIssuer =
    claims.ver === '1.0' && user
      ? v1IssuerTemplate(issuer.url).replace('{tenantid}', user.tenantId)
      : claims.ver === '2.0'
        ? issuer.issuer
        : undefined;
  if (!user || claims.tid !== user.tenantId || claims.iss !== expectedIssuer) {
    return entraTokenError(50013, clientId, {
      reason: "Assertion is invalid: the token issuer doesn't match the api version, or the token names no user of the tenant.",
    });
  }
  const asked = (params.get('scope') ?? '').split(' ').filter(Boolean);
  const resourceScopes = asked.filter((s) => !OIDC_SCOPES.has(s));
  // A permission without a resource names Microsoft Graph, as at Entra's /authorize and /token.
  const graphScopes = resourceScopes.map((s) => (s.includes('/') ? s : `${GRAPH_AUDIENCE}/${s}`));
  const foreign = graphScopes.find((s) => !s.startsWith(`${GRAPH_AUDIENCE}/`));
  if (foreign || !graphScopes.length) return entraTokenError(500011, clientId, { resource: foreign ?? '' });
  const scp = scpFor(GRAPH_AUDIENCE, graphScopes.join(' ')) ?? '';
  if (scp.split(' ').some((name) => !LOCAL_GRAPH_CONSENTED_SCOPES.includes(name))) return { ...entraTokenError(65001, clientId), user };

  const now = Math.floor(Date.now() / 1000);
  const accessToken = await new SignJWT({
    // The same claims as the provider's other Graph tokens (entra-claims.ts accessTokenClaims, oidc-provider's JWT).
    sub: user.objectId,
    client_id: clientId,
    tid: user.tenantId,
    oid: user.objectId,
    preferred_username: user.username,
    name: user.name,
    azp: clientId,
    ver: '2.0',
    scp,
    ...(cp1 ? { xms_cc: ['cp1'] } : {}),
  })
    .setProtectedHeader({ alg: 'RS256', kid: issuer.signing.kid, typ: 'JWT' })
    .setIssuer(issuer.issuer)
    .setAudience(GRAPH_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + issuer.accessTokenTtl)
    .setJti(randomUUID())
    .sign(issuer.signing.key);
  const granted = scp
    .split(' ')
    .map((name) => `${GRAPH_AUDIENCE}/${name}`)
    .join(' ');
  return {
    status: 200,
    user,
    body: {
      token_type: 'Bearer',
      scope: entraResponseScope(granted, asked.join(' ')),
      expires_in: issuer.accessTokenTtl,
      ext_expires_in: issuer.accessTokenTtl,
      access_token: accessToken,
      client_info: clientInfo(user),
    },
  };
}
