/**
 * A local OpenID Connect provider standing in for Microsoft Entra ID (local instance and tests only).
 * oidc-provider does the protocol; this file shapes it like Entra (issuer path, claims, client_info)
 * and adds local-only dev endpoints under /local/.
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import https from 'node:https';
import { IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import {
  appRolesFor,
  findUser,
  findUserByObjectId,
  GRAPH_AUDIENCE,
  LOCAL_API_AUDIENCE,
  LOCAL_API_CLIENT_ID,
  LOCAL_API_CONSENTED_SCOPES,
  LOCAL_API_SCOPE,
  LOCAL_CLIENT_ID,
  LOCAL_CLIENT_SECRET,
  LOCAL_CLIENT_SECRETS,
  LOCAL_GRAPH_CONSENTED_SCOPES,
  LOCAL_PORTAL_CLIENT_ID,
  type LocalUser,
} from './directory';
import { apiTokenClaims, foreignClaims, isAccessTokenVersion, v1IssuerTemplate, type AccessTokenVersion } from './token-versions';
import { ENTRA_ERROR_CODES, entraTokenError, requestedClaims, type EntraTokenError } from './entra-token-errors';

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

/**
 * `retryAfterSeconds` adds a Retry-After header, which MSAL honours by replaying the error without calling.
 * `aadsts` answers exactly as Entra does for that code (entra-token-errors.ts), e.g. 7000222 (client secret expired).
 */
export type TokenEndpointFault =
  | null
  | 'down'
  | { status: number; count?: number; retryAfterSeconds?: number }
  | { aadsts: number; count?: number };

export interface TokenStats {
  total: number;
  byGrantType: Record<string, number>;
  byUsername: Record<string, number>;
  /** HTTP status, or `down` for connections reset by the `down` fault. */
  byStatus: Record<string, number>;
  /** Access-token claims asked for in the `claims` parameter, by name: `xms_cc` (client capabilities), `nbf` (a CAE claims challenge). */
  claims: Record<string, number>;
}

/** A token request whose body was read before oidc-provider saw it (it ignores `claims` at the token endpoint). */
interface TokenRequestMessage extends IncomingMessage {
  tokenParams?: URLSearchParams;
}

/** Entra's issuer keeps the tenant in the path; "organizations" keeps one issuer for every local tenant. */
const TENANT_SEGMENT = '/organizations';
const MOUNT = `${TENANT_SEGMENT}/v2.0`;
const RESOURCES: Record<string, readonly string[]> = {
  [GRAPH_AUDIENCE]: LOCAL_GRAPH_CONSENTED_SCOPES,
  [LOCAL_API_AUDIENCE]: LOCAL_API_CONSENTED_SCOPES,
};

// oidc-provider ships no types; these describe only what is used here.
interface KoaContext {
  path: string;
  method: string;
  status: number;
  body: any;
  respond?: boolean;
  req: IncomingMessage;
  set(field: string, value: string): void;
  oidc?: {
    params?: Record<string, unknown>;
    body?: Record<string, unknown>;
    entities: Record<string, any>;
  };
}
interface InteractionDetails {
  uid: string;
  prompt: { name: string; details: Record<string, any> };
  params: Record<string, any>;
  session?: { accountId: string };
  grantId?: string;
}
interface Provider {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  use(fn: (ctx: KoaContext, next: () => Promise<void>) => Promise<void>): void;
  on(event: string, listener: (...args: any[]) => void): void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: object, opts?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  Grant: any;
  Client: { prototype: { clientId: string; compareClientSecret(actual: string): Promise<boolean> | boolean } };
  RefreshToken: { find(value: string, opts?: { ignoreExpiration?: boolean }): Promise<{ accountId?: string; iat?: number } | undefined> };
}
interface OidcModule {
  default: new (issuer: string, configuration: Record<string, unknown>) => Provider;
  errors: { InvalidTarget: new (description?: string) => Error };
}

