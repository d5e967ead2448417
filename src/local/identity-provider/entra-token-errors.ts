/**
 * LOCAL ONLY. Entra's token-endpoint error answers, for the local identity provider: the same HTTP status, `error`,
 * `error_codes` and AADSTS-prefixed `error_description` as Microsoft Entra ID, so MSAL raises the same errors here as
 * in Azure (msal-common ResponseHandler.validateTokenResponse reads `error`, `error_description`, `error_codes`).
 * Shape: learn.microsoft.com/entra/identity-platform/reference-error-codes ("sample error response": error,
 * error_description with Trace ID / Correlation ID / Timestamp, error_codes, timestamp, trace_id, correlation_id,
 * error_uri). Texts: the AADSTS code list there and https://login.microsoftonline.com/error?code=<n>.
 */
import { randomUUID } from 'node:crypto';

interface Known {
  status: number;
  error: string;
  text: (clientId: string) => string;
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
  50173: {
    status: 400,
    error: 'invalid_grant',
    text: () =>
      'The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.',
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
    error_description: string;
    error_codes: number[];
    timestamp: string;
    trace_id: string;
    correlation_id: string;
    error_uri: string;
  };
}

export function entraTokenError(code: number, clientId: string): EntraTokenError {
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
      error_description: `AADSTS${code}: ${known.text(clientId)}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
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
