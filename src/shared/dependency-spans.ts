/**
 * Dependency spans for outgoing HTTP the app does not wrap in a span itself: MSAL's token endpoint and the Azure SDKs
 * (Key Vault, Tables, Service Bus's HTTP) use `https`, the OIDC metadata and other `fetch` calls use undici. Both
 * publish on `node:diagnostics_channel` (`http.client.request.start`, nodejs.org/api/diagnostics_channel.html#http;
 * `undici:request:create` / `:headers` / `:error`, undici docs "Diagnostics Channel"), which works inside an esbuild
 * bundle, unlike instrumentations that hook `require`.
 *
 * A call becomes a child of the span whose work made it (`currentSpan`, set by `inSpan`); a call outside any span
 * (a background timer of an SDK) records nothing. Graph calls already have spans of their own and send `traceparent`:
 * they are skipped. Only method, host and path are recorded: never a query string, header or body.
 */
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { contextOf, currentSpan, tracerName } from './spans';

let subscribed = false;

function start(method: string, url: URL) {
  const parent = currentSpan();
  if (!parent) return undefined;
  return trace.getTracer(tracerName).startSpan(
    `HTTP ${method}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': method,
        'server.address': url.hostname,
        'url.full': `${url.origin}${url.pathname}`,
      },
    },
    contextOf(parent),
  );
}

type Started = ReturnType<typeof start>;
const finish = (span: Started, status?: number, error?: unknown) => {
  if (!span) return;
  if (status !== undefined) span.setAttribute('http.response.status_code', status);
  if (error !== undefined || (status !== undefined && status >= 400)) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error ? ((error as Error)?.name ?? 'Error') : `HTTP ${status}` });
  }
  span.end();
};

interface UndiciRequest {
  origin?: string | URL;
  path?: string;
  method?: string;
  headers?: string[] | string;
}

/** Subscribes once per process; spans go to whatever tracer provider is registered (none: no-ops). */
export function recordDependencySpans(): void {
  if (subscribed) return;
  subscribed = true;

  const undiciSpans = new WeakMap<object, Started>();
  subscribe('undici:request:create', (message) => {
    const { request } = message as { request: UndiciRequest };
    const headers = Array.isArray(request.headers) ? request.headers : String(request.headers ?? '').split('\r\n');
    if (headers.some((h) => /^traceparent(:|$)/i.test(String(h)))) return;
    try {
      undiciSpans.set(request, start(request.method ?? 'GET', new URL(request.path ?? '/', request.origin)));
    } catch {
      // Not a URL we can name: no span.
    }
  });
  subscribe('undici:request:headers', (message) => {
    const { request, response } = message as { request: object; response: { statusCode: number } };
    finish(undiciSpans.get(request), response.statusCode);
    undiciSpans.delete(request);
  });
  subscribe('undici:request:error', (message) => {
    const { request, error } = message as { request: object; error: unknown };
    finish(undiciSpans.get(request), undefined, error);
    undiciSpans.delete(request);
  });

  const httpSpans = new WeakMap<object, Started>();
  const httpStatus = new WeakMap<object, number | undefined>();
  subscribe('http.client.request.start', (message) => {
    const { request } = message as { request: ClientRequest };
    let span: Started;
    try {
      span = start(request.method, new URL(request.path, `${request.protocol}//${request.host}`));
    } catch {
      return;
    }
    if (!span) return;
    httpSpans.set(request, span);
    // No 'error' listener of our own: one would change how an unhandled request error behaves.
    request.once('response', (res: IncomingMessage) => httpStatus.set(request, res.statusCode));
    request.once('close', () => {
      if (!httpSpans.has(request)) return;
      finish(httpSpans.get(request), httpStatus.get(request));
      httpSpans.delete(request);
    });
  });
  subscribe('http.client.request.error', (message) => {
    const { request, error } = message as { request: ClientRequest; error: unknown };
    finish(httpSpans.get(request), undefined, error);
    httpSpans.delete(request);
  });
}
