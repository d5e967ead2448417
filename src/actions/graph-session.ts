import type { SpanAttributes, SpanRef } from '../shared/spans';
import { runMarkerHeaders, type GraphSession, type RunCause } from './action';
import { graphPath, graphRequest, type GraphRetryPolicy } from './graph-client';

/** What a step's Graph session is bound to: the executing identity's token and everything every call carries. */
export interface GraphSessionOptions {
  /** GRAPH_BASE_URL, e.g. https://graph.microsoft.com/v1.0 */
  graphBaseUrl: string;
  /** Delegated access token of the executing identity (a connection, or the user On-Behalf-Of). */
  accessToken: string;
  /** Stable per run step (e.g. `<runId>:<stepId>`), so a redelivered step sends the same client-request-id. */
  idempotencyKey: string;
  /** The run whose step calls: every call carries the loop guard's run marker headers. */
  causedBy: RunCause;
  /** A new access token of the executing identity that meets a Graph claims challenge (see graph-client.ts). */
  answerClaimsChallenge?: (claims: string) => Promise<string>;
  /** The step's span: each Graph call is its child and sends it on as `traceparent` (the run's trace id). */
  trace?: SpanRef;
  /** Ids the Graph call spans are tagged with (never the token or the account's personal data). */
  traceIds?: SpanAttributes;
  signal?: AbortSignal;
  fetch?: typeof fetch;
  /** Retry/timeout tuning of Graph calls; tests shrink the delays. */
  policy?: Partial<GraphRetryPolicy>;
}

export function graphSession(options: GraphSessionOptions): GraphSession {
  const request: GraphSession['request'] = ({ method, path, body }) =>
    graphRequest({
      graphBaseUrl: options.graphBaseUrl,
      accessToken: options.accessToken,
      method,
      path,
      ...(body !== undefined ? { body } : {}),
      headers: runMarkerHeaders(options.causedBy),
      idempotencyKey: options.idempotencyKey,
      signal: options.signal,
      fetch: options.fetch,
      onClaimsChallenge: options.answerClaimsChallenge,
      policy: options.policy,
      trace: options.trace,
      traceIds: options.traceIds,
    });
  return {
    graphBaseUrl: options.graphBaseUrl,
    request,
    async patchItemFields({ siteId, listId, itemId }, fields) {
      const response = await request({
        method: 'PATCH',
        path: graphPath`/sites/${siteId}/lists/${listId}/items/${itemId}/fields`,
        body: fields,
      });
      const echoed = typeof response === 'object' && response !== null ? (response as Record<string, unknown>) : {};
      return Object.fromEntries(Object.keys(fields).map((k) => [k, Object.hasOwn(echoed, k) ? echoed[k] : fields[k]]));
    },
    async sendMail({ to, subject, body, contentType }) {
      await request({
        method: 'POST',
        path: '/me/sendMail',
        body: {
          message: { subject, body: { contentType, content: body }, toRecipients: to.map((a) => ({ emailAddress: { address: a } })) },
          saveToSentItems: true,
        },
      });
    },
  };
}
