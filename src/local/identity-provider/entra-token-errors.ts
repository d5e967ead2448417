/**
 * LOCAL ONLY. Entra's token-endpoint error answers, for the local identity provider: the same HTTP status, `error`,
 * `error_codes` and AADSTS-prefixed `error_description` as Microsoft Entra ID, so MSAL raises the same errors here as
 * in Azure (msal-common ResponseHandler.validateTokenResponse reads `error`, `error_description`, `error_codes`).
 * Shape: learn.microsoft.com/entra/identity-platform/reference-error-codes ("sample error response": error,
 * error_description with Trace ID / Correlation ID / Timestamp, error_codes, timestamp, trace_id, correlation_id,
 * error_uri). Texts: the AADSTS code list there and https://login.microsoftonline.com/error?code=<n>.
 */
import { randomUUID } from 'node:crypto';

/** What a refusal names besides the client: the assertion's audience, its expiry, the scope or resource asked for. */
export interface EntraErrorDetail {
  audience?: string;
  expiry?: string;
  reason?: string;
  resource?: string;
  parameter?: string;
}

interface Known {
  status: number;
  error: string;
  /** Entra's `suberror` (MSAL raises InteractionRequiredAuthError for `consent_required`). */
  suberror?: string;
  text: (clientId: string, detail: EntraErrorDetail) => string;
}

const KNOWN: Record<number, Known> = {
  7000215: {
    status: 401,
    error: 'invalid_client',
    text: (app) =>
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app}'.`,
  },
  7000222: {
    status: 401,
    error: 'invalid_client',
    text: (app) =>
      `The provided client secret keys for app '${app}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
  },
  7000218: {
    status: 401,
    error: 'invalid_client',
    text: () => "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
  },
  700016: {
    status: 400,
    error: 'unauthorized_client',
    text: (app) =>
      `Application with identifier '${app}' was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
  },
  // The app disabled in the tenant (Enterprise applications > Properties): learn.microsoft.com/entra/identity-platform/reference-error-codes.
  7000112: {
    status: 400,
    error: 'unauthorized_client',
    text: (app) => `Application '${app}' is disabled.`,
  },
  // Client assertions (federated identity credentials): the mismatch texts are composed by federated-credentials.ts.
  700211: {
    status: 401,
    error: 'invalid_client',
    text: (_app, d) => d.reason ?? 'No matching federated identity record found for presented assertion issuer.',
  },
  700212: {
    status: 401,
    error: 'invalid_client',
    text: (_app, d) => d.reason ?? 'No matching federated identity record found for presented assertion audience.',
  },
  700213: {
    status: 401,
    error: 'invalid_client',
    text: (_app, d) => d.reason ?? 'No matching federated identity record found for presented assertion subject.',
  },
  700024: { status: 401, error: 'invalid_client', text: (_app, d) => d.reason ?? 'Client assertion is not within its valid time range.' },
  700027: {
    status: 401,
    error: 'invalid_client',
    text: () => 'Client assertion failed signature validation. [Reason - The key was not found.]',
  },
  // Conditional Access refusals of a refresh (texts: login.microsoftonline.com/error?code=53003 | 50076 | 50079 | 50158).
  53003: {
    status: 400,
    error: 'invalid_grant',
    suberror: 'basic_action',
    text: () => 'Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.',
  },
  50076: {
    status: 400,
    error: 'invalid_grant',
    suberror: 'basic_action',
    text: () =>
      "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access 'https://graph.microsoft.com'.",
  },
  50079: {
    status: 400,
    error: 'invalid_grant',
    suberror: 'basic_action',
    text: () =>
      'Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access the resource.',
  },
  50158: {
    status: 400,
    error: 'invalid_grant',
    suberror: 'basic_action',
    text: () =>
      'External security challenge not satisfied. User will be redirected to another page or authentication provider to satisfy additional authentication challenges.',
  },
  50173: {
    status: 400,
    error: 'invalid_grant',
    text: () =>
      'The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.',
  },
  // On-Behalf-Of refusals (the assertion). Texts: login.microsoftonline.com/error?code=500133 | 500131 | 50013 and the
  // answers quoted in microsoftgraph/msgraph-sdk-dotnet#2551 (500133), AzureAD/microsoft-authentication-library-for-js#389
  // (audience), -for-dotnet#1317 and #2604 (signature).
  500133: {
    status: 400,
    error: 'invalid_grant',
    text: (_app, d) =>
      'Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, ' +
      `or request a new token. Current time: ${new Date().toISOString()}, expiry time of assertion ${d.expiry ?? 'unknown'}.`,
  },
  500131: {
    status: 400,
    error: 'invalid_grant',
    text: (app, d) =>
      `Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '${d.audience ?? ''}' ` +
      `and the expected audience is '${app}' or one of the Application Uris of this application with App ID '${app}'. The downstream ` +
      'client must request a token for the expected audience (the application that made the OBO request) and this application should ' +
      'use that token as the assertion.',
  },
  50013: {
    status: 400,
    error: 'invalid_grant',
    text: (_app, d) => d.reason ?? 'Assertion failed signature validation. [Reason - The key was not found.]',
  },
  50027: {
    status: 400,
    error: 'invalid_request',
    text: () => 'JWT token is invalid or malformed.',
  },
  65001: {
    status: 400,
    error: 'invalid_grant',
    suberror: 'consent_required',
    text: (app) =>
      `The user or administrator has not consented to use the application with ID '${app}'. Send an interactive authorization request for this user and resource.`,
  },
  500011: {
    status: 400,
    error: 'invalid_resource',
    text: (_app, d) =>
      `The resource principal named ${d.resource ?? ''} was not found in the tenant. This can happen if the application has not been ` +
      'installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.',
  },
  7000114: {
    status: 400,
    error: 'unauthorized_client',
    text: (app) => `Application '${app}' is not allowed to make application on-behalf-of calls.`,
  },
  900144: {
    status: 400,
    error: 'invalid_request',
    text: (_app, d) => `The request body must contain the following parameter: '${d.parameter ?? ''}'.`,
  },
  90100: {
    status: 400,
    error: 'invalid_request',
    text: () => 'claims parameter is empty or not valid.',
  },
};

