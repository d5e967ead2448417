import { refusals, type SignInRefusal } from './sign-in-pages';

/** Who may become a connection (settings CONNECTION_ACCOUNT_ROLE, CONNECTION_ACCOUNT_ROLE_REQUIRED, AUTH_CLIENT_ID). */
export interface ConnectionAccountPolicy {
  /** The sign-in app's role an account must carry; undefined when the check is turned off. */
  requiredRole?: string;
  /** The sign-in app's application (client) id, named on the refusal page so an administrator finds it. */
  signInAppId: string;
}

/** What a redeemed sign-in proved, beyond the tenant (checked before). */
export interface SignInEvidence {
  username: string;
  /** The ID token's claims as MSAL validated them (signature, issuer, audience, nonce). */
  idTokenClaims: Record<string, unknown>;
  /** When this app created the sign-in state (ISO), i.e. the earliest a fresh sign-in for it can have happened. */
  stateCreatedAt: string;
  hasRefreshToken: boolean;
}

/**
 * Why a redeemed sign-in must not become (or renew) a connection, or undefined when it may:
 * - it must be fresh and interactive: the ID token's `auth_time` (seconds) is not before the state's creation, so a
 *   URL rewritten to `prompt=none` (or without `prompt=login`) cannot turn someone's live session into a connection.
 *   `auth_time` is an optional claim in Entra, so a token without it is refused with a message naming it;
 * - the account must be a designated service account: the ID token's `roles` (the sign-in app's roles assigned to
 *   the account) include the required role;
 * - it must have returned a refresh token: without one the connection would die within the hour.
 */
export function signInProblem(evidence: SignInEvidence, policy: ConnectionAccountPolicy): SignInRefusal | undefined {
  const authTime = evidence.idTokenClaims.auth_time;
  if (typeof authTime !== 'number' || !Number.isFinite(authTime)) return refusals.missingAuthTime;
  // auth_time has whole seconds: a sign-in in the state's own second counts as fresh.
  const stateSecond = Math.floor(Date.parse(evidence.stateCreatedAt) / 1000);
  if (!(authTime >= stateSecond)) return refusals.staleSignIn;
  if (policy.requiredRole !== undefined) {
    const roles = evidence.idTokenClaims.roles;
    if (!Array.isArray(roles) || !roles.includes(policy.requiredRole)) {
      return refusals.missingRole(evidence.username, policy.requiredRole, policy.signInAppId);
    }
  }
  if (!evidence.hasRefreshToken) return refusals.noRefreshToken;
  return undefined;
}
