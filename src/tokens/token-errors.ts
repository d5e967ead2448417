import { SecretStoreError } from '../adapters/secret-store';
import { AppError, type ErrorCode } from '../shared/errors';
import { LeaseBusyError, LeaseLostError } from './refresh-lease';

/**
 * Sorts token-acquisition failures into the three cases that matter: the grant is dead (only a new sign-in
 * helps, so never retry), the app's own credentials were refused (the grant is fine; nothing about the
 * connection changes, work is retried later and the operators are told once), or the failure is transient
 * (retry with backoff).
 */
export type TokenFailure =
  | { kind: 'dead_grant'; reason: string }
  | { kind: 'application_credentials'; reason: string; code?: number }
  | { kind: 'transient'; reason: string };

/**
 * AADSTS codes meaning the app registration's own credentials or registration failed, not the account's grant
 * (learn.microsoft.com/entra/identity-platform/reference-error-codes). Entra answers them with `invalid_client`
 * (HTTP 401) or `unauthorized_client` (HTTP 400); any `invalid_client` counts, code or not.
 */
const applicationCredentialCodes = new Set([
  7000215, // invalid client secret provided
  7000222, // client secret expired
  7000218, // no client_secret or client_assertion in the request
  7000216, // client_assertion required
  700016, // application not found in the directory (wrong client id or tenant)
  700027, // client assertion failed signature validation
  700024, // client assertion not within its valid time range
  7000112, // application disabled
  70002, // error validating credentials
]);
const applicationCredentialErrors = new Set(['invalid_client', 'unauthorized_client']);

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
]);

const deadErrorCodes = new Set([
  'invalid_grant',
  'interaction_required',
  'consent_required',
  'login_required',
  'no_tokens_found',
  'no_account_found',
  'bad_token',
]);

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
  const errorNo = Number(err.errorNo);
  if (Number.isInteger(errorNo) && errorNo > 0 && !aadsts.includes(errorNo)) aadsts.unshift(errorNo);
  const code = err.errorCode ?? '';
  const status = err.status;
  const appCode = aadsts.find((c) => applicationCredentialCodes.has(c));
  if (appCode !== undefined || applicationCredentialErrors.has(code)) {
    const shown = appCode ?? aadsts[0];
    // Goes to logs and answers: it names no setting (`AUTH_CLIENT_SECRET` reads like the protocol field `client_secret`).
    return {
      kind: 'application_credentials',
      reason:
        `Microsoft Entra ID refused the app's own credentials (${code || 'invalid_client'}${shown ? `, AADSTS${shown}` : ''}): ` +
        "renew the app registration's client secret (and check its client id) in the app's settings. Connections are not affected; work is retried.",
      ...(shown ? { code: shown } : {}),
    };
  }
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

const codeOf: Record<TokenFailure['kind'], ErrorCode> = {
  dead_grant: 'unauthenticated',
  application_credentials: 'misconfigured',
  transient: 'unavailable',
};

/**
 * What the broker throws: the classified failure, never the raw MSAL error (its message can quote the request). As
 * an AppError: a dead grant is `unauthenticated` and never retried, the app's own credentials `misconfigured`, the
 * rest `unavailable`.
 */
export class TokenAcquisitionError extends AppError {
  constructor(
    readonly failure: TokenFailure,
    options?: { cause?: unknown },
  ) {
    super(codeOf[failure.kind], failure.reason, { ...options, retryable: failure.kind !== 'dead_grant' });
    this.name = 'TokenAcquisitionError';
  }
}

/**
 * The one test for "only a new sign-in can help this connection": never retry, mark it `needs_reauth`. Every place
 * that asks (step runner, keep-alive, connection test, the broker itself) should use it rather than look at `kind`.
 */
export function isDeadGrant(e: unknown): e is TokenAcquisitionError & { failure: Extract<TokenFailure, { kind: 'dead_grant' }> } {
  return e instanceof TokenAcquisitionError && e.failure.kind === 'dead_grant';
}

export const deadGrant = (reason: string): TokenAcquisitionError => new TokenAcquisitionError({ kind: 'dead_grant', reason });
export const transient = (reason: string): TokenAcquisitionError => new TokenAcquisitionError({ kind: 'transient', reason });

/** The reason given when another instance recorded a dead grant without saying why. */
export const DEAD_GRANT_DEFAULT_REASON = "The connection's sign-in is no longer valid. Re-authorize the connection.";

/**
 * A refresh that failed for any other reason than the token endpoint's answer — vault, Tables, discovery, a lost or
 * busy lease — as a transient failure: all are worth a retry (the step runner backs off, then Service Bus redelivers).
 */
export function refreshFailureOf(e: unknown): TokenAcquisitionError {
  if (e instanceof LeaseBusyError) return transient("Another instance is still refreshing this connection's token; try again shortly.");
  const what =
    e instanceof SecretStoreError
      ? `Key Vault ${e.operation} failed${e.statusCode ? ` with HTTP ${e.statusCode}` : e.code ? ` (${e.code})` : ''}`
      : e instanceof LeaseLostError
        ? 'the refresh lease was lost'
        : 'the token service could not be reached';
  return new TokenAcquisitionError({ kind: 'transient', reason: `Token refresh temporarily unavailable: ${what}.` }, { cause: e });
}
