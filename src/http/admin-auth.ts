import type { JWTPayload } from 'jose';
import type { Settings } from '../config/settings';
import type { Admin } from '../shared/admin';
import { AppError } from '../shared/errors';
import { UserAssertion, type Caller } from '../shared/user';

/**
 * jose, loaded when the first caller's token is verified (queue and timer functions never need it; docs/performance.md,
 * "SDKs on first use", says why this way).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadJose = (): typeof import('jose') => require('jose');

export type { Admin, Caller };

export type AuthenticateAdmin = (authorization: string | null | undefined) => Promise<Admin>;
/** Any user of a tenant (user process routes); `isAdmin` says whether they also hold the admin role. */
export type AuthenticateCaller = (authorization: string | null | undefined) => Promise<Caller>;

const unauthorized = (message: string) => new AppError('unauthenticated', message);
const forbidden = (message: string) => new AppError('forbidden', message);

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type AdminAuthSettings = Pick<
  Settings,
  'ADMIN_TOKEN_ISSUER' | 'ADMIN_TOKEN_ISSUER_V1' | 'ADMIN_TOKEN_JWKS_URI' | 'ADMIN_TOKEN_AUDIENCE' | 'ADMIN_TOKEN_SCOPE' | 'ADMIN_ROLE'
> &
  Partial<Pick<Settings, 'API_ALLOWED_CLIENT_IDS' | 'API_CLIENT_ID'>>;

/**
 * The client apps whose tokens are accepted: API_ALLOWED_CLIENT_IDS, else the client ids among the audiences (the
 * admin page's registration, `api://<id>` or `<id>`) and API_CLIENT_ID.
 */
