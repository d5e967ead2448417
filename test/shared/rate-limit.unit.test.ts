import { RateLimiter } from '../../src/shared/rate-limit';

/** A clock the test moves by hand: no test here waits. */
const clock = () => {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};

describe('RateLimiter (token bucket per key)', () => {
  it('allows a burst of `limit`, then refuses saying when the next unit is there', () => {
    const c = clock();
    const limiter = new RateLimiter({ limit: 6, windowMs: 60_000, now: c.now });
    for (let i = 0; i < 6; i++) expect(limiter.take('t1')).toEqual({ allowed: true });
    expect(limiter.take('t1')).toEqual({ allowed: false, retryAfterMs: 10_000 });
    c.advance(4_000);
    expect(limiter.take('t1')).toEqual({ allowed: false, retryAfterMs: 6_000 });
    c.advance(6_000);
    expect(limiter.take('t1')).toEqual({ allowed: true });
    expect(limiter.take('t1')).toMatchObject({ allowed: false });
  });

  it('counts each key on its own', () => {
    const c = clock();
    const limiter = new RateLimiter({ limit: 1, windowMs: 60_000, now: c.now });
    expect(limiter.take('a')).toEqual({ allowed: true });
    expect(limiter.take('a')).toMatchObject({ allowed: false });
    expect(limiter.take('b')).toEqual({ allowed: true });
  });

  it('refills to the limit, never beyond it, however long a key was idle', () => {
    const c = clock();
    const limiter = new RateLimiter({ limit: 2, windowMs: 1_000, now: c.now });
    limiter.take('a');
    c.advance(3_600_000);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')].map((d) => d.allowed)).toEqual([true, true, false]);
  });

  it('keeps at most maxKeys keys, dropping refilled ones first', () => {
    const c = clock();
    const limiter = new RateLimiter({ limit: 1, windowMs: 1_000, now: c.now, maxKeys: 2 });
    limiter.take('old');
    c.advance(1_000); // 'old' has refilled: it carries no information any more
    limiter.take('busy');
    limiter.take('new');
    // 'busy' was kept (still empty), so it is still refused.
    expect(limiter.take('busy')).toMatchObject({ allowed: false });
  });

  it('refuses a limit below 1', () => {
    expect(() => new RateLimiter({ limit: 0, windowMs: 1_000 })).toThrow(/limit >= 1/);
  });
});
