/**
 * LOCAL ONLY. How the Graph stand-in checks bearer tokens as Graph does: signature (the local identity provider's
 * JWKS), issuer, audience and expiry, then continuous access evaluation (CAE) for clients that declared CP1.
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { claimsChallengeHeader } from '../tokens/claims-challenge';
import { HttpError } from './http-helpers';
import { findUser } from './identity-provider/directory';
import { revokeLocalSessions } from './identity-provider/launch';

export interface GraphAccount {
  username: string;
  objectId: string;
  tenantId: string;
}

/** Graph's errors name a code: `{error: {code, message, innerError}}`. */
export const graphError = (status: number, code: string, message: string, headers: Record<string, string> = {}): HttpError =>
  new HttpError(status, message, { code, headers });

export interface GraphTokenCheckOptions {
  jwksUri: string;
  issuer: string;
  audience: string;
  /** The local identity provider, for revoke-sessions. */
  identityProviderUrl: string;
}

export interface GraphTokenCheck {
  /** The calling account (and its `scp`), or HttpError 401 with Graph's challenge. */
  authenticate(header: string | undefined): Promise<{ account: GraphAccount; scopes?: string[] }>;
  /**
   * A critical event for the account: its CAE tokens issued before now are challenged; also Entra's
   * revokeSignInSessions at the identity provider unless `refreshTokens` is false.
   */
  revokeSessions(username: string, options?: { refreshTokens?: boolean }): Promise<{ tokensValidFrom: number }>;
}

export function createGraphTokenCheck(options: GraphTokenCheckOptions): GraphTokenCheck {
  const jwks = createRemoteJWKSet(new URL(options.jwksUri));
  /** Per account (object id): CAE tokens issued before this epoch second are challenged. */
  const tokensValidFrom = new Map<string, number>();

  async function revokeSessions(username: string, revoke: { refreshTokens?: boolean } = {}): Promise<{ tokensValidFrom: number }> {
    const user = findUser(username);
    if (!user) throw graphError(400, 'BadRequest', `Unknown username ${JSON.stringify(username)}.`);
    let validFrom: number;
    if (revoke.refreshTokens === false) {
      // Same boundary rule as the identity provider: the next whole second, answered once it has begun.
      validFrom = Math.floor(Date.now() / 1000) + 1;
      await new Promise((r) => setTimeout(r, Math.max(0, validFrom * 1000 - Date.now())));
    } else {
      validFrom = (await revokeLocalSessions(options.identityProviderUrl, user.username)).tokensValidFrom;
    }
    tokensValidFrom.set(user.objectId, validFrom);
    return { tokensValidFrom: validFrom };
  }

  async function authenticate(header: string | undefined): Promise<{ account: GraphAccount; scopes?: string[] }> {
    const challenge = {
      'WWW-Authenticate': 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"',
    };
    const token = /^Bearer ([^\s]+)$/i.exec(header ?? '')?.[1];
    if (!token) throw graphError(401, 'InvalidAuthenticationToken', 'Access token is empty.', challenge);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: ['RS256'],
        requiredClaims: ['exp'],
      }));
    } catch (e) {
      const reason = (e as { code?: string }).code ?? 'ERR_JWT_INVALID';
      throw graphError(401, 'InvalidAuthenticationToken', `Access token validation failure (${reason}).`, challenge);
    }
    const { preferred_username: username, oid, tid, scp, xms_cc: capabilities } = payload as Record<string, unknown>;
    if (typeof username !== 'string' || typeof oid !== 'string' || typeof tid !== 'string') {
      throw graphError(401, 'InvalidAuthenticationToken', 'Access token has no user (preferred_username, oid, tid).', challenge);
    }
    // Continuous access evaluation: only tokens of clients that declared CP1 are evaluated (others live out their
    // lifetime, as with Graph); one issued before the account's critical event gets Graph's claims challenge, whose
    // claims ask for a token not before the event (learn.microsoft.com/entra/identity-platform/
    // app-resilience-continuous-access-evaluation; message as in microsoftgraph/msgraph-sdk-powershell#1741).
    const validFrom = tokensValidFrom.get(oid);
    const caeCapable = Array.isArray(capabilities) && capabilities.some((c) => typeof c === 'string' && c.toLowerCase() === 'cp1');
    if (caeCapable && validFrom !== undefined && (payload.iat ?? 0) < validFrom) {
      throw graphError(
        401,
        'InvalidAuthenticationToken',
        'Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp',
        { 'WWW-Authenticate': claimsChallengeHeader({ access_token: { nbf: { essential: true, value: String(validFrom) } } }) },
      );
    }
    return {
      account: { username, objectId: oid, tenantId: tid },
      ...(typeof scp === 'string' ? { scopes: scp.split(' ').filter(Boolean) } : {}),
    };
  }

  return { authenticate, revokeSessions };
}
