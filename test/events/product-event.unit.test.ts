import { occurredAtProblem, productEventSchema } from '../../src/events/product-event';
import { runIdFor, runIdPattern } from '../../src/runs/run-repository';

const now = new Date('2025-06-01T12:00:00Z');

describe('occurredAtProblem (frozen clock)', () => {
  it.each([
    ['2025-06-01T12:00:00Z'],
    ['2025-06-01T12:05:00Z'], // 5 minutes ahead: clock skew is tolerated
    ['2025-06-01T14:04:59+02:00'],
    ['2000-01-01T00:00:00Z'],
    ['2019-03-04T05:06:07.123Z'], // a late event is fine: it is data
  ])('accepts %s', (at) => expect(occurredAtProblem(at, now)).toBeUndefined());

  it.each([
    ['2025-06-01T12:05:00.001Z', /more than 5 minutes ahead of the time it is received \(2025-06-01T12:00:00.000Z\)/],
    ['2300-01-01T00:00:00Z', /ahead/],
    ['1999-12-31T23:59:59.999Z', /year 2000 or later/],
    ['1969-12-31T23:59:59Z', /year 2000 or later/],
    ['yesterday', /not a date/],
  ])('refuses %s', (at, why) => expect(occurredAtProblem(at, now)).toMatch(why));
});

describe('productEventSchema', () => {
  const event = {
    id: 'evt-1',
    type: 'ItemCreated',
    tenantId: 'a0c0a0c0-0000-4000-8000-00000000000a',
    occurredAt: new Date().toISOString(),
    subject: { siteId: 's', listId: 'l', itemId: 1 },
  };
  const issues = (e: unknown) => productEventSchema.safeParse(e).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);

  it('takes ids of letters, digits and . _ : - (GUIDs, product ids) up to 128 characters', () => {
    for (const id of ['evt-1', 'A.b_c:d-9', 'ab0c1d2e-0000-4000-8000-00000000000a', 'x'.repeat(128)])
      expect(issues({ ...event, id })).toBeUndefined();
  });

  it.each([['evt\n[error] keepalive: forged'], ['a\rb'], ['a\u2028b'], ["a' or 1 eq 1"], ['a/b'], ['a b'], ['ä'], ['']])(
    'refuses the id %j',
    (id) => {
      const found = issues({ ...event, id });
      expect(found?.length).toBeGreaterThan(0);
      expect(found!.every((i) => i.startsWith('id: '))).toBe(true);
    },
  );

  it('refuses unsafe ids in causedBy and implausible times', () => {
    expect(issues({ ...event, causedBy: { runId: 'r\nx', processId: 'p', depth: 1 } })).toEqual([
      expect.stringMatching(/^causedBy.runId: /),
    ]);
    expect(issues({ ...event, occurredAt: '2300-01-01T00:00:00Z' })).toEqual([
      expect.stringMatching(/^occurredAt: must not be more than 5 minutes ahead/),
    ]);
  });
});

describe('runIdFor', () => {
  const e = { tenantId: 'a0c0a0c0-0000-4000-8000-00000000000a', id: 'evt-1' };
  it('orders by the time the event was received, newest first, and is stable for one event and process', () => {
    const earlier = runIdFor(e, 'p', new Date('2025-06-01T12:00:00Z'));
    const later = runIdFor({ ...e, id: 'evt-2' }, 'p', new Date('2025-06-01T12:00:01Z'));
    expect(earlier).toMatch(runIdPattern);
    expect(later < earlier).toBe(true);
    expect(runIdFor(e, 'p', new Date('2025-06-01T12:00:00Z'))).toBe(earlier);
    expect(runIdFor(e, 'q', new Date('2025-06-01T12:00:00Z'))).not.toBe(earlier);
  });
});
