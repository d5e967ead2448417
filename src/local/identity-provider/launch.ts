/**
 * Starts the local identity provider in a child process (local instance and tests only) and talks to
 * its local-only dev endpoints. HTTPS calls rely on NODE_EXTRA_CA_CERTS naming the local certificate
 * (scripts/with-local-ca.mjs sets it).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startChild } from '../child-process';
import type { TokenEndpointFault } from './token-endpoint-faults';
import type { TokenStats } from './token-stats';

export type { TokenEndpointFault } from './token-endpoint-faults';
export type { TokenStats } from './token-stats';

export interface StartIdentityProviderOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  redirectUris: string[];
  portalRedirectUris?: string[];
  accessTokenTtlSeconds?: number;
  rotateRefreshTokens?: boolean;
  /** The API registration's `api.requestedAccessTokenVersion`: shape of admin access tokens from sign-ins (default 2). */
  apiAccessTokenVersion?: 1 | 2;
}

export interface LocalIdentityProvider {
  url: string;
  /** Issuer of v2.0 tokens. */
  issuer: string;
  /** Issuer template of v1.0 access tokens (`{tenantid}` is the token's `tid`). */
  v1IssuerTemplate: string;
  /** The MSAL authority (`<url>/organizations`). */
  authority: string;
  jwksUri: string;
  /** The discovery document: `JSON.stringify` it into MSAL's `auth.authorityMetadata`. */
  openidConfiguration: Record<string, unknown>;
  stop(): Promise<void>;
}

interface ReadyLine {
  ready: true;
  url: string;
  issuer: string;
  v1IssuerTemplate: string;
  authority: string;
  jwksUri: string;
}

/** The folder holding this project's package.json, whether running from dist/ or from sources under jest. */
export function repoRoot(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'connections') return dir;
    if (path.dirname(dir) === dir) throw new Error(`no connections package.json above ${from}`);
  }
}

export async function startIdentityProvider(options: StartIdentityProviderOptions): Promise<LocalIdentityProvider> {
  const entry = path.join(repoRoot(), 'dist', 'src', 'local', 'identity-provider', 'main.js');
  if (!existsSync(entry)) throw new Error(`${entry} not found: build first (npx tsc -p .)`);
  const args = [entry, '--port', String(options.port ?? 0), '--redirect-uris', options.redirectUris.join(',')];
  if (options.portalRedirectUris?.length) args.push('--portal-redirect-uris', options.portalRedirectUris.join(','));
  if (options.accessTokenTtlSeconds !== undefined) args.push('--access-token-ttl', String(options.accessTokenTtlSeconds));
  if (options.rotateRefreshTokens !== undefined) args.push('--rotate-refresh-tokens', String(options.rotateRefreshTokens));
  if (options.apiAccessTokenVersion !== undefined) args.push('--api-token-version', String(options.apiAccessTokenVersion));

  const running = await startChild<ReadyLine>(
    process.execPath,
    args,
    (line) => {
      try {
        const value = JSON.parse(line) as Partial<ReadyLine>;
        return value.ready === true ? (value as ReadyLine) : undefined;
      } catch {
        return undefined;
      }
    },
    { name: 'local identity provider', timeoutMs: 20_000 },
  );
  // startChild relies on the child exiting when its stdin closes; this also covers a normal parent exit.
  const killOnExit = () => running.child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    await running.stop();
  };

  try {
    const { url, issuer, v1IssuerTemplate, authority, jwksUri } = running.ready;
    const openidConfiguration = await getJson<Record<string, unknown>>(`${issuer}/.well-known/openid-configuration`);
    return { url, issuer, v1IssuerTemplate, authority, jwksUri, openidConfiguration, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function call(url: string, init?: { method: 'GET' | 'POST'; body?: unknown }): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: init?.method ?? 'GET',
      headers: init?.body === undefined ? undefined : { 'content-type': 'application/json' },
      body: init?.body === undefined ? undefined : JSON.stringify(init.body),
    });
  } catch (e) {
    throw new Error(`${url}: ${(e as Error).message} (is NODE_EXTRA_CA_CERTS set to the local CA? run via scripts/with-local-ca.mjs)`, {
      cause: e,
    });
  }
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: HTTP ${res.status} ${await res.text()}`);
  return res;
}

const getJson = async <T>(url: string): Promise<T> => (await (await call(url)).json()) as T;
const postJson = async <T>(url: string, body: unknown): Promise<T> => (await (await call(url, { method: 'POST', body })).json()) as T;

export interface MintLocalTokenRequest {
  username: string;
  /** Entra's access token version (default 2): claims, issuer and default audience follow it. */
  version?: 1 | 2;
  /** `id` signs an ID token instead (audience: the admin page's client id; a nonce; no `scp`). */
  kind?: 'access' | 'id';
  /** Defaults to the API: LOCAL_API_CLIENT_ID for v2, LOCAL_API_AUDIENCE (the App ID URI) for v1. */
  audience?: string;
  /** Delegated scopes; defaults to LOCAL_API_SCOPE for an access token for the API; null leaves `scp` out. */
  scp?: string | null;
  /** Defaults to the provider's access token lifetime; negative gives an expired token. */
  expiresInSeconds?: number;
  /** Replaces the directory's roles for this user. */
  roles?: string[];
  /** The client the token was issued to (`azp` v2.0, `appid` v1.0); default the admin page (LOCAL_PORTAL_CLIENT_ID). */
  clientId?: string;
}

export interface MintedLocalToken {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/** An Entra-shaped access token (v1.0 or v2.0) or ID token signed with the provider's key (verifies against its JWKS). */
export const mintLocalToken = (url: string, body: MintLocalTokenRequest): Promise<MintedLocalToken> =>
  postJson(`${url}/local/tokens`, body);

/** Revokes every grant of the account: later refreshes fail with invalid_grant. */
export const revokeLocalGrants = (url: string, username: string): Promise<{ revokedGrants: number }> =>
  postJson(`${url}/local/revoke`, { username });

export const getTokenStats = (url: string): Promise<TokenStats> => getJson(`${url}/local/stats`);

export const resetTokenStats = (url: string): Promise<TokenStats> => postJson(`${url}/local/stats/reset`, {});

/**
 * `{status, count?}` answers the next `count` token requests (all until cleared when omitted) with that
 * HTTP status; `'down'` resets their connections; `null` clears.
 */
export const setTokenEndpointFault = (url: string, fault: TokenEndpointFault): Promise<{ tokenEndpoint: TokenEndpointFault }> =>
  postJson(`${url}/local/faults`, { tokenEndpoint: fault });

/**
 * Entra's revokeSignInSessions for the account: refresh tokens issued before now are refused (AADSTS50173); answers
 * once the boundary (`tokensValidFrom`, epoch seconds) has passed. The Graph stand-in's `/_local/revoke-sessions`
 * calls this and then challenges the account's older CAE tokens.
 */
export const revokeLocalSessions = (
  url: string,
  username: string,
): Promise<{ username: string; objectId: string; tokensValidFrom: number }> => postJson(`${url}/local/revoke-sessions`, { username });
