/**
 * Spans through the OpenTelemetry API only (`@opentelemetry/api`, a few KB): without a registered SDK every call is a
 * no-op, so src/ stays free of exporters; the Azure entry point or a test registers a tracer provider.
 *
 * The parent of each span is passed explicitly (a `SpanRef`) rather than taken from the active context: the API's
 * active context needs a context manager, which only an SDK installs, and the run's trace must continue across queue
 * messages anyway (the run row keeps its trace id). Without an SDK, `SpanRef`s still carry the run's trace id and a
 * fresh span id, so `traceparent` headers are right whether or not anything records them.
 *
 * Attributes name ids only (tenant, process, run, step, connection, event) and the account name; never tokens,
 * codes, assertions, form values or inputs.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Span } from '@opentelemetry/api';
import { formatTraceparent, isSpanId, isTraceId, newSpanId, newTraceId, type TraceParent } from './trace-context';

/** A span as the parent of others, or of a call to another service (`traceparent`). */
export interface SpanRef {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

export type SpanAttributes = Partial<
  Record<
    | 'tenant.id'
    | 'process.id'
    | 'process.version'
    | 'run.id'
    | 'step.id'
    | 'step.index'
    | 'connection.id'
    | 'account.name'
    | 'event.id'
    | 'event.type'
    | 'message.delivery_count'
    | 'token.source'
    | 'runs.started'
    | 'runs.not_started'
    | 'http.request.method'
    | 'http.response.status_code'
    | 'url.path',
    string | number | boolean
  >
>;

/** Attribute names get this prefix, so they never collide with OpenTelemetry's semantic conventions. */
const PREFIX = 'connections.';
const STANDARD = new Set(['http.request.method', 'http.response.status_code', 'url.path']);

export const tracerName = 'connections';

export interface ActiveSpan {
  /** This span, as the parent of child spans and of outgoing `traceparent`. */
  readonly ref: SpanRef;
  set(attributes: SpanAttributes): void;
}

const named = (attributes: SpanAttributes) =>
  Object.fromEntries(
    Object.entries(attributes)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [STANDARD.has(k) ? k : `${PREFIX}${k}`, v]),
  );

/** The caller's span from an incoming `traceparent`, as the parent of ours. */
export const remoteParent = (incoming: TraceParent | undefined): SpanRef | undefined =>
  incoming && { traceId: incoming.traceId, spanId: incoming.parentId, sampled: incoming.sampled };

/** The span that created a run, as the parent of its steps' spans (a new trace for runs stored before traces). */
export const runSpan = (run: { traceId?: string; traceSpanId?: string }): SpanRef | undefined =>
  isTraceId(run.traceId) && isSpanId(run.traceSpanId) ? { traceId: run.traceId, spanId: run.traceSpanId, sampled: true } : undefined;

/** The `traceparent` header value that makes the callee's span a child of `ref`. */
export const traceparentOf = (ref: SpanRef): string => formatTraceparent(ref.traceId, ref.spanId, ref.sampled);

function refOf(span: Span, parent: SpanRef | undefined): SpanRef {
  const c = span.spanContext();
  if (span.isRecording() && isTraceId(c.traceId) && isSpanId(c.spanId)) {
    return { traceId: c.traceId, spanId: c.spanId, sampled: (c.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED };
  }
  // Nothing records (no SDK, or not sampled): the trace still continues, with a span id of its own.
  return { traceId: parent?.traceId ?? newTraceId(), spanId: newSpanId(), sampled: parent?.sampled ?? false };
}

/**
 * The span whose work is running: set by `inSpan` for the calls `work` makes, so outgoing HTTP calls the app does not
 * wrap itself (MSAL's token endpoint, Key Vault, Tables, Service Bus) become its children (dependency-spans.ts).
 */
const running = new AsyncLocalStorage<SpanRef>();
export const currentSpan = (): SpanRef | undefined => running.getStore();
/** Runs `work` outside the current span: a queue delivery starts an invocation of its own, not part of the sender's span. */
export const outsideSpans = <T>(work: () => T): T => running.exit(work);

/** The OpenTelemetry context whose parent is `parent` (a new trace without one). */
export const contextOf = (parent: SpanRef | undefined) =>
  parent
    ? trace.setSpanContext(ROOT_CONTEXT, {
        traceId: parent.traceId,
        spanId: parent.spanId,
        traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
        isRemote: true,
      })
    : ROOT_CONTEXT;

/**
 * Runs `work` in a span named `name`, a child of `parent` (a new trace without one). The span ends when `work`
 * settles; a thrown error marks it failed with the error's class name only (messages may quote what callers sent).
 */
export async function inSpan<T>(
  name: string,
  parent: SpanRef | undefined,
  attributes: SpanAttributes,
  work: (span: ActiveSpan) => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  const span = trace.getTracer(tracerName).startSpan(name, { kind, attributes: named(attributes) }, contextOf(parent));
  const active: ActiveSpan = { ref: refOf(span, parent), set: (a) => span.setAttributes(named(a)) };
  try {
    const result = await running.run(active.ref, () => work(active));
    span.setStatus({ code: SpanStatusCode.OK });
    return result;
  } catch (e) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error)?.name ?? 'Error' });
    throw e;
  } finally {
    span.end();
  }
}

export { SpanKind };
