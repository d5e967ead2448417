import { occurredAtProblem, parseProductEvent, productEventSchema, quickProductEvent } from '../../src/events/product-event';
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

describe('parseProductEvent (a quick check for well-formed events, zod for everything else)', () => {
  const valid = () => ({
    id: 'evt-1',
    type: 'ItemCreated',
    tenantId: 'A0C0A0C0-0000-4000-8000-00000000000A',
    occurredAt: new Date(Date.now() - 60_000).toISOString(),
    subject: { siteId: 'contoso.sharepoint.com,site-1', listId: 'list-1', itemId: '7' },
    data: { contentType: 'Contract', nested: { a: [1, 2] } },
    causedBy: { runId: 'run-1', processId: 'p-1', depth: 2 },
    actor: { objectId: 'B0C0A0C0-0000-4000-8000-00000000000B' },
  });
  const guid = 'a0c0a0c0-0000-4000-8000-00000000000a';
  // Alternatives per field: some valid, most at or beyond a bound zod enforces. `undefined` removes the field.
  const strings = (max: number) => ['', 'x', 'x'.repeat(max), 'x'.repeat(max + 1), 'a b', 'a\nb', 'ä', 7, null, {}, undefined];
  const alternatives: Record<string, unknown[]> = {
    id: [...strings(128), 'A.b_c:d-9'],
    type: ['ItemUpdated', 'StageChanged', 'itemcreated', 'Other', '', 1, null, undefined],
    tenantId: [
      guid,
      guid.toUpperCase(),
      'a0c0a0c0-0000-4000-8000-00000000000',
      'a0c0a0c0-0000-0000-8000-00000000000a',
      '00000000-0000-0000-0000-000000000000',
      `${guid} `,
      'not-a-guid',
      1,
      null,
      undefined,
    ],
    occurredAt: [
      '2025-06-01T12:00:00Z',
      '2025-06-01T12:00:00.123456789+02:00',
      '2025-06-01T12:00:00',
      '2025-06-01T12:00Z',
      '2025-02-30T12:00:00Z',
      '2024-02-29T23:59:59-23:59',
      '2025-06-01T24:00:00Z',
      '2025-06-01 12:00:00Z',
      '1999-12-31T23:59:59Z',
      '2300-01-01T00:00:00Z',
      new Date(Date.now() + 10 * 60_000).toISOString(),
      'yesterday',
      0,
      undefined,
    ],
    subject: [
      { siteId: 's', listId: 'l', itemId: 1 },
      { siteId: 's', listId: 'l' },
      { siteId: 's', listId: 'l', itemId: 1, extra: 1 },
      [],
      null,
      's',
      undefined,
    ],
    'subject.siteId': strings(512),
    'subject.listId': strings(256),
    'subject.itemId': [...strings(128), 0, -0, 7, -1, 1.5, 2 ** 53, Number.MAX_SAFE_INTEGER, true],
    data: [{}, { a: null }, JSON.parse('{"__proto__":{"polluted":true},"b":1}'), [], null, 'text', 1, undefined],
    causedBy: [
      { runId: 'r', processId: 'p', depth: 1 },
      { runId: 'r', processId: 'p' },
      { runId: 'r', processId: 'p', depth: 1, x: 1 },
      null,
      'r',
      undefined,
    ],
    'causedBy.runId': strings(64),
    'causedBy.processId': strings(64),
    'causedBy.depth': [0, 1, 1000, 1001, 2.5, '3', null, undefined],
    actor: [{ objectId: guid }, {}, { objectId: guid, name: 'x' }, null, guid, undefined],
    'actor.objectId': [guid, 'svc@contoso', '', null, undefined],
    extra: ['anything', undefined],
  };
  const withValue = (event: Record<string, unknown>, path: string, value: unknown) => {
    const [head, tail] = path.split('.');
    const target = tail ? event[head] : event;
    if (target === null || typeof target !== 'object') return;
    const key = tail ?? head;
    if (value === undefined) delete (target as Record<string, unknown>)[key];
    else (target as Record<string, unknown>)[key] = value;
  };
  const cases: unknown[] = [valid()];
  for (const [path, values] of Object.entries(alternatives)) {
    for (const value of values) {
      const event = valid();
      withValue(event, path, value);
      cases.push(event);
    }
  }
  // Pairs, for interactions between fields (seeded, so a failure repeats).
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const paths = Object.keys(alternatives);
  for (let i = 0; i < 400; i++) {
    const event = valid();
    for (let k = 0; k < 2; k++) {
      const path = paths[Math.floor(random() * paths.length)];
      withValue(event, path, alternatives[path][Math.floor(random() * alternatives[path].length)]);
    }
    cases.push(event);
  }
  cases.push(null, 'evt', [], 42, JSON.parse(JSON.stringify(valid())));

  test('answers exactly what the schema answers: the verdict, the parsed event (key order included) and the messages', () => {
    let accepted = 0;
    for (const input of cases) {
      const expected = productEventSchema.safeParse(input);
      const actual = parseProductEvent(input);
      expect({ input, success: actual.success }).toEqual({ input, success: expected.success });
      if (expected.success) {
        accepted++;
        expect(JSON.stringify(actual.data)).toBe(JSON.stringify(expected.data));
        expect(actual.data).toEqual(expected.data);
      } else {
        // The two checks ran a few milliseconds apart: a too-late time's message names the clock of each.
        const atReceipt = (issues: unknown) => JSON.stringify(issues).replace(/received \([^)]*\)/g, 'received (now)');
        expect(atReceipt(actual.error?.issues)).toEqual(atReceipt(expected.error.issues));
      }
    }
    expect(accepted).toBeGreaterThan(50);
    expect(cases.length - accepted).toBeGreaterThan(100);
  });

  test('the quick check refuses everything the schema refuses, and takes the well-formed events', () => {
    for (const input of cases) {
      if (quickProductEvent(input) !== undefined)
        expect({ input, zod: productEventSchema.safeParse(input).success }).toEqual({ input, zod: true });
    }
    const plain = valid();
    expect(quickProductEvent(plain)).toEqual(productEventSchema.parse(plain));
    const { causedBy: _c, actor: _a, data: _d, ...minimal } = valid();
    expect(quickProductEvent({ ...minimal, subject: { ...minimal.subject, itemId: 42 } })).toEqual(
      productEventSchema.parse({ ...minimal, subject: { ...minimal.subject, itemId: 42 } }),
    );
  });
});
