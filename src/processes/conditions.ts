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

/** Reads a dotted path from plain data; never walks into prototypes. */
export function readPath(scope: unknown, path: string): unknown {
  let value = scope;
  for (const key of segmentsOf(path)) {
    if (forbidden.has(key) || value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

// Loose only between present scalars: a missing value (undefined) must not equal the string "undefined".
const loose = (v: unknown) => v !== null && v !== undefined && typeof v !== 'object';
const same = (a: unknown, b: unknown) => a === b || (loose(a) && loose(b) && String(a) === String(b));

/** All conditions must hold (AND). Values compare by equality, numbers and strings loosely ("3" = 3). */
export function conditionsHold(conditions: readonly Condition[] | undefined, scope: unknown): boolean {
  return (conditions ?? []).every((c) => {
    const value = readPath(scope, c.path);
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
  });
}
