/**
 * The one syntax for where a problem is, in every error answer's `details[].path` (docs/api.md "Errors"):
 * - a body field as JavaScript writes the access from the body's root: `steps[0].permissions.executeAs`, `subject.itemId`,
 *   `data["list-name"]` for a key that is not an identifier; `''` for the body as a whole;
 * - a query parameter as `?limit`, a route parameter as `{id}` (neither can be read as a body path).
 * The 422 paths of process validation were already written this way; zod's issue paths (arrays) are formatted with it.
 */
export function bodyPath(segments: readonly PropertyKey[]): string {
  let path = '';
  for (const s of segments) {
    if (typeof s === 'number') path += `[${s}]`;
    else if (typeof s === 'string' && /^[A-Za-z_$][\w$]*$/.test(s)) path += path ? `.${s}` : s;
    else path += `[${JSON.stringify(String(s))}]`;
  }
  return path;
}

/** Validation issues (zod's, or any with a segment path) as the `details` of an error answer, paths in body syntax. */
export const bodyProblems = (issues: readonly { path: readonly PropertyKey[]; message: string }[]) =>
  issues.map((i) => ({ path: bodyPath(i.path), message: i.message }));

export const queryPath = (name: string): string => `?${name}`;
export const routePath = (name: string): string => `{${name}}`;
