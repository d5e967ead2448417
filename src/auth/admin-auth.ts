import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Settings } from '../config/settings';
import { forbidden, HttpError, unauthorized } from '../http/errors';

/** The administrator behind an admin API call; `tenantId` scopes everything the call may touch. */
export interface Admin {
  tenantId: string;
  objectId: string;
  username: string;
}

export type AuthenticateAdmin = (authorization: string | null | undefined) => Promise<Admin>;

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createAdminAuthenticator(
  settings: Pick<Settings, 'ADMIN_TOKEN_ISSUER' | 'ADMIN_TOKEN_JWKS_URI' | 'ADMIN_TOKEN_AUDIENCE' | 'ADMIN_ROLE'>,
): AuthenticateAdmin {
  const jwks = createRemoteJWKSet(new URL(settings.ADMIN_TOKEN_JWKS_URI), { cooldownDuration: 30_000 });
  const expectedIssuer = (tid: string) => settings.ADMIN_TOKEN_ISSUER.replace('{tenantid}', tid);

  return async (authorization) => {
    const match = /^Bearer ([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+)$/.exec(authorization?.trim() ?? '');
    if (!match) throw unauthorized('A bearer token is required (Authorization: Bearer <token>).');
    let payload: JWTPayload;
    try {
      // The issuer depends on the tenant, so it is checked below once `tid` is known to be signed.
      ({ payload } = await jwtVerify(match[1], jwks, {
        audience: settings.ADMIN_TOKEN_AUDIENCE,
        algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256'],
        clockTolerance: 60,
        requiredClaims: ['exp', 'iss', 'aud'],
      }));
    } catch (e) {
      // An unreachable key set is our outage, not the caller's fault.
      if (!(e instanceof joseErrors.JOSEError) || e instanceof joseErrors.JWKSTimeout) {
        throw new HttpError(503, 'Admin tokens cannot be verified right now; try again shortly.');
      }
      throw unauthorized(describeJoseError(e));
    }
    const tid = typeof payload.tid === 'string' && guid.test(payload.tid) ? payload.tid.toLowerCase() : undefined;
    if (!tid) throw unauthorized('The token has no tenant (tid).');
    if (payload.iss !== expectedIssuer(tid)) throw unauthorized('The token was issued by an unexpected issuer.');
    const oid = typeof payload.oid === 'string' ? payload.oid : undefined;
    if (!oid) throw unauthorized('The token has no object id (oid).');
    const roles = Array.isArray(payload.roles) ? payload.roles : [];
    if (!roles.includes(settings.ADMIN_ROLE)) {
      throw forbidden(`The app role "${settings.ADMIN_ROLE}" is required to manage connections.`);
    }
    const username = [payload.preferred_username, payload.upn, payload.name].find((v) => typeof v === 'string');
    return { tenantId: tid, objectId: oid, username: (username as string | undefined) ?? oid };
  };
}

function describeJoseError(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return 'The token has expired.';
  if (e instanceof joseErrors.JWTClaimValidationFailed) return `The token's "${e.claim}" claim is not accepted.`;
  if (e instanceof joseErrors.JWKSNoMatchingKey || e instanceof joseErrors.JWSSignatureVerificationFailed) {
    return 'The token signature could not be verified.';
  }
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return 'The token signing algorithm is not accepted.';
  return 'The token is not valid.';
}
