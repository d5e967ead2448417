import { firstTraceparent, formatTraceparent, newSpanId, newTraceId, parseTraceparent } from '../../src/shared/trace-context';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const parentId = '00f067aa0ba902b7';

test('a W3C traceparent gives its trace id, parent id and sampled flag', () => {
  expect(parseTraceparent(`00-${traceId}-${parentId}-01`)).toEqual({ traceId, parentId, sampled: true });
  expect(parseTraceparent(`00-${traceId}-${parentId}-00`)).toEqual({ traceId, parentId, sampled: false });
  // Only bit 0 is "sampled"; other flag bits are kept out of it.
  expect(parseTraceparent(`00-${traceId}-${parentId}-02`)?.sampled).toBe(false);
});

test('a later version is read as level 1, extra fields after the flags ignored', () => {
  expect(parseTraceparent(`01-${traceId}-${parentId}-01-what-comes-next`)).toEqual({ traceId, parentId, sampled: true });
});

test.each([
  ['all-zero trace id', `00-${'0'.repeat(32)}-${parentId}-01`],
  ['all-zero parent id', `00-${traceId}-${'0'.repeat(16)}-01`],
  ['version ff', `ff-${traceId}-${parentId}-01`],
  ['upper-case hex', `00-${traceId.toUpperCase()}-${parentId}-01`],
  ['short trace id', `00-${traceId.slice(1)}-${parentId}-01`],
  ['version 00 with an extra field', `00-${traceId}-${parentId}-01-extra`],
  ['a line break', `00-${traceId}-${parentId}-01\nforged`],
  ['garbage', 'not a traceparent'],
  ['empty', ''],
  ['too long', `01-${traceId}-${parentId}-01-${'a'.repeat(600)}`],
])('an invalid traceparent (%s) is ignored, not an error', (_why, value) => {
  expect(parseTraceparent(value)).toBeUndefined();
});

test('non-strings are ignored', () => {
  expect(parseTraceparent(undefined)).toBeUndefined();
  expect(parseTraceparent(42)).toBeUndefined();
  expect(parseTraceparent({ traceId })).toBeUndefined();
});

test('formatting gives version 00 and round-trips', () => {
  const t = newTraceId();
  const s = newSpanId();
  expect(t).toMatch(/^[0-9a-f]{32}$/);
  expect(s).toMatch(/^[0-9a-f]{16}$/);
  expect(formatTraceparent(t, s)).toBe(`00-${t}-${s}-01`);
  expect(parseTraceparent(formatTraceparent(t, s, false))).toEqual({ traceId: t, parentId: s, sampled: false });
  expect(() => formatTraceparent('0'.repeat(32), s)).toThrow();
  expect(() => formatTraceparent(t, 'xyz')).toThrow();
});

test('the first valid candidate wins; none valid means a new trace', () => {
  expect(firstTraceparent('bad', undefined, `00-${traceId}-${parentId}-01`)?.traceId).toBe(traceId);
  expect(firstTraceparent('bad', undefined)).toBeUndefined();
});
