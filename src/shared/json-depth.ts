/**
 * Nesting of free JSON values (event data, step inputs, condition values). Parsing deep JSON is cheap, but every
 * recursive walk of it afterwards (JSON.stringify, structuredClone, validation) overflows the stack somewhere
 * between 4,000 and 4,500 levels and throws `RangeError`: a request would answer 500, a run would never run. Every
 * free value is bounded where it enters, at the depth templates already stop at.
 */
export const maxJsonDepth = 32;

/** Whether `value` nests objects/arrays deeper than `max` levels (`{a: 1}` is one level); iterative, so any depth is safe. */
export function nestsDeeperThan(value: unknown, max = maxJsonDepth): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [v, depth] = pending.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) pending.push([child, depth + 1]);
  }
  return false;
}

/** A zod `superRefine` check for a free JSON value. */
export function boundedNesting(value: unknown, ctx: { addIssue(issue: { code: 'custom'; message: string }): void }): void {
  if (nestsDeeperThan(value)) ctx.addIssue({ code: 'custom', message: `nests deeper than ${maxJsonDepth} levels` });
}
