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
 * (HTTP 401) or `unauthorized_client` (HTTP 400); any `invalid_client` counts, code or not. Each group says what to check.
 */
const secretCodes = new Set([
  7000215, // invalid client secret provided
  7000222, // client secret expired
]);
/**
 * The client assertion (managed identity as a federated identity credential) refused: no federated credential matches
 * its issuer (700211), subject (700213; 7002137/7002138 in newer answers), audience (700212) or all of it (70021), it
 * expired (700024) or its signature failed (700027). Texts as quoted in Azure/azure-workload-identity#1200 and #616,
 * Azure/login#517 and #180.
 */
const assertionCodes = new Set([70021, 700211, 700212, 700213, 7002137, 7002138, 700024, 700027, 7000216]);
const registrationCodes = new Set([
  7000218, // no client_secret or client_assertion in the request
  700016, // application not found in the directory (wrong client id or tenant)
  7000112, // application disabled
  70002, // error validating credentials
]);
const applicationCredentialErrors = new Set(['invalid_client', 'unauthorized_client']);

/**
 * The customer's tenant removed (700016) or disabled (7000112) the enterprise application: on a refresh in that
 * tenant this is about the tenant, not the vendor's credential, so only that tenant's connections are affected.
 */
const tenantAppCodes = new Set([700016, 7000112]);

/**
 * Conditional Access in the account's tenant refused the refresh: blocked (53003), device state (53000, 53001), MFA
 * (50076) or its registration (50079) required, an external security challenge unmet (50158). Evaluated at the
 * caller's IP, which on Flex Consumption is not static without VNet integration and a NAT gateway.
 */
const conditionalAccessCodes = new Set([53003, 53000, 53001, 50076, 50079, 50158]);

/** AADSTS codes meaning the refresh token or consent is gone for good. */
const deadGrantCodes = new Set([
  50173, // grant expired after a credential change
  700082, // refresh token expired due to inactivity
  70008, // refresh token expired or revoked
  65001, // consent missing or revoked
  50078, // presented MFA expired
  500014, // service principal disabled
  50057, // user account disabled
  50126, // invalid credentials
  700084, // SPA refresh token lifetime reached
  ...conditionalAccessCodes,
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

export interface ClassifyOptions {
  /** The request was a refresh of one tenant's account: 700016/7000112 then mean that tenant's enterprise app. */
  tenantScoped?: boolean;
}

export function classifyTokenError(e: unknown, options: ClassifyOptions = {}): TokenFailure {
  const err = (e ?? {}) as MsalLikeError;
  if (err.name === 'ManagedIdentityAssertionError') {
    return { kind: 'transient', reason: `Sign-in service temporarily unavailable: ${err.message}` };
  }
  const text = `${err.errorMessage ?? ''} ${err.message ?? ''}`;
  const aadsts = [...text.matchAll(/AADSTS(\d+)/g)].map((m) => Number(m[1]));
  const errorNo = Number(err.errorNo);
  if (Number.isInteger(errorNo) && errorNo > 0 && !aadsts.includes(errorNo)) aadsts.unshift(errorNo);
  const code = err.errorCode ?? '';
  const status = err.status;
  const tenantApp = options.tenantScoped ? aadsts.find((c) => tenantAppCodes.has(c)) : undefined;
  if (tenantApp !== undefined) return { kind: 'dead_grant', reason: tenantAppReason(tenantApp) };
  const appCode = aadsts.find((c) => secretCodes.has(c) || assertionCodes.has(c) || registrationCodes.has(c));
  if (appCode !== undefined || applicationCredentialErrors.has(code)) {
    const shown = appCode ?? aadsts[0];
    // Goes to logs and answers: it names no secret value, only what to check.
    return {
      kind: 'application_credentials',
      reason:
        `Microsoft Entra ID refused the app's own credentials (${code || 'invalid_client'}${shown ? `, AADSTS${shown}` : ''}): ` +
        `${whatToCheck(shown)} Connections are not affected; work is retried.`,
      ...(shown ? { code: shown } : {}),
    };
  }
  const conditionalAccess = aadsts.find((c) => conditionalAccessCodes.has(c));
  if (conditionalAccess !== undefined) return { kind: 'dead_grant', reason: conditionalAccessReason(conditionalAccess) };
  if (aadsts.some((c) => deadGrantCodes.has(c)) || deadErrorCodes.has(code) || err.name === 'InteractionRequiredAuthError') {
    return { kind: 'dead_grant', reason: describe(code || 'invalid_grant', aadsts) };
  }
  const transientReason = status ? `token endpoint answered HTTP ${status}` : code || 'token endpoint unreachable';
  return { kind: 'transient', reason: `Sign-in service temporarily unavailable (${transientReason}).` };
}

function whatToCheck(code: number | undefined): string {
  if (code !== undefined && secretCodes.has(code)) {
    return "renew the app registration's client secret in the app's settings, or switch it to the managed identity credential (no secret to renew).";
  }
  if (code !== undefined && assertionCodes.has(code)) {
    return (
      "check the app registration's federated credential for the app's managed identity: issuer " +
      "https://login.microsoftonline.com/<vendor tenant id>/v2.0, subject = the identity's object (principal) id, audience " +
      "api://AzureADTokenExchange, and that AZURE_CLIENT_ID is that identity's client id."
    );
  }
  return "check the app registration's client id, that it exists and is enabled, and its credential (federated credential or client secret).";
}

function conditionalAccessReason(code: number): string {
  const what =
    code === 50076 || code === 50079
      ? 'requires multifactor authentication (or its registration), which a background refresh cannot give'
      : code === 50158
        ? 'requires an external security challenge, which a background refresh cannot answer'
        : 'blocked the refresh (location, device or sign-in frequency)';
  return (
    `A Conditional Access policy of the account's tenant ${what} (AADSTS${code}). Its administrator should exclude the designated ` +
    "service accounts from that policy or trust the app's static outgoing IP as a named location (docs/deploy.md, " +
    '"Conditional Access for designated service accounts"), then re-authorize the connection.'
  );
}

const TENANT_APP_REASON_START = "The customer's tenant no longer lets this app sign in";

function tenantAppReason(code: number): string {
  const what =
    code === 7000112
      ? 'its administrator disabled the enterprise application (Enterprise applications > Properties > Enabled for users to sign in)'
      : 'the enterprise application was deleted or its consent removed';
  return `${TENANT_APP_REASON_START}: ${what} (AADSTS${code}). An administrator of that tenant must grant consent again, then re-authorize the connection.`;
}

/** The AADSTS code when a dead grant's reason says the tenant removed or disabled the app (the reason travels between instances). */
export function tenantAppRefusalIn(reason: string): number | undefined {
  if (!reason.startsWith(TENANT_APP_REASON_START)) return undefined;
  const code = Number(/\(AADSTS(\d+)\)/.exec(reason)?.[1]);
  return tenantAppCodes.has(code) ? code : undefined;
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
