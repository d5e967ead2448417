import { ActionError } from './action';

/**
 * Where a Graph request may go: only under GRAPH_BASE_URL (same origin and path prefix), with values placed as whole
 * path segments. graph-client.ts sends a token only to a URL these proofs accept.
 */

const MAX_PATH_LENGTH = 2048;

/** A request refused before it is sent: permanent (retrying cannot change the URL). */
export const refuse = (message: string) => new ActionError('permanent', `Refused Graph request: ${message}`);

/** Origin and path prefix (always ending in `/`) of a GRAPH_BASE_URL. */
export function parseGraphBase(graphBaseUrl: string): { origin: string; prefix: string } {
  let base: URL;
  try {
    base = new URL(graphBaseUrl);
  } catch {
    throw refuse('the Graph base URL is not a URL');
  }
  if ((base.protocol !== 'https:' && base.protocol !== 'http:') || base.username || base.password || base.search || base.hash) {
    throw refuse('the Graph base URL must be http(s) without credentials, query or fragment');
  }
  return { origin: base.origin, prefix: base.pathname.endsWith('/') ? base.pathname : `${base.pathname}/` };
}

/**
 * The absolute URL for `path` under the Graph base, or an ActionError when `path` could end up anywhere
 * else. The syntactic checks give clear reasons; the final origin/prefix check is the guarantee.
 */
export function resolveGraphUrl(graphBaseUrl: string, path: string): URL {
  const { origin, prefix } = parseGraphBase(graphBaseUrl);
  if (typeof path !== 'string' || path.length === 0) throw refuse('the path is empty');
  if (path.length > MAX_PATH_LENGTH) throw refuse(`the path is longer than ${MAX_PATH_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex -- finding control characters is this check's purpose
  if (/[\u0000-\u001f\u007f]/.test(path)) throw refuse('the path contains control characters (CR, LF, tab, ...)');
  if (path.includes('\\')) throw refuse('the path contains a backslash');
  if (path.includes('#')) throw refuse('the path contains a fragment (#)');
  if (/^[a-z][a-z0-9+.-]*:/i.test(path)) throw refuse('the path must be relative to the Graph base, not an absolute URL');
  if (path.startsWith('//')) throw refuse('the path must not start with // (another host)');

  const queryAt = path.indexOf('?');
  const pathPart = queryAt === -1 ? path : path.slice(0, queryAt);
  if (/\s/.test(pathPart)) throw refuse('the path contains whitespace; percent-encode it');
  if (/%(2e|2f|5c|25|00)/i.test(pathPart)) throw refuse('the path contains an encoded dot, slash, backslash, percent or NUL');
  const segments = pathPart.replace(/^\//, '').split('/');
  if (segments.some((s) => s === '.' || s === '..')) throw refuse('the path contains . or .. segments');
  if (segments.some((s) => s === '')) throw refuse('the path contains an empty segment (//)');

  // Concatenated, not resolved against the base: the authority is fixed before `path` starts.
  const url = new URL(`${origin}${prefix}${path.replace(/^\//, '')}`);
  if (url.origin !== origin || url.username || url.password || !url.pathname.startsWith(prefix) || url.pathname === prefix) {
    throw refuse('the path does not stay under the Graph base');
  }
  return url;
}

/**
 * Why a value cannot be one segment of a Graph URL path, or undefined. `/` and `\` add segments, `?` and `#` start a
 * query or fragment, `%` would be decoded as an escape, `:` switches Graph to path-based addressing
 * (`/sites/{host}:/{path}:`, `/drive/root:/{path}:`), `(` `)` `'` make OData function calls and keys
 * (`getByPath('...')`), `.` and `..` are relative segments; control characters are never part of an id.
 */
const SEGMENT_BREAKERS: Record<string, string> = {
  '/': 'would add a path segment',
  '\\': 'would add a path segment',
  '?': 'would start a query',
  '#': 'would start a fragment',
  '%': 'would be decoded as a percent escape',
  ':': 'would switch Graph to path-based addressing',
  '(': 'would make an OData function call or key',
  ')': 'would make an OData function call or key',
  "'": 'would make an OData function call or key',
};

export function pathSegmentProblem(value: string): string | undefined {
  if (value === '.' || value === '..') return 'is a relative path segment (. or ..)';
  // eslint-disable-next-line no-control-regex -- finding control characters is this check's purpose
  const bad = /[/\\?#%:()'\u0000-\u001f\u007f]/u.exec(value);
  if (!bad) return undefined;
  return `contains ${JSON.stringify(bad[0])}, which ${SEGMENT_BREAKERS[bad[0]] ?? 'is a control character'}`;
}

/** Percent-encodes one path segment, keeping the `,` and `@` Graph ids are written with (as `graphPath` does). */
export const encodePathSegment = (value: string): string => encodeURIComponent(value).replace(/%2C/gi, ',').replace(/%40/gi, '@');

/**
 * Encodes values for a Graph path (`graphPath\`/sites/${siteId}\``): each value is one segment (or part of one); a
 * value that would give the path structure is refused (see pathSegmentProblem).
 */
export function graphPath(strings: TemplateStringsArray, ...values: (string | number)[]): string {
  return strings.reduce((acc, s, i) => {
    if (i === 0) return s;
    const value = String(values[i - 1]);
    const problem = pathSegmentProblem(value);
    if (problem) throw refuse(`a value for the path ${problem}`);
    return acc + encodePathSegment(value) + s;
  }, '');
}
