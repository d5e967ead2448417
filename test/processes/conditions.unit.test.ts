import { conditionsHold, readPath } from '../../src/processes/conditions';
import type { Condition } from '../../src/processes/process-definition';

/** The scope triggers and step conditions are evaluated against: `{ event }`. */
const scope = {
  event: {
    type: 'ItemCreated',
    subject: { siteId: 'site-1', listId: 'list-1', itemId: '7' },
    data: { stage: 'Draft', count: 3, urgent: false, none: null, tags: ['a'], nested: { deep: { value: 'x' } } },
  },
};
const holds = (...conditions: Condition[]) => conditionsHold(conditions, scope);

describe('readPath', () => {
  test('reads own data along a dotted path', () => {
    expect(readPath(scope, 'event.data.nested.deep.value')).toBe('x');
    expect(readPath(scope, 'event.subject.itemId')).toBe('7');
    expect(readPath(scope, 'event.data.tags')).toEqual(['a']);
  });

  test('answers undefined for missing keys, and for walking through null or primitives', () => {
    expect(readPath(scope, 'event.data.missing')).toBeUndefined();
    expect(readPath(scope, 'event.data.none.deeper')).toBeUndefined();
    expect(readPath(scope, 'event.data.stage.length')).toBeUndefined();
    expect(readPath(null, 'event')).toBeUndefined();
  });

  test('never walks into prototypes, whatever the path names', () => {
    for (const path of ['event.__proto__', 'event.constructor', 'event.data.toString', 'event.data.hasOwnProperty', 'event.prototype']) {
      expect(readPath(scope, path)).toBeUndefined();
    }
    // Even an own property with a forbidden name is not read.
    const own = JSON.parse('{"event":{"__proto__":{"x":1},"constructor":"c"}}') as unknown;
    expect(readPath(own, 'event.__proto__.x')).toBeUndefined();
    expect(readPath(own, 'event.constructor')).toBeUndefined();
  });
});

describe('conditionsHold', () => {
  test('no conditions (absent or empty) hold', () => {
    expect(conditionsHold(undefined, scope)).toBe(true);
    expect(conditionsHold([], scope)).toBe(true);
  });

  test('eq compares strings and numbers loosely ("3" = 3), everything else strictly', () => {
    expect(holds({ path: 'event.data.stage', op: 'eq', value: 'Draft' })).toBe(true);
    expect(holds({ path: 'event.data.stage', op: 'eq', value: 'draft' })).toBe(false);
    expect(holds({ path: 'event.data.count', op: 'eq', value: '3' })).toBe(true);
    expect(holds({ path: 'event.subject.itemId', op: 'eq', value: 7 })).toBe(true);
    expect(holds({ path: 'event.data.urgent', op: 'eq', value: false })).toBe(true);
    expect(holds({ path: 'event.data.urgent', op: 'eq', value: 'false' })).toBe(true);
    expect(holds({ path: 'event.data.none', op: 'eq', value: null })).toBe(true);
    // null never equals its string form, and objects only equal themselves.
    expect(holds({ path: 'event.data.none', op: 'eq', value: 'null' })).toBe(false);
    expect(holds({ path: 'event.data.tags', op: 'eq', value: ['a'] })).toBe(false);
    // A missing value is not the string "undefined" (it was, before this test).
    expect(holds({ path: 'event.data.missing', op: 'eq', value: 'undefined' })).toBe(false);
    expect(holds({ path: 'event.data.missing', op: 'ne', value: 'undefined' })).toBe(true);
  });

  test('ne is the negation of eq, so a missing value is "not equal"', () => {
    expect(holds({ path: 'event.data.stage', op: 'ne', value: 'Done' })).toBe(true);
    expect(holds({ path: 'event.data.stage', op: 'ne', value: 'Draft' })).toBe(false);
    expect(holds({ path: 'event.data.count', op: 'ne', value: '3' })).toBe(false);
    expect(holds({ path: 'event.data.missing', op: 'ne', value: 'x' })).toBe(true);
  });

  test('in holds when any listed value equals; a value that is not a list never holds', () => {
    expect(holds({ path: 'event.data.stage', op: 'in', value: ['Review', 'Draft'] })).toBe(true);
    expect(holds({ path: 'event.data.count', op: 'in', value: ['1', '3'] })).toBe(true);
    expect(holds({ path: 'event.data.stage', op: 'in', value: ['Review'] })).toBe(false);
    expect(holds({ path: 'event.data.stage', op: 'in', value: [] })).toBe(false);
    expect(holds({ path: 'event.data.stage', op: 'in', value: 'Draft' })).toBe(false);
  });

  test('exists: present and not null; value false asks for absence', () => {
    expect(holds({ path: 'event.data.stage', op: 'exists' })).toBe(true);
    expect(holds({ path: 'event.data.urgent', op: 'exists' })).toBe(true); // false is a value
    expect(holds({ path: 'event.data.none', op: 'exists' })).toBe(false);
    expect(holds({ path: 'event.data.missing', op: 'exists' })).toBe(false);
    expect(holds({ path: 'event.data.missing', op: 'exists', value: false })).toBe(true);
    expect(holds({ path: 'event.data.stage', op: 'exists', value: false })).toBe(false);
    expect(holds({ path: 'event.data.stage', op: 'exists', value: true })).toBe(true);
  });

  test('all conditions must hold (AND)', () => {
    const stageDraft: Condition = { path: 'event.data.stage', op: 'eq', value: 'Draft' };
    expect(holds(stageDraft, { path: 'event.data.count', op: 'eq', value: 3 })).toBe(true);
    expect(holds(stageDraft, { path: 'event.data.count', op: 'eq', value: 4 })).toBe(false);
    expect(holds({ path: 'event.data.count', op: 'eq', value: 4 }, stageDraft)).toBe(false);
  });
});
