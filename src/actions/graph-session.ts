import type { ProductEvent } from '../events/product-event';
import type { SpanAttributes, SpanRef } from '../shared/spans';
import { runMarkerHeaders, type RunCause } from './action';
import { graphPath, graphRequest, type GraphMethod, type GraphRetryPolicy } from './graph-client';

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

/** The list item an action addresses: its event's subject. */
type ItemRef = ProductEvent['subject'];

/** A mail as sendMail sends it. */
export interface MailMessage {
  to: string[];
  subject: string;
  body: string;
  contentType: 'Text' | 'HTML';
}

/**
 * Microsoft Graph as one step's action sees it: bound once per step by the step runner to the executing identity's
 * token, the step's idempotency key, run marker and trace. An action calls Graph through it and never holds the
 * token, so only the Graph client (graph-client.ts) ever sends one.
 */
export interface GraphSession {
  readonly graphBaseUrl: string;
  /** A request relative to the Graph base (never another host). */
  request(call: { method: GraphMethod; path: string; body?: unknown }): Promise<unknown>;
  /** PATCHes fields of `item`, answering what Graph echoed for the fields that were set (else the value sent). */
  patchItemFields(item: ItemRef, fields: Record<string, string | number | boolean | null>): Promise<Record<string, unknown>>;
  /** Sends a mail from the executing account (`/me/sendMail`, kept in its sent items). */
  sendMail(message: MailMessage): Promise<void>;
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