/** The AADSTS codes the provider can answer with (fault injection validates against these). */
export const ENTRA_ERROR_CODES: readonly number[] = Object.keys(KNOWN).map(Number);

export interface EntraTokenError {
  status: number;
  body: {
    error: string;
    suberror?: string;
    error_description: string;
    error_codes: number[];
    timestamp: string;
    trace_id: string;
    correlation_id: string;
    error_uri: string;
  };
}

export function entraTokenError(code: number, clientId: string, detail: EntraErrorDetail = {}): EntraTokenError {
  const known = KNOWN[code];
  if (!known) throw new Error(`no Entra error text for AADSTS${code}`);
  const now = new Date();
  const timestamp = `${now.toISOString().slice(0, 19).replace('T', ' ')}Z`;
  const traceId = randomUUID();
  const correlationId = randomUUID();
  return {
    status: known.status,
    body: {
      error: known.error,
      ...(known.suberror ? { suberror: known.suberror } : {}),
      error_description: `AADSTS${code}: ${known.text(clientId, detail)}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  };
}

/**
 * The `claims` request parameter (OpenID Connect claims request, what MSAL sends with client capabilities and claims
 * challenges): the access-token claims asked for, and whether the client declared the CP1 capability
 * (`access_token.xms_cc.values`). Undefined when absent; 'invalid' when not a JSON object (Entra: AADSTS90100).
 */
export function requestedClaims(
  claims: string | null | undefined,
): { accessToken: Record<string, unknown>; cp1: boolean } | 'invalid' | undefined {
  if (claims === null || claims === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(claims);
  } catch {
    return 'invalid';
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'invalid';
  const accessToken = (value as { access_token?: unknown }).access_token;
  const at = accessToken && typeof accessToken === 'object' && !Array.isArray(accessToken) ? (accessToken as Record<string, unknown>) : {};
  const xmsCc = at.xms_cc as { values?: unknown } | undefined;
  const cp1 = Array.isArray(xmsCc?.values) && xmsCc.values.some((v) => typeof v === 'string' && v.toLowerCase() === 'cp1');
  return { accessToken: at, cp1 };
}
