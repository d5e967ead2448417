import { defaultStepRetry, nextStepRetry, type RetriesSoFar } from '../../../src/runs/core/retry-schedule';

/** Jitter frozen at its top: the delay is the ceiling. */
const ceiling = () => 1 - Number.EPSILON;
const policy = { firstDelayMs: 30_000, maxDelayMs: 15 * 60_000, maxTotalMs: 120 * 60_000 };
const t0 = new Date('2026-11-28T10:00:00.000Z');
const at = (ms: number) => new Date(t0.getTime() + ms);
const reason = 'Sign-in service temporarily unavailable (HTTP 503).';

describe('nextStepRetry: scheduled retries of a step that failed transiently', () => {
  test('the first failure starts the clock and schedules retry 1 after the first delay', () => {
    const d = nextStepRetry(policy, undefined, t0, reason, { random: ceiling });
    expect(d).toEqual({ kind: 'retry', attempt: 1, at: at(30_000), since: t0.toISOString() });
  });

  test('delays double per retry up to the cap, counted from the time of each failure', () => {
    const delays: number[] = [];
    let soFar: RetriesSoFar | undefined;
    let now = t0;
    for (let i = 0; i < 8; i++) {
      const d = nextStepRetry(policy, soFar, now, reason, { random: ceiling });
      if (d.kind !== 'retry') throw new Error('gave up too early');
      delays.push(Math.round((d.at.getTime() - now.getTime()) / 1000));
      soFar = { attempt: d.attempt, since: d.since };
      now = d.at;
    }
    expect(delays).toEqual([30, 60, 120, 240, 480, 900, 900, 900]);
  });

  test('each delay is jittered between half its ceiling and all of it', () => {
    const low = nextStepRetry(policy, { attempt: 1, since: t0.toISOString() }, t0, reason, { random: () => 0 });
    const high = nextStepRetry(policy, { attempt: 1, since: t0.toISOString() }, t0, reason, { random: ceiling });
    expect(low).toMatchObject({ kind: 'retry', attempt: 2, at: at(30_000) });
    expect(high).toMatchObject({ kind: 'retry', attempt: 2, at: at(60_000) });
  });

  test("a service's Retry-After longer than the backoff is honoured", () => {
    const d = nextStepRetry(policy, undefined, t0, reason, { random: ceiling, notBeforeMs: 90_000 });
    expect(d).toMatchObject({ kind: 'retry', attempt: 1, at: at(90_000) });
  });

  test('the last retry is moved to the end of the budget, never beyond it', () => {
    const d = nextStepRetry(policy, { attempt: 9, since: t0.toISOString() }, at(119 * 60_000), reason, { random: ceiling });
    expect(d).toEqual({ kind: 'retry', attempt: 10, at: at(120 * 60_000), since: t0.toISOString() });
  });

  test('once the budget is spent it gives up, saying how long and how often it tried and why', () => {
    const d = nextStepRetry(policy, { attempt: 11, since: t0.toISOString() }, at(120 * 60_000), reason, { random: ceiling });
    expect(d).toEqual({ kind: 'give-up', reason: `Gave up after 12 tries over 120 min: ${reason}` });
  });

  test('a 20-minute outage is ridden out by a handful of retries with the default policy, however the jitter falls', () => {
    for (const random of [() => 0, ceiling]) {
      let soFar: RetriesSoFar | undefined;
      let now = t0;
      let retries = 0;
      while (now.getTime() < at(20 * 60_000).getTime()) {
        const d = nextStepRetry(defaultStepRetry, soFar, now, reason, { random });
        if (d.kind !== 'retry') throw new Error(`gave up during the outage: ${d.reason}`);
        soFar = { attempt: d.attempt, since: d.since };
        now = d.at;
        retries++;
      }
      expect(retries).toBeGreaterThanOrEqual(3);
      expect(retries).toBeLessThanOrEqual(10);
    }
  });
});