/** Load the ESM-only package from CommonJS; a variable specifier keeps tsc from resolving its (absent) types. */
async function loadOidcProvider(): Promise<OidcModule> {
  const specifier: string = 'oidc-provider';
  return (await import(specifier)) as OidcModule;
}

/**
 * In-memory storage that, unlike oidc-provider's own, can be enumerated: /local/revoke needs every
 * grant of an account.
 */
function createStore() {
  const entries = new Map<string, { payload: Record<string, any>; expiresAt?: number }>();
  const live = (key: string) => {
    const e = entries.get(key);
    if (e?.expiresAt !== undefined && e.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return e;
  };
  class Adapter {
    constructor(private readonly model: string) {}
    private k(id: string) {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: Record<string, any>, expiresIn?: number) {
      entries.set(this.k(id), { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
    }
    async find(id: string) {
      return live(this.k(id))?.payload;
    }
    async findByUid(uid: string) {
      for (const key of entries.keys()) {
        if (key.startsWith(`${this.model}:`) && live(key)?.payload.uid === uid) return entries.get(key)!.payload;
      }
      return undefined;
    }
    async findByUserCode(userCode: string) {
      for (const key of entries.keys()) {
        if (key.startsWith(`${this.model}:`) && live(key)?.payload.userCode === userCode) return entries.get(key)!.payload;
      }
      return undefined;
    }
    async consume(id: string) {
      const e = live(this.k(id));
      if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      entries.delete(this.k(id));
    }
    async revokeByGrantId(grantId: string) {
      for (const [key, e] of entries) if (e.payload.grantId === grantId) entries.delete(key);
    }
  }
  /** Deletes the account's grants (and every token issued under them) and sessions. */
  const revokeAccount = (accountId: string): number => {
    const grantIds = new Set<string>();
    for (const [key, e] of entries) {
      if (key.startsWith('Grant:') && e.payload.accountId === accountId) grantIds.add(e.payload.jti);
      if (key.startsWith('Session:') && e.payload.accountId === accountId) entries.delete(key);
    }
    for (const [key, e] of entries) {
      if (grantIds.has(e.payload.grantId) || (key.startsWith('Grant:') && grantIds.has(e.payload.jti))) entries.delete(key);
    }
    return grantIds.size;
  };
  return { Adapter, revokeAccount };
}

export const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function signInPage(action: string, clientName: string, username: string, error?: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in (local identity provider)</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem}
label,input,button{display:block;width:100%;box-sizing:border-box;margin:.4rem 0;font-size:1rem}
input,button{padding:.5rem}.error{color:#b00020}.note{color:#555;font-size:.85rem}</style></head>
<body>
<h1>Sign in</h1>
<p>to ${escapeHtml(clientName)}</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${escapeHtml(action)}">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autofocus required value="${escapeHtml(username)}">
<button type="submit" name="action" value="sign-in">Sign in</button>
<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
</form>
<p class="note">Local identity provider for development and tests: no password is asked.</p>
</body>
</html>`;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    // No form-action: Chrome applies it to the redirects after the post, which end at the app.
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
  });
  res.end(html);
}

async function readBody(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, 'request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBody(req);
  if (!text) return {};
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new HttpError(400, 'body must be a JSON object');
}

const resourceOf = (scope: string): string | undefined =>
  Object.keys(RESOURCES).find((r) => scope.startsWith(`${r}/`));

/** Entra's `scp`: the permission names without the resource prefix, `/.default` expanded to what is consented. */
function scpFor(audience: string, scope: string | undefined): string | undefined {
  const names = new Set<string>();
  for (const s of scope?.split(' ') ?? []) {
    if (!s.startsWith(`${audience}/`)) continue;
    const name = s.slice(audience.length + 1);
    if (name === '.default') (RESOURCES[audience] ?? []).forEach((n) => names.add(n));
    else names.add(name);
  }
  return names.size ? [...names].join(' ') : undefined;
}

const OIDC_SCOPES = ['openid', 'profile', 'offline_access', 'email'];

/**
 * Entra's token-response `scope`: the resource's permissions (`/.default` expanded to what is consented) WITHOUT the
 * resource for Microsoft Graph (`User.Read Sites.ReadWrite.All`) and with the App ID URI for any other API, then the
 * OpenID Connect scopes that were asked for. MSAL stores it as the cached token's `target`. Sources: scopes-oidc
 * ("if the resource identifier is omitted ... the resource is assumed to be Microsoft Graph"), cache entries in
 * AzureAD/microsoft-authentication-library-for-python#450 and -for-android#672 (see src/tokens/granted-scopes.ts).
 */
function entraResponseScope(granted: string, asked: string): string {
  const resource = granted.split(' ').map(resourceOf).find(Boolean);
  const names = resource ? (scpFor(resource, granted)?.split(' ') ?? []) : [];
  const permissions = names.map((n) => (resource === GRAPH_AUDIENCE ? n : `${resource}/${n}`));
  const askedScopes = new Set(asked.split(' '));
  return [...permissions, ...OIDC_SCOPES.filter((s) => askedScopes.has(s))].join(' ');
}

const clientInfo = (user: LocalUser): string =>
  Buffer.from(JSON.stringify({ uid: user.objectId, utid: user.tenantId })).toString('base64url');

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

/** Whether the token request declared the CP1 client capability (MSAL's `clientCapabilities`, sent in `claims`). */
function clientDeclaredCp1(ctx: KoaContext | undefined): boolean {
  const claims = requestedClaims((ctx?.req as TokenRequestMessage | undefined)?.tokenParams?.get('claims'));
  return claims !== undefined && claims !== 'invalid' && claims.cp1;
}

/** Reads a token request's form body and hands oidc-provider an identical request, with the parameters kept on it. */
async function replayTokenRequest(req: IncomingMessage): Promise<IncomingMessage> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 64 * 1024) throw new HttpError(413, 'request body too large');
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  const replay: TokenRequestMessage = new IncomingMessage(req.socket);
  replay.method = req.method;
  replay.url = req.url;
  replay.httpVersionMajor = req.httpVersionMajor;
  replay.httpVersionMinor = req.httpVersionMinor;
  replay.httpVersion = req.httpVersion;
  replay.headers = req.headers;
  replay.rawHeaders = req.rawHeaders;
  (replay as IncomingMessage & { originalUrl?: string }).originalUrl = (req as IncomingMessage & { originalUrl?: string }).originalUrl;
  replay.tokenParams = new URLSearchParams(body.toString('utf8'));
  // Otherwise the finished stream counts as aborted and Node destroys the shared socket with it.
  replay.complete = true;
  replay.push(body);
  replay.push(null);
  return replay;
}

export async function startIdentityProviderServer(options: IdentityProviderOptions): Promise<IdentityProviderServer> {
  const accessTokenTtl = options.accessTokenTtlSeconds ?? 3600;
  const rotate = options.rotateRefreshTokens ?? true;
  const apiTokenVersion = options.apiAccessTokenVersion ?? 2;
  if (!isAccessTokenVersion(apiTokenVersion)) throw new Error('apiAccessTokenVersion must be 1 or 2');
  if (!options.redirectUris.length) throw new Error('redirectUris must not be empty');

  const { default: Provider, errors } = await loadOidcProvider();
  const { privateKey: signingKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const signingJwk: JWK = { ...(await exportJWK(signingKey)), kid, alg: 'RS256', use: 'sig' };

  const store = createStore();
  const stats: TokenStats = { total: 0, byGrantType: {}, byUsername: {}, byStatus: {}, claims: {} };
  let fault: TokenEndpointFault = null;
  /** Per account (object id): refresh tokens issued before this time (epoch seconds) are refused, as after Entra's revokeSignInSessions. */
  const tokensValidFrom = new Map<string, number>();

  let provider: Provider | undefined;
  let providerCallback: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) console.error('local identity provider:', e);
      if (!res.headersSent) sendJson(res, status, { error: status === 500 ? 'server_error' : 'invalid_request', error_description: String((e as Error)?.message ?? e) });
      else res.end();
    });
  };
  const listen = (server: https.Server, port: number, host: string) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  // Loopback only: this provider signs in anyone who types a username.
  const server = https.createServer({ cert: options.cert, key: options.key }, listener);
  await listen(server, options.port ?? 0, '127.0.0.1');
  const port = (server.address() as AddressInfo).port;
  // Best effort: where `localhost` resolves to ::1 first, clients need not fall back to IPv4.
  const serverV6 = https.createServer({ cert: options.cert, key: options.key }, listener);
  const v6 = await listen(serverV6, port, '::1').then(
    () => true,
    () => false,
  );
  const url = `https://localhost:${port}`;
  const issuer = `${url}${MOUNT}`;

  provider = new Provider(issuer, {
    adapter: store.Adapter,
    jwks: { keys: [signingJwk] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    clients: [
      {
        client_id: LOCAL_CLIENT_ID,
        client_secret: LOCAL_CLIENT_SECRET,
        client_name: 'Connections (local)',
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        // MSAL Node sends the secret in the body.
        token_endpoint_auth_method: 'client_secret_post',
        // Entra's optional ID-token claim `auth_time`, as the deploy docs configure it on the sign-in app (issue 12).
        require_auth_time: true,
      },
      {
        client_id: LOCAL_PORTAL_CLIENT_ID,
        client_name: 'Connections admin (local)',
        application_type: 'web',
        redirect_uris: options.portalRedirectUris?.length ? options.portalRedirectUris : options.redirectUris,
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
    async findAccount(ctx: KoaContext, sub: string) {
      const user = findUserByObjectId(sub);
      if (!user) return undefined;
      // ID-token roles are those of the app the token is issued to (issue 12: the sign-in app's service-account role).
      const roles = appRolesFor(user, (ctx?.oidc as { client?: { clientId?: string } } | undefined)?.client?.clientId);
      return {
        accountId: user.objectId,
        async claims() {
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
        },
      };
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
          for (const source of [ctx.oidc?.params?.scope, ctx.oidc?.entities.AuthorizationCode?.scope, ctx.oidc?.entities.RefreshToken?.scope]) {
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
    async extraTokenClaims(ctx: KoaContext, token: { accountId?: string; scope?: string; clientId?: string; resourceServer?: { audience?: string } }) {
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
        ...(clientDeclaredCp1(ctx) ? { xms_cc: ['cp1'] } : {}),
        ...(audience === LOCAL_API_AUDIENCE && user.roles.length ? { roles: [...user.roles] } : {}),
      };
    },
    formats: {
      customizers: {
        // Entra access tokens are typ JWT and carry `scp`, not the OAuth `scope` claim.
        jwt(
          _ctx: unknown,
          token: { accountId?: string; clientId?: string; resourceServer?: { audience?: string } },
          jwt: { header?: Record<string, unknown>; payload: Record<string, unknown> },
        ) {
          jwt.header = { ...jwt.header, typ: 'JWT' };
          delete jwt.payload.scope;
          const user = token.accountId ? findUserByObjectId(token.accountId) : undefined;
          // Admin tokens take the version the API registration asks for, `iss` and `aud` included.
          if (user && token.resourceServer?.audience === LOCAL_API_AUDIENCE) {
            for (const claim of foreignClaims) delete jwt.payload[claim];
            Object.assign(jwt.payload, apiTokenClaims({ version: apiTokenVersion, user, clientId: String(token.clientId), v2Issuer: issuer, providerUrl: url }));
          }
          return jwt;
        },
      },
    },
    rotateRefreshToken: rotate,
    interactions: { url: async (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    clientBasedCORS(_ctx: unknown, origin: string, client: { redirectUris: string[] }) {
      return client.redirectUris.some((u) => URL.parse(u)?.origin === origin);
    },
    async renderError(ctx: KoaContext, out: Record<string, string>) {
      ctx.set('content-type', 'text/html; charset=utf-8');
      ctx.body = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head><body><h1>Sign-in error</h1>${Object.entries(
        out,
      )
        .map(([k, v]) => `<p><strong>${escapeHtml(k)}</strong>: ${escapeHtml(String(v))}</p>`)
        .join('')}</body></html>`;
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
  });

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

  const usernameOf = (accountId: unknown): string | undefined =>
    typeof accountId === 'string' ? findUserByObjectId(accountId)?.username : undefined;
  const count = (grantType: string, username: string | undefined, status: number | 'down') => {
    stats.total += 1;
    stats.byGrantType[grantType] = (stats.byGrantType[grantType] ?? 0) + 1;
    if (username) stats.byUsername[username] = (stats.byUsername[username] ?? 0) + 1;
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
  };

  const answer = (ctx: KoaContext, { status, body }: EntraTokenError) => {
    ctx.status = status;
    ctx.set('cache-control', 'no-store');
    ctx.body = body;
  };

  provider.use(async (ctx, next) => {
    if (ctx.path !== '/token' || ctx.method !== 'POST') return next();
    const params = (ctx.req as TokenRequestMessage).tokenParams ?? new URLSearchParams();
    const grantType = params.get('grant_type') ?? 'unknown';
    const rt = params.get('refresh_token');
    const presented = rt ? await provider!.RefreshToken.find(rt, { ignoreExpiration: true }) : undefined;
    const claims = requestedClaims(params.get('claims'));
    if (claims && claims !== 'invalid') for (const name of Object.keys(claims.accessToken)) stats.claims[name] = (stats.claims[name] ?? 0) + 1;
    const active = fault;
    if (active) {
      if (active !== 'down' && active.count !== undefined && --active.count <= 0) fault = null;
      const account = presented?.accountId;
      if ('aadsts' in Object(active)) {
        const error = entraTokenError((active as { aadsts: number }).aadsts, params.get('client_id') ?? '');
        count(grantType, usernameOf(account), error.status);
        return answer(ctx, error);
      }
      const plain = active as 'down' | { status: number; retryAfterSeconds?: number };
      count(grantType, usernameOf(account), plain === 'down' ? 'down' : plain.status);
      if (plain === 'down') {
        ctx.respond = false;
        ctx.req.socket.destroy();
        return;
      }
      const { status, retryAfterSeconds } = plain;
      ctx.status = status;
      ctx.set('cache-control', 'no-store');
      if (retryAfterSeconds !== undefined) ctx.set('retry-after', String(retryAfterSeconds));
      ctx.body = {
        error: status === 429 || status === 503 ? 'temporarily_unavailable' : 'server_error',
        error_description: `local fault injection: HTTP ${status}`,
      };
      return;
    }
    if (claims === 'invalid') {
      const error = entraTokenError(90100, params.get('client_id') ?? '');
      count(grantType, usernameOf(presented?.accountId), error.status);
      return answer(ctx, error);
    }
    // After revokeSignInSessions (or a password reset) Entra refuses refresh tokens issued before it, claims or not.
    const validFrom = presented?.accountId ? tokensValidFrom.get(presented.accountId) : undefined;
    if (grantType === 'refresh_token' && validFrom !== undefined && (presented?.iat ?? 0) < validFrom) {
      const error = entraTokenError(50173, params.get('client_id') ?? '');
      count(grantType, usernameOf(presented?.accountId), error.status);
      return answer(ctx, error);
    }
    await next();
    // The app's own credentials refused (wrong secret, none, unknown client): answered as Entra does, not as oidc-provider.
    if (ctx.status === 401 && ctx.body && typeof ctx.body === 'object' && ctx.body.error === 'invalid_client') {
      const clientId = params.get('client_id') ?? '';
      const code = clientId !== LOCAL_CLIENT_ID && clientId !== LOCAL_PORTAL_CLIENT_ID ? 700016 : params.get('client_secret') ? 7000215 : 7000218;
      answer(ctx, entraTokenError(code, clientId));
    }
    const entities = ctx.oidc?.entities ?? {};
    const accountId = entities.Account?.accountId ?? entities.RefreshToken?.accountId ?? entities.AuthorizationCode?.accountId;
    count(grantType, usernameOf(accountId), ctx.status);
    const user = typeof entities.Account?.accountId === 'string' ? findUserByObjectId(entities.Account.accountId) : undefined;
    if (ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      // MSAL derives homeAccountId (`oid.tid`) from client_info, as Entra sends it.
      if (user) ctx.body.client_info = clientInfo(user);
      if (typeof ctx.body.scope === 'string') {
        const asked = ctx.oidc?.params?.scope ?? entities.AuthorizationCode?.scope ?? entities.RefreshToken?.scope;
        ctx.body.scope = entraResponseScope(ctx.body.scope, String(asked ?? ''));
      }
    }
  });

  providerCallback = provider.callback();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reqUrl = new URL(req.url ?? '/', url);
    let path = reqUrl.pathname;
    if (path.startsWith('/local/')) return devEndpoint(req, res, path);
    if (path.startsWith('/interaction/')) return interaction(req, res, path);
    // MSAL's OIDC protocol mode looks for discovery right under the authority, AAD mode under <authority>/v2.0.
    if (path === `${TENANT_SEGMENT}/.well-known/openid-configuration`) {
      reqUrl.pathname = path = `${MOUNT}/.well-known/openid-configuration`;
    }
    if (path === MOUNT || path.startsWith(`${MOUNT}/`)) {
      if (path === `${MOUNT}/auth` && req.method === 'GET') adaptAuthorizationQuery(reqUrl.searchParams);
      if (path === `${MOUNT}/token` && req.method === 'POST') req = await replayTokenRequest(req);
      const rewritten = `${path}${reqUrl.search}`;
      // oidc-provider derives its mount path from originalUrl minus url: both must carry the same query.
      (req as IncomingMessage & { originalUrl?: string }).originalUrl = rewritten;
      req.url = `${path.slice(MOUNT.length) || '/'}${reqUrl.search}`;
      return providerCallback!(req, res);
    }
    sendJson(res, 404, { error: 'not_found' });
  }

  /**
   * oidc-provider drops `offline_access` (so issues no refresh token) unless `prompt` includes consent,
   * and rejects MSAL's `select_account`; Entra shows an account picker there, a fresh login form here.
   */
  function adaptAuthorizationQuery(params: URLSearchParams): void {
    const prompts = new Set((params.get('prompt') ?? '').split(' ').filter(Boolean));
    if (prompts.delete('select_account')) prompts.add('login');
    if (!prompts.has('none') && (params.get('scope') ?? '').split(' ').includes('offline_access')) prompts.add('consent');
    if (prompts.size) params.set('prompt', [...prompts].join(' '));
    else params.delete('prompt');
  }

  async function interaction(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (!/^\/interaction\/[\w-]+$/.test(path)) return sendJson(res, 404, { error: 'not_found' });
    let details: InteractionDetails;
    try {
      details = await provider!.interactionDetails(req, res);
    } catch {
      return sendHtml(res, 400, '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign-in expired</title></head><body><h1>This sign-in has expired</h1><p>Start the sign-in again from the application.</p></body></html>');
    }
    const clientName = String(details.params.client_id) === LOCAL_PORTAL_CLIENT_ID ? 'Connections admin (local)' : 'Connections (local)';

    if (details.prompt.name === 'consent') return consent(req, res, details);
    if (details.prompt.name !== 'login') return sendJson(res, 400, { error: 'unsupported_prompt', prompt: details.prompt.name });

    if (req.method === 'GET') {
      return sendHtml(res, 200, signInPage(path, clientName, String(details.params.login_hint ?? '')));
    }
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'method_not_allowed' });
    const form = new URLSearchParams(await readBody(req));
    if (form.get('action') === 'cancel') {
      return provider!.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'The user cancelled the sign-in.' },
        { mergeWithLastSubmission: false },
      );
    }
    const username = form.get('username') ?? '';
    const user = findUser(username);
    if (!user) {
      return sendHtml(res, 200, signInPage(path, clientName, username, `No account named "${username}" in the local directory.`));
    }
    return provider!.interactionFinished(req, res, { login: { accountId: user.objectId } }, { mergeWithLastSubmission: false });
  }

  /** Consent is automatic: the local app registration is pre-consented, as an admin would do in Entra. */
  async function consent(req: IncomingMessage, res: ServerResponse, details: InteractionDetails): Promise<void> {
    const { Grant } = provider!;
    const grant = details.grantId
      ? await Grant.find(details.grantId)
      : new Grant({ accountId: details.session!.accountId, clientId: String(details.params.client_id) });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries<string[]>(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId: string = await grant.save();
    return provider!.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
  }

  async function devEndpoint(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const route = `${req.method} ${path}`;
    switch (route) {
      case 'POST /local/tokens': {
        const body = await readJson(req);
        const user = typeof body.username === 'string' ? findUser(body.username) : undefined;
        if (!user) throw new HttpError(400, `unknown username ${JSON.stringify(body.username)}`);
        const version = body.version === undefined ? 2 : body.version;
        if (!isAccessTokenVersion(version)) throw new HttpError(400, 'version must be 1 or 2');
        const kind = body.kind === undefined ? 'access' : body.kind;
        if (kind !== 'access' && kind !== 'id') throw new HttpError(400, "kind must be 'access' or 'id'");
        const shaped = apiTokenClaims({ version, user, clientId: LOCAL_PORTAL_CLIENT_ID, v2Issuer: issuer, providerUrl: url });
        // An ID token's audience is the client that signed in: with one registration for the admin page and the API,
        // the very client id that v2.0 access tokens for the API carry.
        const defaultAudience = kind === 'id' ? LOCAL_PORTAL_CLIENT_ID : shaped.aud;
        const audience = body.audience === undefined ? defaultAudience : body.audience;
        if (typeof audience !== 'string' || !audience) throw new HttpError(400, 'audience must be a non-empty string');
        const forApi = audience === LOCAL_API_AUDIENCE || audience === LOCAL_API_CLIENT_ID;
        const scp = body.scp === undefined ? (kind === 'access' && forApi ? LOCAL_API_SCOPE : null) : body.scp;
        if (scp !== null && (typeof scp !== 'string' || !scp)) throw new HttpError(400, 'scp must be a non-empty string or null');
        const expiresIn = body.expiresInSeconds === undefined ? accessTokenTtl : body.expiresInSeconds;
        if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn)) throw new HttpError(400, 'expiresInSeconds must be a number');
        const roles = body.roles === undefined ? [...user.roles] : body.roles;
        if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) throw new HttpError(400, 'roles must be an array of strings');
        const now = Math.floor(Date.now() / 1000);
        const { iss, aud: _versionAudience, ...claims } = shaped;
        // ID tokens name no calling client (`azp`/`appid`): the client is the audience.
        if (kind === 'id') for (const claim of ['azp', 'azpacr', 'appid', 'appidacr']) delete claims[claim];
        const accessToken = await new SignJWT({
          ...claims,
          sub: user.objectId,
          ...(roles.length || body.roles !== undefined ? { roles } : {}),
          ...(scp ? { scp } : {}),
          // An OpenID Connect ID token echoes the sign-in request's nonce; access tokens never carry one.
          ...(kind === 'id' ? { nonce: randomBytes(16).toString('base64url') } : {}),
        })
          .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
          .setIssuer(String(iss))
          .setAudience(audience)
          .setIssuedAt(now)
          .setNotBefore(now)
          // A negative lifetime yields an already-expired token, which tests of expiry checks need.
          .setExpirationTime(now + Math.trunc(expiresIn))
          .setJti(randomUUID())
          .sign(signingKey);
        return sendJson(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: Math.trunc(expiresIn) });
      }
      case 'POST /local/revoke': {
        const body = await readJson(req);
        const user = typeof body.username === 'string' ? findUser(body.username) : undefined;
        if (!user) throw new HttpError(400, `unknown username ${JSON.stringify(body.username)}`);
        return sendJson(res, 200, { revokedGrants: store.revokeAccount(user.objectId) });
      }
      case 'POST /local/revoke-sessions': {
        // Entra's revokeSignInSessions: refresh tokens issued before now stop working (AADSTS50173), new sign-ins work.
        // The boundary is the next whole second (tokens carry seconds), and the answer waits for it, so every token
        // issued before the call is older than it and every token issued after the answer is not.
        const body = await readJson(req);
        const user = typeof body.username === 'string' ? findUser(body.username) : undefined;
        if (!user) throw new HttpError(400, `unknown username ${JSON.stringify(body.username)}`);
        const validFrom = Math.floor(Date.now() / 1000) + 1;
        tokensValidFrom.set(user.objectId, validFrom);
        await new Promise((r) => setTimeout(r, Math.max(0, validFrom * 1000 - Date.now())));
        return sendJson(res, 200, { username: user.username, objectId: user.objectId, tokensValidFrom: validFrom });
      }
      case 'GET /local/stats':
        return sendJson(res, 200, stats);
      case 'POST /local/stats/reset':
        stats.total = 0;
        stats.byGrantType = {};
        stats.byUsername = {};
        stats.byStatus = {};
        stats.claims = {};
        return sendJson(res, 200, stats);
      case 'POST /local/faults': {
        const { tokenEndpoint } = await readJson(req);
        if (tokenEndpoint === null || tokenEndpoint === undefined) fault = null;
        else if (tokenEndpoint === 'down') fault = 'down';
        else if (typeof tokenEndpoint === 'object' && 'aadsts' in tokenEndpoint) {
          const { aadsts, count: n } = tokenEndpoint as { aadsts: unknown; count?: unknown };
          if (typeof aadsts !== 'number' || !ENTRA_ERROR_CODES.includes(aadsts)) throw new HttpError(400, `aadsts must be one of ${ENTRA_ERROR_CODES.join(', ')}`);
          if (n !== undefined && !(Number.isInteger(n) && (n as number) > 0)) throw new HttpError(400, 'count must be a positive integer');
          fault = { aadsts, ...(n === undefined ? {} : { count: n as number }) };
        }
        else if (
          typeof tokenEndpoint === 'object' &&
          Number.isInteger((tokenEndpoint as { status?: unknown }).status) &&
          (tokenEndpoint as { status: number }).status >= 400 &&
          (tokenEndpoint as { status: number }).status <= 599
        ) {
          const { status, count: n, retryAfterSeconds: r } = tokenEndpoint as { status: number; count?: unknown; retryAfterSeconds?: unknown };
          if (n !== undefined && !(Number.isInteger(n) && (n as number) > 0)) throw new HttpError(400, 'count must be a positive integer');
          if (r !== undefined && !(Number.isInteger(r) && (r as number) >= 0)) throw new HttpError(400, 'retryAfterSeconds must be a non-negative integer');
          fault = { status, ...(n === undefined ? {} : { count: n as number }), ...(r === undefined ? {} : { retryAfterSeconds: r as number }) };
        } else throw new HttpError(400, "tokenEndpoint must be null, 'down', {status: 400-599, count?, retryAfterSeconds?} or {aadsts, count?}");
        return sendJson(res, 200, { tokenEndpoint: fault });
      }
      default:
        return sendJson(res, 404, { error: 'not_found' });
    }
  }

  const openidConfiguration = await fetchJson(`${issuer}/.well-known/openid-configuration`, options.cert);

  return {
    url,
    issuer,
    v1IssuerTemplate: v1IssuerTemplate(url),
    authority: `${url}${TENANT_SEGMENT}`,
    jwksUri: String(openidConfiguration.jwks_uri),
    openidConfiguration,
    close: async () => {
      const close = (srv: https.Server) =>
        new Promise<void>((resolve, reject) => {
          srv.close((e) => (e ? reject(e) : resolve()));
          srv.closeAllConnections();
        });
      await Promise.all([close(server), ...(v6 ? [close(serverV6)] : [])]);
    },
  };
}
