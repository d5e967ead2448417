/**
 * A local OpenID Connect provider standing in for Microsoft Entra ID (local instance and tests only).
 * oidc-provider does the protocol; the modules beside this one shape it like Entra and add local-only dev
 * endpoints under /local/. This one listens, routes and wires them:
 * - provider-configuration.ts: oidc-provider's configuration (registrations, resources, lifetimes, secrets);
 * - entra-claims.ts, token-versions.ts: the claims and scopes Entra issues;
 * - token-endpoint.ts: faults, claims, revoked sessions and Entra's errors at POST /token;
 * - token-endpoint-faults.ts, token-stats.ts: fault injection and counts for the dev endpoints;
 * - interactions.ts: the sign-in form and automatic consent; dev-endpoints.ts: /local/*; store.ts: storage.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { closeServer, HttpError, listenOnLoopbackV4AndV6, sendJson } from '../http-helpers';
import { devEndpoint, type DevEndpointsContext } from './dev-endpoints';
import { acceptClientAssertion, createManagedIdentityIssuer, managedIdentityToken } from './federated-credentials';
import { adaptAuthorizationQuery, interaction } from './interactions';
import { loadOidcProvider } from './oidc-provider-types';
import { createProvider } from './provider-configuration';
import { createStore } from './store';
import { replayTokenRequest, shapeTokenEndpoint } from './token-endpoint';
import { TokenEndpointFaults } from './token-endpoint-faults';
import { emptyTokenStats } from './token-stats';
import { isAccessTokenVersion, v1IssuerTemplate, type AccessTokenVersion } from './token-versions';

export interface IdentityProviderOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  cert: string;
  key: string;
  /** Redirect URIs of the confidential client LOCAL_CLIENT_ID. */
  redirectUris: string[];
  /** Redirect URIs of the public client LOCAL_PORTAL_CLIENT_ID; defaults to `redirectUris`. */
  portalRedirectUris?: string[];
  accessTokenTtlSeconds?: number;
  rotateRefreshTokens?: boolean;
  /** The API registration's `api.requestedAccessTokenVersion`: the shape of admin access tokens (default 2). */
  apiAccessTokenVersion?: AccessTokenVersion;
}

export interface IdentityProviderServer {
  /** `https://localhost:<port>` */
  url: string;
  /** `https://localhost:<port>/organizations/v2.0` */
  issuer: string;
  /** Issuer of v1.0 access tokens, `https://localhost:<port>/{tenantid}/` (Entra: `https://sts.windows.net/{tenantid}/`). */
  v1IssuerTemplate: string;
  /** `https://localhost:<port>/organizations`: the MSAL authority. */
  authority: string;
  jwksUri: string;
  /** The discovery document, for MSAL's `authorityMetadata` (JSON.stringify it). */
  openidConfiguration: Record<string, unknown>;
  close(): Promise<void>;
}

/** Entra's issuer keeps the tenant in the path; "organizations" keeps one issuer for every local tenant. */
const TENANT_SEGMENT = '/organizations';
const MOUNT = `${TENANT_SEGMENT}/v2.0`;

function fetchJson(url: string, ca: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            if (res.statusCode !== 200) throw new Error(`GET ${url}: HTTP ${res.statusCode}`);
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
          } catch (e) {
            reject(e);
          }
        });
      })
      .on('error', reject);
  });
}

