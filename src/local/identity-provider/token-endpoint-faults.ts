/**
 * Fault injection at the local identity provider's token endpoint (LOCAL ONLY): what POST /local/faults accepts,
 * validated with one schema, and the rule by which a set fault answers the next token requests.
 */
import { z } from 'zod';
import { HttpError, isJsonObject } from '../http-helpers';
import { ENTRA_ERROR_CODES } from './entra-token-errors';

/**
 * `retryAfterSeconds` adds a Retry-After header, which MSAL honours by replaying the error without calling.
 * `aadsts` answers exactly as Entra does for that code (entra-token-errors.ts), e.g. 7000222 (client secret expired).
 * `count` limits the fault to that many token requests (all until cleared when omitted); `'down'` resets connections.
 */
export type TokenEndpointFault =
  null | 'down' | { status: number; count?: number; retryAfterSeconds?: number } | { aadsts: number; count?: number };

const SHAPES = "tokenEndpoint must be null, 'down', {status: 400-599, count?, retryAfterSeconds?} or {aadsts, count?}";

const integerAtLeast = (min: number, message: string) => z.number({ error: message }).int({ error: message }).min(min, { error: message });
const count = integerAtLeast(1, 'count must be a positive integer').optional();

const aadstsFault = z.object({
  aadsts: z
    .number({ error: `aadsts must be one of ${ENTRA_ERROR_CODES.join(', ')}` })
    .refine((code) => ENTRA_ERROR_CODES.includes(code), { error: `aadsts must be one of ${ENTRA_ERROR_CODES.join(', ')}` }),
  count,
});

const statusFault = z.object({
  status: z.number().int().min(400).max(599),
  count,
  retryAfterSeconds: integerAtLeast(0, 'retryAfterSeconds must be a non-negative integer').optional(),
});

/** The fault a POST /local/faults body's `tokenEndpoint` asks for; HttpError 400 naming what is wrong otherwise. */
export function parseTokenEndpointFault(value: unknown): TokenEndpointFault {
  if (value === null || value === undefined) return null;
  if (value === 'down') return 'down';
  if (!isJsonObject(value)) throw new HttpError(400, SHAPES);
  // An object naming `aadsts` is an Entra error fault, whatever else it holds.
  const parsed = 'aadsts' in value ? aadstsFault.safeParse(value) : statusFault.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new HttpError(400, issue?.path[0] === 'status' ? SHAPES : (issue?.message ?? SHAPES));
}

/** The token endpoint's current fault: set by /local/faults, used up one request at a time when it has a count. */
export class TokenEndpointFaults {
  private current: TokenEndpointFault = null;

  set(fault: TokenEndpointFault): TokenEndpointFault {
    this.current = fault;
    return fault;
  }

  /** The fault that answers this token request (null: none), counting it against the fault's `count`. */
  take(): Exclude<TokenEndpointFault, null> | null {
    const active = this.current;
    if (active && active !== 'down' && active.count !== undefined && --active.count <= 0) this.current = null;
    return active;
  }
}
