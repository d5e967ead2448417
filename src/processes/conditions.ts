import type { Condition } from './process-definition';

const forbidden = new Set(['__proto__', 'prototype', 'constructor']);

// Paths come from a bounded set of published definitions; splitting them once per path (not per
// evaluation) was most of event matching's CPU time (npm run bench, event_matching).
const splitPaths = new Map<string, string[]>();
const segmentsOf = (path: string) => {
  let segments = splitPaths.get(path);
  if (!segments) {
    if (splitPaths.size > 10_000) splitPaths.clear();
    splitPaths.set(path, (segments = path.split('.')));
  }
  return segments;
};

/** Reads a path, already split into its keys, from plain data; never walks into prototypes. */
export function readSegments(scope: unknown, segments: readonly string[]): unknown {
  let value = scope;
  for (const key of segments) {
    if (forbidden.has(key) || value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Reads a dotted path from plain data; never walks into prototypes. */
export function readPath(scope: unknown, path: string): unknown {
  return readSegments(scope, segmentsOf(path));
}

// Loose only between present scalars: a missing value (undefined) must not equal the string "undefined".
const loose = (v: unknown) => v !== null && v !== undefined && typeof v !== 'object';
const same = (a: unknown, b: unknown) => a === b || (loose(a) && loose(b) && String(a) === String(b));

function holds(c: Condition, value: unknown): boolean {
  switch (c.op) {
    case 'exists':
      return (value !== undefined && value !== null) === (c.value === undefined ? true : Boolean(c.value));
    case 'eq':
      return same(value, c.value);
    case 'ne':
      return !same(value, c.value);
    case 'in':
      return Array.isArray(c.value) && c.value.some((v) => same(value, v));
  }
}

/** All conditions must hold (AND). Values compare by equality, numbers and strings loosely ("3" = 3). */
export function conditionsHold(conditions: readonly Condition[] | undefined, scope: unknown): boolean {
  return (conditions ?? []).every((c) => holds(c, readPath(scope, c.path)));
}

/**
 * `conditionsHold` for conditions that are evaluated many times (a published trigger against every event): the
 * paths are split once, here, instead of at each evaluation.
 */
export function compileConditions(conditions: readonly Condition[] | undefined): (scope: unknown) => boolean {
  const compiled = (conditions ?? []).map((c) => ({ c, segments: c.path.split('.') }));
  if (compiled.length === 0) return () => true;
  return (scope) => {
    for (const { c, segments } of compiled) if (!holds(c, readSegments(scope, segments))) return false;
    return true;
  };
}

/**
 * The lookup key under which a value equals others by this module's equality: present scalars compare by their
 * string form ("3" = 3), so that form is the key. Null, undefined, objects and arrays equal only themselves and have
 * no key: nothing read from an event can be identical to a value of a stored definition.
 */
export function equalityKey(value: unknown): string | undefined {
  return loose(value) ? String(value) : undefined;
}

/**
 * The values that make an `eq` or `in` condition hold, as equality keys: the condition holds exactly when the value
 * at its path has one of these keys. Undefined when the condition cannot be answered by a lookup (other operators,
 * or a value without a key, such as `eq: null`).
 */
export function equalityKeysOf(c: Condition): string[] | undefined {
  const values = c.op === 'eq' ? [c.value] : c.op === 'in' && Array.isArray(c.value) ? (c.value as unknown[]) : undefined;
  if (!values) return undefined;
  const keys = values.map(equalityKey);
  return keys.every((k) => k !== undefined) ? (keys as string[]) : undefined;
}

/** Whether a condition holds only where its path has a value (neither missing nor null): `exists` (true). */
export function requiresValue(c: Condition): boolean {
  return c.op === 'exists' && (c.value === undefined || Boolean(c.value));
}
