import { z } from 'zod';
import { boundedOutput, defineAction, runMarkerHeaders } from './action';
import { graphRequest, resolveGraphUrl } from './graph-client';

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
  // Event values fill path segments and query values only: the template's text is the URL's only structure (issue 12).
  placeholderContexts: () => ({ path: 'graphUrl' }),
  async execute(invocation, { method, path, body }) {
    const response = await graphRequest({
      graphBaseUrl: invocation.graphBaseUrl,
      accessToken: invocation.accessToken,
      method,
      path,
      body,
      headers: runMarkerHeaders(invocation.causedBy),
      idempotencyKey: invocation.idempotencyKey,
      signal: invocation.signal,
      fetch: invocation.fetch,
      onClaimsChallenge: invocation.answerClaimsChallenge,
      policy: invocation.graphPolicy,
      trace: invocation.trace,
      traceIds: invocation.traceIds,
    });
    const url = resolveGraphUrl(invocation.graphBaseUrl, path);
    return { summary: `${method} ${url.pathname} succeeded`, output: boundedOutput(response) };
  },
});
