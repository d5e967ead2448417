import { SlidingWindowLimiter } from '../../src/shared/rate-limit';

test('allows `limit` events per key in any window, then says when the oldest leaves it', () => {
  let now = 1_000_000;
  const limiter = new SlidingWindowLimiter(3, 60_000, () => now);
  for (let i = 0; i < 3; i++, now += 10_000) expect(limiter.take('a').allowed).toBe(true);
  // now = +30 s: the first event leaves the window at +60 s.
  expect(limiter.take('a')).toEqual({ allowed: false, retryAfterMs: 30_000 });
  // Other keys have windows of their own; refused attempts are not counted.
  expect(limiter.take('b').allowed).toBe(true);
  now = 1_060_000;
  expect(limiter.take('a').allowed).toBe(true);
  expect(limiter.take('a')).toEqual({ allowed: false, retryAfterMs: 10_000 });
});

test('forgets idle keys once it holds too many', () => {
  let now = 0;
  const limiter = new SlidingWindowLimiter(1, 1000, () => now, 2);
  limiter.take('a');
  limiter.take('b');
  now = 5000;
  limiter.take('c');
  // a and b were idle and dropped; c keeps its event.
  expect(limiter.take('c').allowed).toBe(false);
  expect(limiter.take('a').allowed).toBe(true);
});

test('refuses a nonsensical limit', () => {
  expect(() => new SlidingWindowLimiter(0, 1000)).toThrow(RangeError);
});
