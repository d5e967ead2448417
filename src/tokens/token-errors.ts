/**
 * Sorts token-acquisition failures into the two cases that matter: the grant is dead (only a new
 * sign-in helps, so never retry) or the failure is transient (retry with backoff).
 */
export type TokenFailure =
  | { kind: 'dead_grant'; reason: string }
  | { kind: 'transient'; reason: string };

/** AADSTS codes meaning the refresh token or consent is gone for good. */
const deadGrantCodes = new Set([
  50173, // grant expired after a credential change
  700082, // refresh token expired due to inactivity
  70008, // refresh token expired or revoked
  65001, // consent missing or revoked
  50076, // MFA now required
  50079, // MFA enrollment required
  50078, // presented MFA expired
  53003, // blocked by Conditional Access
  500014, // service principal disabled
  50057, // user account disabled
  50126, // invalid credentials
  700084, // SPA refresh token lifetime reached
  7000222, // client secret expired (app-side, but no retry helps)
]);

const deadErrorCodes = new Set(['invalid_grant', 'interaction_required', 'consent_required', 'login_required', 'no_tokens_found', 'no_account_found', 'bad_token', 'unauthorized_client']);

interface MsalLikeError {
  errorCode?: string;
  subError?: string;
  errorMessage?: string;
  message?: string;
  status?: number;
  errorNo?: string | number;
  name?: string;
}

export function classifyTokenError(e: unknown): TokenFailure {
  const err = (e ?? {}) as MsalLikeError;
  const text = `${err.errorMessage ?? ''} ${err.message ?? ''}`;
  const aadsts = [...text.matchAll(/AADSTS(\d+)/g)].map((m) => Number(m[1]));
  const code = err.errorCode ?? '';
  const status = err.status;
  if (aadsts.some((c) => deadGrantCodes.has(c)) || deadErrorCodes.has(code) || err.name === 'InteractionRequiredAuthError') {
    return { kind: 'dead_grant', reason: describe(code || 'invalid_grant', aadsts) };
  }
  const transientReason = status ? `token endpoint answered HTTP ${status}` : code || 'token endpoint unreachable';
  return { kind: 'transient', reason: `Sign-in service temporarily unavailable (${transientReason}).` };
}

function describe(code: string, aadsts: number[]): string {
  const suffix = aadsts.length ? ` (AADSTS${aadsts[0]})` : '';
  return `The connection's sign-in is no longer valid: ${code}${suffix}. Re-authorize the connection.`;
}
