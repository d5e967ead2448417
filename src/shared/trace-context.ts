import { randomFillSync } from 'node:crypto';

/**
 * W3C Trace Context level 1 (https://www.w3.org/TR/trace-context/#traceparent-header): `traceparent` is
 * `version-traceid-parentid-flags`, lower-case hex, version `00`; a trace id (32 hex) or parent id (16 hex) of all
 * zeros is invalid. A version above 00 may add fields after the flags ("-..."), which a level 1 reader ignores;
 * version `ff` is invalid. A header that fails these rules is ignored (the receiver starts a new trace), never an error.
 */
export interface TraceParent {
  traceId: string;
  /** The caller's span: the parent of ours. */
  parentId: string;
  /** Bit 0 (`01`): the caller sampled (recorded) its span. */
  sampled: boolean;
}

const HEADER = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ALL_ZEROS = /^0+$/;
const MAX_HEADER = 512;

export const isTraceId = (value: unknown): value is string =>
  typeof value === 'string' && /^[0-9a-f]{32}$/.test(value) && !ALL_ZEROS.test(value);
export const isSpanId = (value: unknown): value is string =>
  typeof value === 'string' && /^[0-9a-f]{16}$/.test(value) && !ALL_ZEROS.test(value);

/** The trace a `traceparent` value continues, or undefined when it is absent or not valid W3C Trace Context. */
export function parseTraceparent(value: unknown): TraceParent | undefined {
  if (typeof value !== 'string' || value.length > MAX_HEADER) return undefined;
  const m = HEADER.exec(value.trim());
  if (!m) return undefined;
  const [, version, traceId, parentId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff') return undefined;
  // Version 00 has exactly four fields; only a later version may append more.
  if (version === '00' && rest !== undefined) return undefined;
  if (!isTraceId(traceId) || !isSpanId(parentId)) return undefined;
  return { traceId, parentId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** A version 00 `traceparent` for the span `spanId` of trace `traceId`. */
export function formatTraceparent(traceId: string, spanId: string, sampled = true): string {
  if (!isTraceId(traceId)) throw new TypeError('not a W3C trace id');
  if (!isSpanId(spanId)) throw new TypeError('not a W3C span id');
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

// Random bytes drawn 4 KiB at a time, as crypto.randomUUID does: a span id per step, Graph call and token request
// made a randomBytes call (and its Buffer) per id a visible share of a step's CPU (npm run bench, step_overhead profile).
const pool = Buffer.alloc(4096);
let pooled = 0;

function randomHex(bytes: number): string {
  for (;;) {
    if (pooled < bytes) {
      randomFillSync(pool);
      pooled = pool.length;
    }
    const hex = pool.toString('hex', pool.length - pooled, pool.length - pooled + bytes);
    pooled -= bytes;
    if (!ALL_ZEROS.test(hex)) return hex;
  }
}

export const newTraceId = (): string => randomHex(16);
export const newSpanId = (): string => randomHex(8);

/** The first valid `traceparent` among `candidates` (in order of preference), or undefined: then a new trace starts. */
export function firstTraceparent(...candidates: unknown[]): TraceParent | undefined {
  for (const c of candidates) {
    const parsed = parseTraceparent(c);
    if (parsed) return parsed;
  }
  return undefined;
}
