/**
 * Administrator sign-in: OpenID Connect authorization code flow with PKCE (S256), in the browser, for a
 * public client (no secret). The PKCE verifier, state and nonce wait in sessionStorage during the
 * redirect; the tokens stay in sessionStorage of this tab only (never localStorage, never cookies).
 */
import type { PortalConfig } from './config';

const PENDING_KEY = 'connections.portal.pending';
const SESSION_KEY = 'connections.portal.session';

export interface AdminSession {
  accessToken: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  username: string;
  name?: string;
  tenantId?: string;
  /** The admin's object id (`oid`): a waiting form step names the person who may submit it by it. */
  objectId?: string;
  roles: string[];
}

interface PendingSignIn {
  state: string;
  nonce: string;
  verifier: string;
  redirectUri: string;
  createdAt: number;
}

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  end_session_endpoint?: string;
}

export class SignInError extends Error {
  override name = 'SignInError';
}

const base64url = (bytes: Uint8Array): string => {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};

const randomString = (bytes = 32): string => base64url(crypto.getRandomValues(new Uint8Array(bytes)));

async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** Reads a JWT's payload without verifying it (the API verifies its tokens; see completeSignIn for the id token). */
export function decodeJwtPayload(jwt: string): Record<string, unknown> {
  const part = jwt.split('.')[1];
  if (!part) throw new SignInError('The identity provider returned a malformed token.');
  const json = atob(
    part
      .replace(/-/g, '+')
      .replace(/_/g, '/')
      .padEnd(Math.ceil(part.length / 4) * 4, '='),
  );
  const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}

export class AdminAuth {
  private discovery?: Promise<Discovery>;

  constructor(private readonly config: PortalConfig) {}

  get redirectUri(): string {
    return this.config.redirectUri ?? `${location.origin}${location.pathname}`;
  }

  private metadata(): Promise<Discovery> {
    this.discovery ??= (async () => {
      const url = `${this.config.authority.replace(/\/+$/, '')}/.well-known/openid-configuration`;
      let res: Response;
      try {
        res = await fetch(url);
      } catch {
        throw new SignInError(unreachable(new URL(url).origin));
      }
      if (!res.ok) throw new SignInError(`The sign-in service answered HTTP ${res.status} for its configuration.`);
      return (await res.json()) as Discovery;
    })();
    this.discovery.catch(() => (this.discovery = undefined));
    return this.discovery;
  }

  /** The current session, if its access token is still valid for at least a minute. */
  session(): AdminSession | undefined {
    const raw = sessionStorage.getItem(SESSION_KEY);
    if (!raw) return undefined;
    try {
      const s = JSON.parse(raw) as AdminSession;
      if (typeof s.accessToken === 'string' && s.expiresAt - 60_000 > Date.now()) return s;
    } catch {
      // fall through: a broken entry is dropped
    }
    sessionStorage.removeItem(SESSION_KEY);
    return undefined;
  }

  signOut(): void {
    sessionStorage.removeItem(SESSION_KEY);
    sessionStorage.removeItem(PENDING_KEY);
  }

  /** Sends this tab to the identity provider's sign-in page. */
  async signIn(): Promise<void> {
    const meta = await this.metadata();
    const pending: PendingSignIn = {
      state: randomString(),
      nonce: randomString(),
      verifier: randomString(48),
      redirectUri: this.redirectUri,
      createdAt: Date.now(),
    };
    sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
    const url = new URL(meta.authorization_endpoint);
    url.search = new URLSearchParams({
      client_id: this.config.clientId,
      response_type: 'code',
      response_mode: 'query',
      redirect_uri: pending.redirectUri,
      scope: this.config.scope,
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await challengeOf(pending.verifier),
      code_challenge_method: 'S256',
      prompt: 'select_account',
    }).toString();
    location.assign(url.toString());
  }

  /** Is this page load the return from the identity provider? */
  static isRedirectBack(): boolean {
    const q = new URLSearchParams(location.search);
    return q.has('state') && (q.has('code') || q.has('error'));
  }

  /**
   * Completes the sign-in on the way back: checks state, redeems the code with the verifier, checks
   * the id token's issuer, audience and nonce, and keeps the session. Always removes the code from the URL.
   */
  async completeSignIn(): Promise<AdminSession> {
    const q = new URLSearchParams(location.search);
    history.replaceState(null, '', `${location.pathname}${location.hash}`);
    const pendingRaw = sessionStorage.getItem(PENDING_KEY);
    sessionStorage.removeItem(PENDING_KEY);
    const pending = pendingRaw ? (JSON.parse(pendingRaw) as PendingSignIn) : undefined;
    if (!pending || pending.state !== q.get('state')) {
      throw new SignInError('This sign-in response does not match a sign-in started from this tab. Sign in again.');
    }
    const error = q.get('error');
    if (error) {
      // As on the callback page (issue 12, finding 5): the query is attacker-writable, so `error_description` is never
      // shown and the code only when it looks like one.
      const code = /^[A-Za-z0-9_.-]{1,64}$/.test(error) ? ` (${error})` : '';
      throw new SignInError(error === 'access_denied' ? 'The sign-in was cancelled.' : `Sign-in failed${code}. Sign in again.`);
    }
    const meta = await this.metadata();
    let res: Response;
    try {
      res = await fetch(meta.token_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: this.config.clientId,
          code: q.get('code') ?? '',
          redirect_uri: pending.redirectUri,
          code_verifier: pending.verifier,
          scope: this.config.scope,
        }),
      });
    } catch {
      throw new SignInError(unreachable(new URL(meta.token_endpoint).origin));
    }
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok || typeof body.access_token !== 'string') {
      throw new SignInError(`The sign-in could not be completed: ${String(body.error_description ?? body.error ?? `HTTP ${res.status}`)}.`);
    }
    const id = typeof body.id_token === 'string' ? decodeJwtPayload(body.id_token) : undefined;
    // The id token came straight from the token endpoint over TLS (OIDC Core 3.1.3.7): the claims are checked, not the signature.
    // Entra's multi-tenant metadata names the issuer with a `{tenantid}` placeholder.
    const issuer = id && meta.issuer.replace('{tenantid}', String(id.tid ?? ''));
    if (!id || id.nonce !== pending.nonce || id.iss !== issuer || ![id.aud].flat().includes(this.config.clientId)) {
      throw new SignInError('The sign-in response did not pass its checks (issuer, audience or nonce). Sign in again.');
    }
    const access = decodeJwtPayload(body.access_token);
    const session: AdminSession = {
      accessToken: body.access_token,
      expiresAt: Date.now() + Number(body.expires_in ?? 3600) * 1000,
      username: String(id.preferred_username ?? id.email ?? id.sub ?? 'unknown'),
      name: typeof id.name === 'string' ? id.name : undefined,
      tenantId: typeof id.tid === 'string' ? id.tid : undefined,
      objectId: typeof id.oid === 'string' ? id.oid : undefined,
      roles: Array.isArray(access.roles) ? access.roles.map(String) : [],
    };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    return session;
  }
}

/**
 * What to do when the sign-in service cannot be fetched. A browser does not say why a fetch failed; for the local
 * service the usual cause is its generated certificate, which this browser does not trust yet.
 */
export function unreachable(origin: string): string {
  const local = /^https:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(origin);
  return local
    ? `The sign-in service at ${origin} cannot be reached. If it runs (npm start), this browser does not trust its local certificate yet: open ${origin} in a new tab, accept the certificate warning once (or trust .local/certs/localhost-cert.pem), then sign in again.`
    : `The sign-in service at ${origin} cannot be reached. Check your network connection and try again.`;
}
