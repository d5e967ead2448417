/**
 * oidc-provider configured as the local stand-in for Entra (LOCAL ONLY): the two local app registrations, PKCE,
 * resources named by scopes (MSAL never sends `resource`), Entra's claims, token lifetimes, and the backend's two
 * valid client secrets.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { JWK } from 'jose';
import {
  appRolesFor,
  findUserByObjectId,
  LOCAL_CLIENT_ID,
  LOCAL_CLIENT_SECRET,
  LOCAL_CLIENT_SECRETS,
  LOCAL_PORTAL_CLIENT_ID,
} from './directory';
import {
  accessTokenClaims,
  accountClaims,
  RESOURCES,
  resourceOf,
  shapeAccessTokenJwt,
  type IssuedToken,
  type JwtShape,
} from './entra-claims';
import { errorPage } from './interactions';
import type { KoaContext, OidcModule, Provider } from './oidc-provider-types';
import type { AccountStore } from './store';
import { clientDeclaredCp1 } from './token-endpoint';

export interface ProviderSettings extends JwtShape {
  store: AccountStore;
  signingJwk: JWK;
  /** Redirect URIs of the confidential client LOCAL_CLIENT_ID. */
  redirectUris: string[];
  /** Redirect URIs of the public client LOCAL_PORTAL_CLIENT_ID. */
  portalRedirectUris: string[];
  accessTokenTtl: number;
  rotateRefreshTokens: boolean;
}

function configuration(errors: OidcModule['errors'], settings: ProviderSettings): Record<string, unknown> {
  const { accessTokenTtl } = settings;
  return {
    adapter: settings.store.Adapter,
    jwks: { keys: [settings.signingJwk] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    clients: [
      {
        client_id: LOCAL_CLIENT_ID,
        client_secret: LOCAL_CLIENT_SECRET,
        client_name: 'Connections (local)',
        redirect_uris: settings.redirectUris,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        // MSAL Node sends the secret in the body.
        token_endpoint_auth_method: 'client_secret_post',
        // Entra's optional ID-token claim `auth_time`, as the deploy docs configure it on the sign-in app.
        require_auth_time: true,
      },
      {
        client_id: LOCAL_PORTAL_CLIENT_ID,
        client_name: 'Connections admin (local)',
        application_type: 'web',
        redirect_uris: settings.portalRedirectUris,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      },
    ],
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: {
      openid: ['sub', 'oid', 'tid', 'preferred_username', 'name', 'ver', 'roles'],
      profile: ['name', 'preferred_username'],
      email: ['email'],
    },
    // Entra puts the profile claims in the id token itself, not only behind userinfo.
    conformIdTokenClaims: false,
    async findAccount(ctx: { oidc?: { client?: { clientId?: string } } } | undefined, sub: string) {
      const user = findUserByObjectId(sub);
      if (!user) return undefined;
      // ID-token roles are those of the app the token is issued to (the sign-in app's service-account role).
      const roles = appRolesFor(user, ctx?.oidc?.client?.clientId);
      return { accountId: user.objectId, claims: async () => accountClaims(user, roles) };
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // MSAL never sends `resource`: the resource is the one named by the scopes, as in Entra.
        async defaultResource(ctx: KoaContext, _client: unknown, oneOf?: string | string[]) {
          const requested = String(ctx.oidc?.params?.scope ?? '')
            .split(' ')
            .map(resourceOf)
            .find(Boolean);
          if (oneOf === undefined) return requested;
          const granted = Array.isArray(oneOf) ? oneOf : [oneOf];
          return requested && granted.includes(requested) ? requested : granted[0];
        },
        // Without this, a request that includes `openid` gets an opaque userinfo token instead of a Graph JWT.
        useGrantedResource: async () => true,
        async getResourceServerInfo(ctx: KoaContext, indicator: string) {
          const consented = RESOURCES[indicator];
          if (!consented) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
          const known = new Set([`${indicator}/.default`, ...consented.map((s) => `${indicator}/${s}`)]);
          // Accept whatever permission of this resource was asked for (Entra would check the registration).
          for (const source of [
            ctx.oidc?.params?.scope,
            ctx.oidc?.entities.AuthorizationCode?.scope,
            ctx.oidc?.entities.RefreshToken?.scope,
          ]) {
            for (const s of String(source ?? '').split(' ')) if (s.startsWith(`${indicator}/`)) known.add(s);
          }
          return {
            audience: indicator,
            scope: [...known].join(' '),
            accessTokenFormat: 'jwt',
            accessTokenTTL: accessTokenTtl,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    extraTokenClaims: async (ctx: KoaContext, token: IssuedToken) => accessTokenClaims(token, clientDeclaredCp1(ctx)),
    formats: {
      customizers: {
        // Entra access tokens are typ JWT and carry `scp`, not the OAuth `scope` claim.
        jwt: (_ctx: unknown, token: IssuedToken, jwt: { header?: Record<string, unknown>; payload: Record<string, unknown> }) =>
          shapeAccessTokenJwt(settings, token, jwt),
      },
    },
    rotateRefreshToken: settings.rotateRefreshTokens,
    interactions: { url: async (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    clientBasedCORS(_ctx: unknown, origin: string, client: { redirectUris: string[] }) {
      return client.redirectUris.some((u) => URL.parse(u)?.origin === origin);
    },
    async renderError(ctx: KoaContext, out: Record<string, string>) {
      ctx.set('content-type', 'text/html; charset=utf-8');
      ctx.body = errorPage(out);
    },
    ttl: {
      AccessToken: () => accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      RefreshToken: 14 * 24 * 3600,
    },
  };
}

/** The provider, configured; its `/token` is shaped further by token-endpoint.ts. */
export function createProvider(oidc: OidcModule, settings: ProviderSettings): Provider {
  const provider = new oidc.default(settings.v2Issuer, configuration(oidc.errors, settings));

  // The backend's registration holds two valid secrets at once, as an Entra app can during a secret rotation.
  const compareClientSecret = provider.Client.prototype.compareClientSecret;
  provider.Client.prototype.compareClientSecret = function (this: { clientId: string }, actual: string) {
    if (this.clientId !== LOCAL_CLIENT_ID) return compareClientSecret.call(this as never, actual);
    const given = Buffer.from(String(actual));
    return LOCAL_CLIENT_SECRETS.some((secret) => {
      const expected = Buffer.from(secret);
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
  };

  provider.on('server_error', (_ctx: unknown, err: unknown) => console.error('local identity provider: server_error', err));
  return provider;
}