export async function startIdentityProviderServer(options: IdentityProviderOptions): Promise<IdentityProviderServer> {
  const accessTokenTtl = options.accessTokenTtlSeconds ?? 3600;
  const apiTokenVersion = options.apiAccessTokenVersion ?? 2;
  if (!isAccessTokenVersion(apiTokenVersion)) throw new Error('apiAccessTokenVersion must be 1 or 2');
  if (!options.redirectUris.length) throw new Error('redirectUris must not be empty');

  const oidc = await loadOidcProvider();
  const { privateKey: signingKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const signingJwk: JWK = { ...(await exportJWK(signingKey)), kid, alg: 'RS256', use: 'sig' };

  // Set once the provider is configured; requests that arrive earlier get a 503.
  const routing: { route?: (req: IncomingMessage, res: ServerResponse) => Promise<void> } = {};
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const { route } = routing;
    if (!route) return sendJson(res, 503, { error: 'temporarily_unavailable', error_description: 'starting' });
    route(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) console.error('local identity provider:', e);
      if (!res.headersSent)
        sendJson(res, status, {
          error: status === 500 ? 'server_error' : 'invalid_request',
          error_description: String((e as Error)?.message ?? e),
        });
      else res.end();
    });
  };
  // Loopback only: this provider signs in anyone who types a username.
  const { port, servers } = await listenOnLoopbackV4AndV6(
    () => https.createServer({ cert: options.cert, key: options.key }, listener),
    options.port,
  );
  const url = `https://localhost:${port}`;
  const issuer = `${url}${MOUNT}`;

  const managedIdentity = await createManagedIdentityIssuer(url);
  const state: DevEndpointsContext = {
    store: createStore(),
    stats: emptyTokenStats(),
    faults: new TokenEndpointFaults(),
    tokensValidFrom: new Map(),
    onBehalfOf: { signing: { key: signingKey, publicKey, kid }, issuer, url, accessTokenTtl },
    signing: { key: signingKey, kid },
    issuer,
    url,
    accessTokenTtl,
  };
  const provider = createProvider(oidc, {
    store: state.store,
    signingJwk,
    redirectUris: options.redirectUris,
    portalRedirectUris: options.portalRedirectUris?.length ? options.portalRedirectUris : options.redirectUris,
    accessTokenTtl,
    rotateRefreshTokens: options.rotateRefreshTokens ?? true,
    apiTokenVersion,
    v2Issuer: issuer,
    providerUrl: url,
  });
  shapeTokenEndpoint(provider, state);
  const providerCallback = provider.callback();

  routing.route = async (req, res) => {
    const reqUrl = new URL(req.url ?? '/', url);
    let path = reqUrl.pathname;
    if (path === '/local/managed-identity/token' && req.method === 'GET') {
      const { status, body } = await managedIdentityToken(managedIdentity, reqUrl.searchParams);
      return sendJson(res, status, body);
    }
    if (path.startsWith('/local/')) return devEndpoint(state, req, res, path);
    if (path.startsWith('/interaction/')) return interaction(provider, req, res, path);
    // MSAL's OIDC protocol mode looks for discovery right under the authority, AAD mode under <authority>/v2.0.
    if (path === `${TENANT_SEGMENT}/.well-known/openid-configuration`) {
      reqUrl.pathname = path = `${MOUNT}/.well-known/openid-configuration`;
    }
    if (path === MOUNT || path.startsWith(`${MOUNT}/`)) {
      if (path === `${MOUNT}/auth` && req.method === 'GET') adaptAuthorizationQuery(reqUrl.searchParams);
      if (path === `${MOUNT}/token` && req.method === 'POST') {
        req = await replayTokenRequest(req, (params) => acceptClientAssertion(managedIdentity, params));
      }
      const rewritten = `${path}${reqUrl.search}`;
      // oidc-provider derives its mount path from originalUrl minus url: both must carry the same query.
      (req as IncomingMessage & { originalUrl?: string }).originalUrl = rewritten;
      req.url = `${path.slice(MOUNT.length) || '/'}${reqUrl.search}`;
      return providerCallback(req, res);
    }
    sendJson(res, 404, { error: 'not_found' });
  };

  const openidConfiguration = await fetchJson(`${issuer}/.well-known/openid-configuration`, options.cert);

  return {
    url,
    issuer,
    v1IssuerTemplate: v1IssuerTemplate(url),
    authority: `${url}${TENANT_SEGMENT}`,
    jwksUri: String(openidConfiguration.jwks_uri),
    openidConfiguration,
    close: async () => {
      await Promise.all(servers.map(closeServer));
    },
  };
}
