/**
 * A person behind an API call, as the verified access token names them (src/http/admin-auth.ts). `tenantId` scopes
 * everything the call may touch; `username` goes into audits and run records.
 */
export interface User {
  tenantId: string;
  objectId: string;
  username: string;
}

/**
 * The caller's own access token for this API, kept for the On-Behalf-Of exchange (user processes). Wrapped so that
 * it cannot end up in a log line, an answer or a row by accident: JSON, string conversion and `util.inspect` all
 * show a placeholder; only `reveal()` gives the token, and only the token code calls it.
 */
export class UserAssertion {
  readonly #token: string;

  constructor(
    token: string,
    /** The token's `exp`: after it, Entra no longer exchanges it (AADSTS500133). */
    readonly expiresAt: Date,
  ) {
    this.#token = token;
  }

  reveal(): string {
    return this.#token;
  }

  toJSON(): string {
    return '[user assertion]';
  }

  toString(): string {
    return '[user assertion]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[user assertion]';
  }
}

/** A verified caller: who they are, whether they hold the admin role, and their token for On-Behalf-Of. */
export interface Caller {
  user: User;
  isAdmin: boolean;
  assertion: UserAssertion;
}
