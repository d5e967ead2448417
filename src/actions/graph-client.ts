/**
 * The only code that sends a connection's access token anywhere. Every request goes to a URL that is
 * proven to lie under GRAPH_BASE_URL (same origin and path prefix, graph-url.ts); redirects are refused rather than
 * followed, so the token never reaches another host.
 */
import { createHash } from 'node:crypto';
import { inSpan, SpanKind, traceparentOf, type SpanAttributes, type SpanRef } from '../shared/spans';
import { claimsChallengeOf } from '../tokens/claims-challenge';
import { ActionError } from './action';
import { defaultGraphRetryPolicy, type GraphRetryPolicy } from './graph-retry-policy';
import { parseGraphBase, refuse, resolveGraphUrl } from './graph-url';

export type GraphMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export { encodePathSegment, graphPath, parseGraphBase, pathSegmentProblem, resolveGraphUrl } from './graph-url';

export { defaultGraphRetryPolicy, type GraphRetryPolicy };

export interface GraphRequest {
  graphBaseUrl: string;
  accessToken: string;
  method: GraphMethod;
  /** Relative to the base, e.g. `/me` or `sites/x/lists/y/items/1/fields`; a query string is allowed. */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  idempotencyKey: string;
  signal?: AbortSignal;
  fetch?: typeof fetch;
  policy?: Partial<GraphRetryPolicy>;
  /**
   * Answers a claims challenge (Graph's 401 `insufficient_claims`, continuous access evaluation): gets an access
   * token with those claims (JSON text). Called at most once per request; the request is then repeated once with the
   * new token. Its failure (e.g. the grant needs a new sign-in) ends the request with that error, as thrown.
   */
  onClaimsChallenge?: (claims: string) => Promise<string>;
  /**
   * The calling span (a run's step): the request gets a span of its own as its child, sent as `traceparent` (W3C Trace
   * Context: the run's trace id, this call's span id), so Graph's side of the call joins the run's trace. A new trace
   * without one.
   */
  trace?: SpanRef;
  /** Ids to tag the call's span with (tenant, run, step, connection). */
  traceIds?: SpanAttributes;
}

const MAX_MESSAGE_LENGTH = 300;
/** Headers a caller must not set: they carry or steer credentials, or belong to this client. */
const RESERVED_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'host',
  'client-request-id',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'traceparent',
  'tracestate',
]);
/** RFC 6750 b64token: anything else could smuggle header syntax, and fetch would echo it in its error. */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const RETRYABLE = new Set([429, 503, 504]);
const IDEMPOTENT = new Set<GraphMethod>(['GET', 'PUT', 'PATCH', 'DELETE']);

const CLIENT_REQUEST_NAMESPACE = Buffer.from('6f3c1d2e8a4b4c5d9e0f1a2b3c4d5e6f', 'hex');

/**
 * A UUID (RFC 4122 version 5) derived from the step's idempotency key. Graph has no general idempotency
 * key; a stable client-request-id at least makes every retry of one step traceable in Graph's logs.
 */
