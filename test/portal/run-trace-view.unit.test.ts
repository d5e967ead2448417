import type { RecordedSpan } from '../../src/shared/recorded-spans';
import { waterfallRows } from '../../src/portal/run-trace-view';

const span = (spanId: string, parentSpanId: string | undefined, name: string, startMs: number, durationMs: number): RecordedSpan => ({
  spanId,
  ...(parentSpanId ? { parentSpanId } : {}),
  name,
  kind: 'internal',
  start: new Date(Date.UTC(2026, 11, 6, 5, 0, 0, startMs)).toISOString(),
  durationMs,
  status: 'ok',
  attributes: {},
});

test('rows put parents before children, siblings by start, and bars where the span ran within the trace', () => {
  const rows = waterfallRows([
    span('s2', 'c', 'step', 600, 400),
    span('g1', 's1', 'Graph PATCH', 150, 300),
    span('c', 'i', 'run creation', 50, 50),
    span('s1', 'c', 'step', 100, 400),
    span('i', 'request-outside-the-trace', 'event intake', 0, 100),
    span('t1', 's1', 'token acquisition', 100, 50),
  ]);
  expect(rows.map((r) => [r.span.name, r.depth])).toEqual([
    ['event intake', 0],
    ['run creation', 1],
    ['step', 2],
    ['token acquisition', 3],
    ['Graph PATCH', 3],
    ['step', 2],
  ]);
  // The trace runs 0..1000 ms: the second step starts at 60 % and takes 40 %.
  expect(rows[5]).toMatchObject({ offsetPct: 60, widthPct: 40 });
  expect(rows[4]).toMatchObject({ offsetPct: 15, widthPct: 30 });
  expect(waterfallRows([])).toEqual([]);
});