export function allowedClientIds(settings: AdminAuthSettings): Set<string> {
  if (settings.API_ALLOWED_CLIENT_IDS?.length) return new Set(settings.API_ALLOWED_CLIENT_IDS.map((c) => c.toLowerCase()));
  const ids = [settings.ADMIN_TOKEN_AUDIENCE]
    .flat()
    .map((a) => a.replace(/^api:\/\//, ''))
    .filter((a) => guid.test(a));
  return new Set([...ids, ...(settings.API_CLIENT_ID ? [settings.API_CLIENT_ID] : [])].map((c) => c.toLowerCase()));
}

/**
 * Verifies admin access tokens of both Entra versions. Which one arrives is the API registration's choice
 * (`api.requestedAccessTokenVersion`: null/1 -> v1.0, 2 -> v2.0), and each version has its own issuer, so the
 * issuer is checked against the template of the version the (signed) `ver` claim names: a v1.0 token with the
 * v2.0 issuer, or the reverse, is refused. Claim shapes: https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference
 * (MicrosoftDocs/entra-docs docs/identity-platform/access-token-claims-reference.md).
 *
 * Only delegated access tokens for this API get in: they carry the API's scope in `scp`. ID tokens never carry
 * `scp` and do carry `nonce` (OpenID Connect Core 2, 3.1.3.7), and with the admin page and the API in one app
 * registration their `aud` is the very client id v2.0 access tokens carry, so the audience cannot tell them apart.
 * App-only tokens (client credentials: `roles`, no `scp`) are refused too: every admin call acts for a person,
 * whose name goes into the audit, and nothing calls the admin API as an application.
 */
export function createAdminAuthenticator(settings: AdminAuthSettings): AuthenticateAdmin {
  const authenticate = createCallerAuthenticator(settings);
  return async (authorization) => {
    const caller = await authenticate(authorization);
    if (!caller.isAdmin) throw forbidden(`The app role "${settings.ADMIN_ROLE}" is required to manage connections.`);
    return caller.user;
  };
}

/**
 * The same verification for every user of a tenant: user routes (starting a user process, submitting its forms)
 * need no role, admin routes add ADMIN_ROLE (createAdminAuthenticator). The verified token itself comes along as
 * the On-Behalf-Of assertion, wrapped so it cannot be logged.
 */
export function createCallerAuthenticator(settings: AdminAuthSettings): AuthenticateCaller {
  // Entra signs v1.0 and v2.0 tokens of work accounts with the same keys; the v2.0 keys document is a superset.
  const jwksUrl = new URL(settings.ADMIN_TOKEN_JWKS_URI);
  // Built with jose at the first call that brings a token: every function's app context builds this authenticator,
  // and queue and timer functions never verify a caller.
  let jwks: ReturnType<typeof import('jose').createRemoteJWKSet> | undefined;
  const issuerTemplates: Record<string, string> = { '1.0': settings.ADMIN_TOKEN_ISSUER_V1, '2.0': settings.ADMIN_TOKEN_ISSUER };
  const expectedIssuer = (version: string, tid: string) => issuerTemplates[version]?.replace('{tenantid}', tid);
  const clients = allowedClientIds(settings);

  return async (authorization) => {
    const match = /^Bearer ([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+)$/.exec(authorization?.trim() ?? '');
    if (!match) throw unauthorized('A bearer token is required (Authorization: Bearer <token>).');
    let payload: JWTPayload;
    try {
      // The issuer depends on the tenant, so it is checked below once `tid` is known to be signed.
      jwks ??= loadJose().createRemoteJWKSet(jwksUrl, { cooldownDuration: 30_000 });
      ({ payload } = await loadJose().jwtVerify(match[1], jwks, {
        audience: settings.ADMIN_TOKEN_AUDIENCE,
        algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256'],
        clockTolerance: 60,
        requiredClaims: ['exp', 'iss', 'aud'],
      }));
    } catch (e) {
      // An unreachable key set is our outage, not the caller's fault.
      const joseErrors = loadJose().errors;
      if (!(e instanceof joseErrors.JOSEError) || e instanceof joseErrors.JWKSTimeout) {
        throw new AppError('unavailable', 'Admin tokens cannot be verified right now; try again shortly.');
      }
      throw unauthorized(describeJoseError(e));
    }
    const tid = typeof payload.tid === 'string' && guid.test(payload.tid) ? payload.tid.toLowerCase() : undefined;
    if (!tid) throw unauthorized('The token has no tenant (tid).');
    const version = typeof payload.ver === 'string' && Object.hasOwn(issuerTemplates, payload.ver) ? payload.ver : undefined;
    if (!version) throw unauthorized('The token has no known version (ver "1.0" or "2.0").');
    if (payload.iss !== expectedIssuer(version, tid)) throw unauthorized('The token was issued by an unexpected issuer.');
    if (payload.nonce !== undefined) throw unauthorized('An ID token is not accepted: send an access token for this API.');
    if (typeof payload.scp !== 'string') {
      throw unauthorized(`An access token for this API with the delegated permission "${settings.ADMIN_TOKEN_SCOPE}" (scp) is required.`);
    }
    // Which client app asked for the token: only the admin page and the product's front end act for users here.
    const client = version === '2.0' ? payload.azp : payload.appid;
    if (typeof client !== 'string' || !clients.has(client.toLowerCase())) {
      throw forbidden(
        'The token was issued to a client app that may not call this API (its azp/appid is not in API_ALLOWED_CLIENT_IDS); sign in through the Connections page or the product.',
      );
    }
    const oid = typeof payload.oid === 'string' ? payload.oid : undefined;
    if (!oid) throw unauthorized('The token has no object id (oid).');
    if (!payload.scp.split(' ').includes(settings.ADMIN_TOKEN_SCOPE)) {
      throw forbidden(`The delegated permission "${settings.ADMIN_TOKEN_SCOPE}" is required to use this API.`);
    }
    const roles = Array.isArray(payload.roles) ? payload.roles : [];
    // v2.0 names the user in `preferred_username`, v1.0 in `upn` (`unique_name` where there is no UPN, e.g. guests).
    const username = [payload.preferred_username, payload.upn, payload.unique_name, payload.name].find((v) => typeof v === 'string' && v);
    return {
      user: { tenantId: tid, objectId: oid, username: (username as string | undefined) ?? oid },
      isAdmin: roles.includes(settings.ADMIN_ROLE),
      // `exp` is required above; jwtVerify checked it is a number.
      assertion: new UserAssertion(match[1], new Date((payload.exp as number) * 1000)),
    };
  };
}

function describeJoseError(e: unknown): string {
  const joseErrors = loadJose().errors;
  if (e instanceof joseErrors.JWTExpired) return 'The token has expired.';
  if (e instanceof joseErrors.JWTClaimValidationFailed) return `The token's "${e.claim}" claim is not accepted.`;
  if (e instanceof joseErrors.JWKSNoMatchingKey || e instanceof joseErrors.JWSSignatureVerificationFailed) {
    return 'The token signature could not be verified.';
  }
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return 'The token signing algorithm is not accepted.';
  return 'The token is not valid.';
}