export function clientRequestIdFor(idempotencyKey: string): string {
  const h = createHash('sha1').update(CLIENT_REQUEST_NAMESPACE).update(idempotencyKey, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date; undefined when absent or unusable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** A Graph-provided text made safe to record: one line, bounded, with anything token-like removed. */
export function sanitizeMessage(text: string, accessToken?: string): string {
  let s = text;
  if (accessToken) s = s.split(accessToken).join('[redacted]');
  s = s
    .replace(/eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g, '[redacted]')
    .replace(/\bBearer\s+\S+/gi, 'Bearer [redacted]')
    // eslint-disable-next-line no-control-regex -- finding control characters is this check's purpose
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return s.length > MAX_MESSAGE_LENGTH ? `${s.slice(0, MAX_MESSAGE_LENGTH)}…` : s;
}

function graphError(text: string): { code?: string; message?: string } {
  try {
    const error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    return {
      ...(typeof error?.code === 'string' ? { code: error.code } : {}),
      ...(typeof error?.message === 'string' ? { message: error.message } : {}),
    };
  } catch {
    return {};
  }
}

/**
 * Sends one Graph request with the access token and returns the parsed JSON body (undefined when the
 * answer has none or is not JSON). Throws ActionError: `permanent` for refusals, redirects and 4xx
 * (except 408/429), `transient` for 408/429/5xx, timeouts and network failures, with `retryAfterMs` when
 * Graph said how long to wait. 429/503/504 are first retried here within the policy's bounds.
 */
export async function graphRequest(request: GraphRequest): Promise<unknown> {
  const attributes: SpanAttributes = { ...request.traceIds, 'http.request.method': request.method };
  return inSpan(`Graph ${request.method}`, request.trace, attributes, (span) => sendGraphRequest(request, span.ref), SpanKind.CLIENT);
}

async function sendGraphRequest(request: GraphRequest, trace: SpanRef): Promise<unknown> {
  const policy: GraphRetryPolicy = { ...defaultGraphRetryPolicy, ...request.policy };
  const { method } = request;
  let { accessToken } = request;
  const url = resolveGraphUrl(request.graphBaseUrl, request.path);
  if (!BEARER_TOKEN.test(accessToken)) throw refuse('the access token is malformed');
  if (request.body !== undefined && method === 'GET') throw refuse('a GET request cannot have a body');

  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw refuse(`the header ${name} is set by the Graph client`);
    try {
      headers.set(name, value);
    } catch {
      throw refuse(`the header ${JSON.stringify(name)} has an invalid name or value`);
    }
  }
  headers.set('authorization', `Bearer ${accessToken}`);
  headers.set('client-request-id', clientRequestIdFor(request.idempotencyKey));
  headers.set('accept', 'application/json');
  headers.set('traceparent', traceparentOf(trace));
  let body: string | undefined;
  if (request.body !== undefined) {
    body = JSON.stringify(request.body);
    headers.set('content-type', 'application/json');
  }

  const what = `Graph ${method} ${url.pathname.slice(parseGraphBase(request.graphBaseUrl).prefix.length - 1)}`;
  const doFetch = request.fetch ?? fetch;
  let waitedMs = 0;
  let challengeAnswered = false;
  for (let attempt = 1; ; attempt++) {
    if (request.signal?.aborted) throw new ActionError('transient', `${what} was cancelled`);
    const timeout = AbortSignal.timeout(policy.timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    let status: number;
    let text: string;
    let response: Response;
    try {
      response = await doFetch(url, { method, headers, body, redirect: 'manual', signal });
      status = response.status;
      text = await response.text();
    } catch {
      // The fetch error itself is not recorded: its cause chain is not ours to vouch for.
      if (request.signal?.aborted) throw new ActionError('transient', `${what} was cancelled`);
      if (timeout.aborted) throw new ActionError('transient', `${what} got no answer within ${policy.timeoutMs} ms`);
      throw new ActionError('transient', `${what} failed: network error`);
    }

    if (response.type === 'opaqueredirect' || (status >= 300 && status < 400)) {
      throw new ActionError('permanent', `${what} answered with a redirect (HTTP ${status}); redirects are not followed`, { status });
    }
    if (status >= 200 && status < 300) {
      if (!text) return undefined;
      if (!/\bjson\b/i.test(response.headers.get('content-type') ?? '')) return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new ActionError('transient', `${what} returned malformed JSON (HTTP ${status})`, { status });
      }
    }

    const { code, message } = graphError(text);
    const detail = `${what} -> HTTP ${status}${code ? ` ${sanitizeMessage(code, accessToken)}` : ''}${
      message ? `: ${sanitizeMessage(message, accessToken)}` : ''
    }`;
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    const details = { status, ...(code ? { code: sanitizeMessage(code, accessToken) } : {}) };

    if (RETRYABLE.has(status)) {
      const waitMs = retryAfterMs ?? policy.defaultRetryAfterMs * attempt;
      // A 504 may mean the write happened; repeating a POST (sendMail) could do it twice.
      const mayRepeat = status !== 504 || IDEMPOTENT.has(method);
      if (!mayRepeat || attempt >= policy.maxAttempts || waitedMs + waitMs > policy.maxTotalWaitMs) {
        throw new ActionError('transient', detail, { ...details, retryAfterMs: waitMs });
      }
      try {
        await policy.sleep(waitMs, request.signal);
      } catch {
        throw new ActionError('transient', `${what} was cancelled`);
      }
      waitedMs += waitMs;
      continue;
    }
    if (status === 401) {
      const claims = claimsChallengeOf(response.headers.get('www-authenticate'));
      if (claims !== undefined && request.onClaimsChallenge && !challengeAnswered) {
        // The request was refused before Graph acted on it: repeating it once with a token that meets the claims is safe.
        challengeAnswered = true;
        const fresh = await request.onClaimsChallenge(claims);
        if (!BEARER_TOKEN.test(fresh)) throw refuse('the access token acquired for the claims challenge is malformed');
        accessToken = fresh;
        headers.set('authorization', `Bearer ${accessToken}`);
        attempt -= 1;
        continue;
      }
      if (claims !== undefined && challengeAnswered) {
        // Never a loop: a token acquired for the claims was refused again.
        throw new ActionError('permanent', `${detail} (a claims challenge remained after a token with those claims was acquired)`, details);
      }
    }
    if (status >= 500 || status === 408) {
      throw new ActionError('transient', detail, { ...details, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    }
    throw new ActionError('permanent', detail, details);
  }
}
