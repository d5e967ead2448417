/**
 * Where token material lives: one secret per connection holding that account's serialized MSAL cache.
 * Nothing else in the app may store it. Implementations must keep secret values out of errors and logs.
 */
export interface SecretStore {
  /** Latest version's value; undefined when the secret does not exist or has been deleted. */
  get(name: string): Promise<string | undefined>;
  /** Writes a new version. `options.tags` are visible to anyone who can list the vault: ids only, never token data. */
  set(name: string, value: string, options?: SecretSetOptions): Promise<void>;
  /** Idempotent: a missing secret is fine. */
  delete(name: string): Promise<void>;
}

export interface SecretSetOptions {
  tags?: Record<string, string>;
  contentType?: string;
}

/** Content type for a serialized MSAL token cache, so operators can tell what a secret is without reading it. */
export const MSAL_CACHE_CONTENT_TYPE = 'application/vnd.microsoft.msal-cache+json';

export type SecretStoreOperation = 'get' | 'set' | 'delete';

/**
 * The only error a SecretStore throws. Built from status/code fields, never from an SDK message or
 * request/response (those can carry the secret value), and it keeps no `cause` for the same reason.
 */
export class SecretStoreError extends Error {
  override readonly name = 'SecretStoreError';
  readonly operation: SecretStoreOperation;
  readonly secretName?: string;
  /** HTTP status from the vault, when there was a response. */
  readonly statusCode?: number;
  /** Service or transport error code, e.g. SecretNotFound, Throttled, Forbidden, ECONNREFUSED, Timeout. */
  readonly code?: string;
  /** Vault request id (x-ms-request-id), for support cases. */
  readonly requestId?: string;
  /** True when trying again later may succeed (throttling, 5xx, network, timeout). */
  readonly retryable: boolean;

  constructor(
    message: string,
    init: {
      operation: SecretStoreOperation;
      secretName?: string;
      statusCode?: number;
      code?: string;
      requestId?: string;
      retryable: boolean;
    },
  ) {
    super(message);
    this.operation = init.operation;
    this.secretName = init.secretName;
    this.statusCode = init.statusCode;
    this.code = init.code;
    this.requestId = init.requestId;
    this.retryable = init.retryable;
  }
}

const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CONNECTION_ID = /^[0-9a-z-]+$/;
const PREFIX = 'conn-';
/** `conn-` + 36-char tenant GUID + `-`. */
const MAX_CONNECTION_ID = 127 - PREFIX.length - 36 - 1;

export function isValidSecretName(name: unknown): name is string {
  return typeof name === 'string' && SECRET_NAME.test(name);
}

/**
 * Secret name for a connection's token cache.
 * The tenant must be a GUID (Entra `tid` always is): its fixed length makes the name split back unambiguously,
 * so no two (tenant, connection) pairs can share a secret. Key Vault names are case-insensitive, so the
 * tenant is lower-cased and connection ids with upper-case letters are refused rather than silently folded.
 * Inputs are not echoed in errors: a swapped argument could be token data.
 */
export function connectionSecretName(tenantId: string, connectionId: string): string {
  if (typeof tenantId !== 'string' || !GUID.test(tenantId)) {
    throw new RangeError('tenantId must be a GUID');
  }
  if (typeof connectionId !== 'string' || !CONNECTION_ID.test(connectionId) || connectionId.length > MAX_CONNECTION_ID) {
    throw new RangeError(`connectionId must be 1..${MAX_CONNECTION_ID} characters of lower-case letters, digits and '-'`);
  }
  return `${PREFIX}${tenantId.toLowerCase()}-${connectionId}`;
}
