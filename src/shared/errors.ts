/**
 * The app's one error vocabulary. Domain code (src/) throws `AppError` with a stable `code`; it never knows about
 * HTTP or Service Bus. The edges map codes once: `functions/` to HTTP statuses (one table), the queue handlers to
 * abandon (retry), dead-letter or fail-run. Modelled on azure-functions-nodejs-library's errors tagged by who is
 * at fault, jose's stable error codes, and Temporal's `ApplicationFailure` (`retryable`, `nextRetryDelayMs`). The
 * failures of token acquisition are part of the family (`TokenAcquisitionError` extends AppError); Key Vault's
 * `SecretStoreError` and Graph's `ActionError` keep their service's own `code` but answer the same question:
 * may this be tried again (`retryable`).
 */
export type ErrorCode =
  /** The caller sent something malformed (ids, query, JSON). */
  | 'bad_request'
  /** No or invalid credentials. */
  | 'unauthenticated'
  /** Authenticated, but not allowed. */
  | 'forbidden'
  | 'not_found'
  /** The route exists, but not with this HTTP method (the answer's `Allow` names those it takes). */
  | 'method_not_allowed'
  /** The request conflicts with the current state (e.g. a connection still in use). */
  | 'conflict'
  /** The input exceeds a limit of the app or of an Azure service. */
  | 'too_large'
  /** Well-formed input that breaks a domain rule (a list of `{path, message}` in `details`). */
  | 'invalid'
  /** The caller exceeded a quota of its tenant: the same call succeeds after `retryAfterSeconds`. */
  | 'throttled'
  /** A service the app depends on (Entra, Key Vault, Tables, Graph, Service Bus) failed or throttled: retry later. */
  | 'unavailable'
  /** The app's own configuration or credentials are wrong: an operator must act; retrying later may help. */
  | 'misconfigured';

/** Who must act: the caller, an operator of this app, or nobody (a dependency will recover). */
export type Fault = 'caller' | 'operator' | 'dependency';

const faultOf: Record<ErrorCode, Fault> = {
  bad_request: 'caller',
  unauthenticated: 'caller',
  forbidden: 'caller',
  not_found: 'caller',
  method_not_allowed: 'caller',
  conflict: 'caller',
  too_large: 'caller',
  invalid: 'caller',
  throttled: 'caller',
  unavailable: 'dependency',
  misconfigured: 'operator',
};

/** Every error code, e.g. for the error body's schema in the OpenAPI document. */
export const errorCodes = Object.keys(faultOf) as [ErrorCode, ...ErrorCode[]];

/** One problem of a request: where (`path`, syntax in problem-path.ts) and what is wrong there. */
export interface ProblemDetail {
  path: string;
  message: string;
}

export class AppError extends Error {
  readonly fault: Fault;
  /** Whether the same operation can succeed later without anyone changing the input. */
  readonly retryable: boolean;

  constructor(
    readonly code: ErrorCode,
    /** Safe to show to the caller: never token material, secrets or raw dependency answers. */
    message: string,
    options: {
      details?: ProblemDetail[];
      cause?: unknown;
      retryable?: boolean;
      retryAfterSeconds?: number;
      nextRetryDelayMs?: number;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.fault = faultOf[code];
    this.details = options.details;
    this.retryable = options.retryable ?? (code === 'unavailable' || code === 'misconfigured' || code === 'throttled');
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.nextRetryDelayMs =
      options.nextRetryDelayMs ?? (options.retryAfterSeconds === undefined ? undefined : options.retryAfterSeconds * 1000);
  }

  /** Each problem of a `bad_request` or `invalid` input; shown to the caller as `error.details`. */
  readonly details: ProblemDetail[] | undefined;
  /** When the same call may succeed again (`throttled`): HTTP answers send it as `Retry-After`. */
  readonly retryAfterSeconds: number | undefined;
  /** The earliest a retry may succeed, when the failing service said so (Graph's or Key Vault's Retry-After). */
  readonly nextRetryDelayMs: number | undefined;
}

export const isAppError = (e: unknown, code?: ErrorCode): e is AppError => e instanceof AppError && (code === undefined || e.code === code);

/**
 * The first line of an error's message, cut to 300 characters, with anything token-shaped (JWTs, long opaque
 * strings) redacted: for logs, where a dependency's message could echo a credential.
 */
export function safeMessage(e: unknown): string {
  const first = String((e as Error)?.message ?? e)
    .split('\n')[0]
    .slice(0, 300);
  return first.replace(/eyJ[\w-]+\.[\w-]+\.[\w-]*/g, '[jwt]').replace(/[A-Za-z0-9_\-.~+/]{40,}/g, '[redacted]');
}
