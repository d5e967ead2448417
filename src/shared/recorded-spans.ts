import { z } from 'zod';

/** One finished span as the page's run view draws it (a waterfall row): ids, name, timing, status, the ids it names. */
export const recordedSpanSchema = z.strictObject({
  spanId: z.string(),
  parentSpanId: z.string().optional(),
  name: z.string(),
  kind: z.enum(['internal', 'server', 'client', 'producer', 'consumer']),
  /** ISO time the span started. */
  start: z.iso.datetime(),
  durationMs: z.number().nonnegative(),
  status: z.enum(['unset', 'ok', 'error']),
  /** The span's attributes: ids, account names, HTTP method, status and host + path; never tokens or bodies (spans.ts). */
  attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
});
export type RecordedSpan = z.infer<typeof recordedSpanSchema>;

/** Where a run's spans can be read back: the local instance records them; in Azure they are in Application Insights. */
export interface TraceReader {
  /** The finished spans of a trace, oldest first (empty when none were recorded, or they were evicted). */
  spansOf(traceId: string): RecordedSpan[];
}
