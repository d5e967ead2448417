import { SecretStoreError, type SecretStoreOperation } from './secret-store';

/**
 * Key Vault's failures as the app reads them: only status, codes and ids of the SDK's RestError, never its message,
 * request or response (they can hold the secret value).
 */

const NETWORK_CODES = new Set([
  'REQUEST_SEND_ERROR',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);
const RETRY_AFTER_HEADERS = ['retry-after', 'retry-after-ms', 'x-ms-retry-after-ms'];

/** The fields of the SDK's RestError we read. Its message, request and response are never used: they can hold the value. */
interface RestErrorLike {
  name?: unknown;
  code?: unknown;
  statusCode?: unknown;
  details?: { error?: { code?: unknown; message?: unknown } };
  response?: { headers?: { get(name: string): string | undefined } };
}

export function statusOf(e: unknown): number | undefined {
  const s = (e as RestErrorLike | undefined)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** Only the vault's own "no such secret": any other 404 (wrong vault path, proxy) must not read as "no token". */
export function isSecretNotFound(e: unknown): boolean {
  return statusOf(e) === 404 && (e as RestErrorLike).code === 'SecretNotFound';
}

export function isThrottledWithoutRetryAfter(e: unknown): boolean {
  if (statusOf(e) !== 429) return false;
  const headers = (e as RestErrorLike).response?.headers;
  return !RETRY_AFTER_HEADERS.some((h) => headers?.get(h));
}

export function toStoreError(
  operation: SecretStoreOperation,
  secretName: string,
  value: string | undefined,
  e: unknown,
  timedOut: boolean,
): SecretStoreError {
  if (e instanceof SecretStoreError) return e;
  const err = (typeof e === 'object' && e !== null ? e : {}) as RestErrorLike;
  const statusCode = statusOf(e);
  const code = timedOut ? 'Timeout' : (safeToken(err.code) ?? safeToken(err.details?.error?.code) ?? safeToken(err.name));
  const requestId = safeToken(err.response?.headers?.get('x-ms-request-id'));
  const retryable =
    timedOut ||
    (statusCode !== undefined
      ? statusCode === 408 || statusCode === 429 || (statusCode >= 500 && statusCode !== 501 && statusCode !== 505)
      : code !== undefined && NETWORK_CODES.has(code));
  const serviceMessage = safeServiceMessage(err.details?.error?.message, value);
  const what = [statusCode !== undefined ? `HTTP ${statusCode}` : undefined, code].filter(Boolean).join(' ');
  return new SecretStoreError(
    `Key Vault ${operation} of secret ${secretName} failed${what ? `: ${what}` : ''}${serviceMessage ? ` (${serviceMessage})` : ''}`,
    { operation, secretName, statusCode, code, requestId, retryable },
  );
}

function safeToken(v: unknown): string | undefined {
  return typeof v === 'string' && /^[A-Za-z0-9_.:-]{1,64}$/.test(v) ? v : undefined;
}

/**
 * The vault's error text (e.g. which permission is missing) helps operators and never holds a value, but it is
 * still dropped if it shares any 16-character run with the value being written.
 */
function safeServiceMessage(message: unknown, value: string | undefined): string | undefined {
  if (typeof message !== 'string' || message.length === 0) return undefined;
  const clipped = message.slice(0, 300);
  if (value) {
    if (clipped.includes(value)) return undefined;
    for (let i = 0; i + 16 <= clipped.length; i++) {
      if (value.includes(clipped.slice(i, i + 16))) return undefined;
    }
  }
  return clipped;
}
