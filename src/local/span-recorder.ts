/**
 * The local instance records the app's spans in memory, so each run's trace can be served to the page
 * (`GET /api/runs/{id}/trace`) and read by tests, the same spans the Azure entry point exports to Application Insights
 * (functions/azure-telemetry.ts). One tracer provider per process, registered by the first stack; the newest
 * `maxTraces` traces are kept.
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { recordDependencySpans } from '../shared/dependency-spans';
import type { RecordedSpan, TraceReader } from '../shared/recorded-spans';

const kinds: Record<SpanKind, RecordedSpan['kind']> = {
  [SpanKind.INTERNAL]: 'internal',
  [SpanKind.SERVER]: 'server',
  [SpanKind.CLIENT]: 'client',
  [SpanKind.PRODUCER]: 'producer',
  [SpanKind.CONSUMER]: 'consumer',
};
const statuses: Record<SpanStatusCode, RecordedSpan['status']> = {
  [SpanStatusCode.UNSET]: 'unset',
  [SpanStatusCode.OK]: 'ok',
  [SpanStatusCode.ERROR]: 'error',
};

const ms = ([seconds, nanos]: [number, number]) => seconds * 1000 + nanos / 1e6;

export function toRecordedSpan(s: ReadableSpan): RecordedSpan {
  const parent = s.parentSpanContext?.spanId;
  return {
    spanId: s.spanContext().spanId,
    ...(parent ? { parentSpanId: parent } : {}),
    name: s.name,
    kind: kinds[s.kind],
    start: new Date(ms(s.startTime)).toISOString(),
    durationMs: Math.max(0, Math.round(ms(s.duration) * 1000) / 1000),
    status: statuses[s.status.code],
    attributes: Object.fromEntries(
      Object.entries(s.attributes).filter((e): e is [string, string | number | boolean] =>
        ['string', 'number', 'boolean'].includes(typeof e[1]),
      ),
    ),
  };
}

export class SpanRecorder implements SpanProcessor, TraceReader {
  private readonly traces = new Map<string, RecordedSpan[]>();

  constructor(
    private readonly maxTraces = 500,
    private readonly maxSpansPerTrace = 2000,
  ) {}

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    const traceId = span.spanContext().traceId;
    let spans = this.traces.get(traceId);
    if (!spans) {
      if (this.traces.size >= this.maxTraces) this.traces.delete(this.traces.keys().next().value!);
      this.traces.set(traceId, (spans = []));
    }
    if (spans.length < this.maxSpansPerTrace) spans.push(toRecordedSpan(span));
  }

  spansOf(traceId: string): RecordedSpan[] {
    return [...(this.traces.get(traceId) ?? [])].sort((a, b) => a.start.localeCompare(b.start));
  }

  /** Every recorded span `match` accepts, with its trace id (tests look for spans outside runs). */
  find(match: (span: RecordedSpan) => boolean): (RecordedSpan & { traceId: string })[] {
    return [...this.traces].flatMap(([traceId, spans]) => spans.filter(match).map((s) => ({ ...s, traceId })));
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

let recorder: SpanRecorder | undefined;

/**
 * The process's recorder, registered as the global tracer provider on first use. When a test registered a provider
 * of its own first, that one keeps the spans and this recorder stays empty.
 */
export function localSpanRecorder(): SpanRecorder {
  if (!recorder) {
    recorder = new SpanRecorder();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [recorder] }));
    recordDependencySpans();
  }
  return recorder;
}
