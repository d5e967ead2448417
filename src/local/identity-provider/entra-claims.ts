/**
 * The Entra shape of what the local identity provider issues (LOCAL ONLY): which resources exist and what is
 * consented for them, `scp`, the token response's `scope`, `client_info`, and the claims of ID and access tokens.
 * Version-specific claims of admin tokens are in token-versions.ts.
 */
import {
  findUserByObjectId,
  GRAPH_AUDIENCE,
  LOCAL_API_AUDIENCE,
  LOCAL_API_CONSENTED_SCOPES,
  LOCAL_GRAPH_CONSENTED_SCOPES,
  type LocalUser,
} from './directory';
import { apiTokenClaims, foreignClaims, type AccessTokenVersion } from './token-versions';

/** The resources (audiences) tokens can be asked for, and the permissions consented for each. */
export const RESOURCES: Record<string, readonly string[]> = {
  [GRAPH_AUDIENCE]: LOCAL_GRAPH_CONSENTED_SCOPES,
  [LOCAL_API_AUDIENCE]: LOCAL_API_CONSENTED_SCOPES,
};

const OIDC_SCOPES = ['openid', 'profile', 'offline_access', 'email'];

/** The resource a scope names (`https://graph.microsoft.com/User.Read` -> Graph), if it is a known one. */
export const resourceOf = (scope: string): string | undefined => Object.keys(RESOURCES).find((r) => scope.startsWith(`${r}/`));

/** Entra's `scp`: the permission names without the resource prefix, `/.default` expanded to what is consented. */
export function scpFor(audience: string, scope: string | undefined): string | undefined {
  const names = new Set<string>();
  for (const s of scope?.split(' ') ?? []) {
    if (!s.startsWith(`${audience}/`)) continue;
    const name = s.slice(audience.length + 1);
    if (name === '.default') (RESOURCES[audience] ?? []).forEach((n) => names.add(n));
    else names.add(name);
  }
  return names.size ? [...names].join(' ') : undefined;
}

/**
 * Entra's token-response `scope`: the resource's permissions (`/.default` expanded to what is consented) WITHOUT the
 * resource for Microsoft Graph (`User.Read Sites.ReadWrite.All`) and with the App ID URI for any other API, then the
 * OpenID Connect scopes that were asked for. MSAL stores it as the cached token's `target`. Sources: scopes-oidc
 * ("if the resource identifier is omitted ... the resource is assumed to be Microsoft Graph"), cache entries in
 * AzureAD/microsoft-authentication-library-for-python#450 and -for-android#672 (see src/tokens/granted-scopes.ts).
 */
export function entraResponseScope(granted: string, asked: string): string {
  const resource = granted.split(' ').map(resourceOf).find(Boolean);
  const names = resource ? (scpFor(resource, granted)?.split(' ') ?? []) : [];
  const permissions = names.map((n) => (resource === GRAPH_AUDIENCE ? n : `${resource}/${n}`));
  const askedScopes = new Set(asked.split(' '));
  return [...permissions, ...OIDC_SCOPES.filter((s) => askedScopes.has(s))].join(' ');
}

/** Entra's `client_info`, from which MSAL derives homeAccountId (`oid.tid`). */
export const clientInfo = (user: LocalUser): string =>
  Buffer.from(JSON.stringify({ uid: user.objectId, utid: user.tenantId })).toString('base64url');

/**
 * The claims of a signed-in account (ID token and userinfo): Entra puts the profile claims in the ID token itself.
 * `roles` are the app roles the account holds on the app the token is issued to (see `appRolesFor`).
 */
export function accountClaims(user: LocalUser, roles: readonly string[] = user.roles): Record<string, unknown> {
  return {
    sub: user.objectId,
    oid: user.objectId,
    tid: user.tenantId,
    preferred_username: user.username,
    name: user.name,
    email: user.username,
    ver: '2.0',
    ...(roles.length ? { roles: [...roles] } : {}),
  };
}

export interface IssuedToken {
  accountId?: string;
  scope?: string;
  clientId?: string;
  resourceServer?: { audience?: string };
}

/** The Entra claims oidc-provider adds to an access token; `cp1`: the client declared the CP1 capability. */
export function accessTokenClaims(token: IssuedToken, cp1: boolean): Record<string, unknown> | undefined {
  const user = token.accountId ? findUserByObjectId(token.accountId) : undefined;
  if (!user) return undefined;
  const audience = token.resourceServer?.audience ?? '';
  const scp = scpFor(audience, token.scope);
  return {
    tid: user.tenantId,
    oid: user.objectId,
    preferred_username: user.username,
    name: user.name,
    azp: token.clientId,
    ver: '2.0',
    ...(scp ? { scp } : {}),
    // Entra marks tokens of clients that declared the CP1 capability; CAE-enabled resources (Graph) may then answer a claims challenge.
    ...(cp1 ? { xms_cc: ['cp1'] } : {}),
    ...(audience === LOCAL_API_AUDIENCE && user.roles.length ? { roles: [...user.roles] } : {}),
  };
}

export interface JwtShape {
  /** The API registration's requestedAccessTokenVersion: the shape of admin access tokens. */
  apiTokenVersion: AccessTokenVersion;
  v2Issuer: string;
  providerUrl: string;
}

/** Reshapes a signed access token as Entra's: typ JWT, `scp` not `scope`, admin tokens in the API's version. */
export function shapeAccessTokenJwt(
  shape: JwtShape,
  token: IssuedToken,
  jwt: { header?: Record<string, unknown>; payload: Record<string, unknown> },
): { header?: Record<string, unknown>; payload: Record<string, unknown> } {
  jwt.header = { ...jwt.header, typ: 'JWT' };
  delete jwt.payload.scope;
  const user = token.accountId ? findUserByObjectId(token.accountId) : undefined;
  // Admin tokens take the version the API registration asks for, `iss` and `aud` included.
  if (user && token.resourceServer?.audience === LOCAL_API_AUDIENCE) {
    for (const claim of foreignClaims) delete jwt.payload[claim];
    Object.assign(
      jwt.payload,
      apiTokenClaims({
        version: shape.apiTokenVersion,
        user,
        clientId: String(token.clientId),
        v2Issuer: shape.v2Issuer,
        providerUrl: shape.providerUrl,
      }),
    );
  }
  return jwt;
}
