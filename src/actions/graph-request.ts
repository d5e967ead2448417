import { z } from 'zod';
import { boundedOutput, defineAction } from './action';
import { resolveGraphUrl } from './graph-client';

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
  placeholderContexts: () => ({ path: 'graphUrl' }),
  async execute(invocation, { method, path, body }) {
    const response = await invocation.graph.request({ method, path, body });
    const url = resolveGraphUrl(invocation.graph.graphBaseUrl, path);
    return { summary: `${method} ${url.pathname} succeeded`, output: boundedOutput(response) };
  },
});
