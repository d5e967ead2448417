import { z } from 'zod';
import { boundedOutput, defineAction, type PlaceholderContexts } from './action';
import { resolveGraphUrl } from './graph-client';

const joinPath = (base: string, key: string | number) => (typeof key === 'number' ? `${base}[${key}]` : base ? `${base}.${key}` : key);

/** The locations (as templates.ts names them) of every string in an object whose `contentType` is html. */
export function htmlBesideContentType(inputs: unknown): PlaceholderContexts {
  const found: Record<string, 'html'> = {};
  const strings = (value: unknown, at: string, depth: number) => {
    if (depth > 32) return;
    if (typeof value === 'string') found[at] = 'html';
    else if (Array.isArray(value)) value.forEach((v, i) => strings(v, joinPath(at, i), depth + 1));
    else if (typeof value === 'object' && value !== null)
      for (const [k, v] of Object.entries(value)) strings(v, joinPath(at, k), depth + 1);
  };
  const visit = (value: unknown, at: string, depth: number) => {
    if (depth > 32 || typeof value !== 'object' || value === null) return;
    if (Array.isArray(value)) return value.forEach((v, i) => visit(v, joinPath(at, i), depth + 1));
    const entries = Object.entries(value);
    const html = entries.some(([k, v]) => k === 'contentType' && typeof v === 'string' && v.trim().toLowerCase() === 'html');
    for (const [k, v] of entries) {
      if (html && k !== 'contentType') strings(v, joinPath(at, k), depth + 1);
      else visit(v, joinPath(at, k), depth + 1);
    }
  };
  if (typeof inputs === 'object' && inputs !== null) visit((inputs as { body?: unknown }).body, 'body', 1);
  return found;
}

export const graphRequestAction = defineAction({
  name: 'graphRequest',
  description: 'Calls Microsoft Graph with a relative path under the Graph base (never another host).',
  inputs: z
    .object({
      method: z.enum(['GET', 'POST', 'PATCH', 'PUT', 'DELETE']),
      /** Relative to GRAPH_BASE_URL, e.g. `/me` or `/sites/{id}/lists`; checked again when sent. */
      path: z.string().min(1).max(2048),
      body: z.unknown().optional(),
    })
    .refine((i) => !(i.method === 'GET' && i.body !== undefined), { message: 'a GET request cannot have a body', path: ['body'] }),
  // Event values fill path segments and query values only: the template's text is the URL's only structure.
  // In a body, strings beside a `contentType` of html (any case, as Graph reads it: a message or event body) are HTML.
  placeholderContexts: (inputs) => ({ path: 'graphUrl', ...htmlBesideContentType(inputs) }),
  async execute(invocation, { method, path, body }) {
    const response = await invocation.graph.request({ method, path, body });
    const url = resolveGraphUrl(invocation.graph.graphBaseUrl, path);
    return { summary: `${method} ${url.pathname} succeeded`, output: boundedOutput(response) };
  },
});
