/**
 * The two shapes of Entra access tokens for a registered API (local identity provider only). Which one an API
 * gets is the API registration's `api.requestedAccessTokenVersion` (manifest `accessTokenAcceptedVersion`):
 * null (the default) or 1 gives v1.0, 2 gives v2.0, whichever endpoint the client used.
 * Claims as documented in https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference
 * and https://learn.microsoft.com/entra/identity-platform/access-tokens (MicrosoftDocs/entra-docs,
 * docs/identity-platform/access-token-claims-reference.md and access-tokens.md):
 * - `iss`: v1.0 `https://sts.windows.net/{tid}/`; v2.0 `https://login.microsoftonline.com/{tid}/v2.0`.
 * - `aud`: v2.0 "always the client ID of the API"; v1.0 the resource the client asked for (here the App ID URI).
 * - the client: v1.0 `appid` (and `appidacr`), v2.0 `azp` (and `azpacr`).
 * - the user name: v1.0 `upn` and `unique_name`, v2.0 `preferred_username`.
 * - `ver`: "1.0" or "2.0". Both versions carry `tid`, `oid`, `name`, `scp` (delegated) and `roles`.
 */
import { LOCAL_API_AUDIENCE, LOCAL_API_CLIENT_ID, type LocalUser } from './directory';

export type AccessTokenVersion = 1 | 2;

export const isAccessTokenVersion = (v: unknown): v is AccessTokenVersion => v === 1 || v === 2;

/**
 * The local v1.0 issuer keeps Entra's shape (the tenant in the path, a trailing slash) on the provider's own host,
 * so `{tenantid}` in ADMIN_TOKEN_ISSUER_V1 is exercised locally as it is against sts.windows.net.
 */
export const v1IssuerTemplate = (providerUrl: string): string => `${providerUrl}/{tenantid}/`;

export interface ApiTokenContext {
  version: AccessTokenVersion;
  user: LocalUser;
  /** The client the token was issued to. */
  clientId: string;
  /** The provider's v2.0 issuer. */
  v2Issuer: string;
  providerUrl: string;
}

/** The version-specific claims of an access token for the Connections API, `iss` and `aud` included. */
export function apiTokenClaims({ version, user, clientId, v2Issuer, providerUrl }: ApiTokenContext): Record<string, unknown> {
  const common = { tid: user.tenantId, oid: user.objectId, name: user.name };
  // Public clients (the admin page) authenticate with no credential: `appidacr`/`azpacr` "0".
  const clientAuth = clientId === LOCAL_API_CLIENT_ID ? '0' : '1';
  if (version === 1) {
    return {
      ...common,
      iss: v1IssuerTemplate(providerUrl).replace('{tenantid}', user.tenantId),
      aud: LOCAL_API_AUDIENCE,
      appid: clientId,
      appidacr: clientAuth,
      upn: user.username,
      unique_name: user.username,
      ver: '1.0',
    };
  }
  return {
    ...common,
    iss: v2Issuer,
    aud: LOCAL_API_CLIENT_ID,
    azp: clientId,
    azpacr: clientAuth,
    preferred_username: user.username,
    ver: '2.0',
  };
}

/** Claims that belong to the other version (or to no Entra access token), removed when a token is reshaped. */
export const foreignClaims = [
  'appid',
  'appidacr',
  'upn',
  'unique_name',
  'azp',
  'azpacr',
  'preferred_username',
  'client_id',
  'scope',
] as const;
