/**
 * LOCAL ONLY — never used in Azure. A stand-in for Microsoft Graph used by tests and by `npm start`:
 * a node:http server on 127.0.0.1 whose base URL (`url`, ending in /v1.0) is the GRAPH_BASE_URL of the
 * local instance. Like Graph, it verifies the bearer token (signature via the local identity provider's
 * JWKS, issuer, audience https://graph.microsoft.com, expiry) and answers Graph-shaped errors
 * `{error: {code, message, innerError}}`. It records who called and what changed:
 *
 *   GET <url>/_local/calls   every request: method, path, account (username, objectId, tenantId), body,
 *                            client-request-id, x-connections-run, traceparent (W3C Trace Context, as sent),
 *                            status, time — never the token
 *   GET <url>/_local/items   list item fields by `siteId/listId/itemId`
 *   GET <url>/_local/mail    mail sent through /me/sendMail, with the sending account
 *   POST <url>/_local/revoke-sessions {username, refreshTokens?: false}
 *                            a critical event for the account, as continuous access evaluation (CAE) sees it: its
 *                            CAE tokens (`xms_cc` cp1) issued before now are refused with a claims challenge. By default
 *                            also Entra's revokeSignInSessions at the local identity provider (refresh tokens refused,
 *                            AADSTS50173); `refreshTokens: false` keeps them (e.g. a Conditional Access location change,
 *                            which a refresh with the claims satisfies).
 *
 * Implemented: PATCH /sites/{s}/lists/{l}/items/{i}/fields (merge; returns the fields), GET
 * /sites/{s}/lists/{l}/items/{i}[?expand=fields] and .../fields, POST /me/sendMail (202), GET /me, POST /me/revokeSignInSessions and /users/{own id}/revokeSignInSessions
 * (User.RevokeSessions.All in `scp`; revokes like revoke-sessions below).
 * Any other POST/PATCH/PUT answers 200 {ok: true}, DELETE 204, any other GET 404.
 *
 * Permissions (graph-permissions.ts), on every request under /sites/{s}/lists/{l} (unmodelled ones too): every account
 * reads and writes ordinary items; only service accounts change `Stage` (others: 403 accessDenied) and see lists whose
 * id starts with `restricted` (others: 404 itemNotFound).
 * Each PATCH call records `changedFields` beside the calling account.
 *
 * Differences from Graph worth knowing: PATCH creates a missing item (the local instance has no lists
 * to seed), fields hold only what was written, `scp` is recorded but not enforced (tokens minted with
 * mintLocalToken carry none), and the /_local endpoints need no token.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { parseRunMarker, RUN_HEADER, type RunCause } from '../actions/action';
import { checkItemAccess } from './graph-permissions';
import { createGraphTokenCheck, graphError, type GraphAccount } from './graph-token-check';
import { closeServer, HttpError, isJsonObject as isObject, listenOnLoopback, readBody } from './http-helpers';

export type { GraphAccount } from './graph-token-check';

export interface GraphStandInOptions {
  jwksUri: string;
  issuer: string;
  /** Defaults to https://graph.microsoft.com */
  audience?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** The local identity provider, for revoke-sessions; defaults to the origin of `jwksUri`. */
  identityProviderUrl?: string;
  /** Called after a PATCH of item fields, e.g. to play the product and raise an event for the change. */
  onItemChanged?: (change: GraphItemChange) => void;
}

export interface GraphCall {
  method: string;
  /** Relative to the base (`/me/sendMail`); requests outside the base keep their full path. */
  path: string;
  query: string;
  status: number;
  /** Undefined when the token was missing or rejected. */
  username?: string;
  objectId?: string;
  tenantId?: string;
  scopes?: string[];
  body: unknown;
  /** The item fields a successful PATCH wrote (by this account: see username/objectId). */
  changedFields?: string[];
  clientRequestId?: string;
  runHeader?: string;
  /** The request's `traceparent` header as sent (at most 512 characters): the run's trace id and the call's span id. */
  traceparent?: string;
  at: string;
}

export interface GraphItemChange {
  siteId: string;
  listId: string;
  itemId: string;
  /** The fields written by this request. */
  changed: Record<string, unknown>;
  /** All fields after the change. */
  fields: Record<string, unknown>;
  account: GraphAccount;
  /** From the x-connections-* headers: what the product would copy onto its event. */
  causedBy?: RunCause;
}

export interface SentMail {
  from: GraphAccount;
  to: string[];
  subject: string;
  contentType: string;
  content: string;
  at: string;
}

export interface GraphFault {
  status: number;
  retryAfterSeconds?: number;
  /** How many matching requests get this answer. */
  count: number;
  /** Relative to the base, e.g. `/me/sendMail`; any path when omitted. */
  pathPrefix?: string;
  method?: string;
  /** Graph error code and message of the answer. */
  code?: string;
  message?: string;
  /** Extra response headers (e.g. `location` for a redirect). */
  headers?: Record<string, string>;
  /** Answer only after this long (timeouts). */
  delayMs?: number;
  /** Drop the connection instead of answering (network failures). */
  reset?: boolean;
}

export interface GraphStandIn {
  /** Base URL including /v1.0: the GRAPH_BASE_URL to configure. */
  url: string;
  calls: GraphCall[];
  items: Map<string, Record<string, unknown>>;
  mail: SentMail[];
  /**
   * A critical event for the account (see `_local/revoke-sessions` above); resolves once tokens issued after it are
   * accepted again. Answers the epoch second from which the account's CAE tokens are valid.
   */
  revokeSessions(username: string, options?: { refreshTokens?: boolean }): Promise<{ tokensValidFrom: number }>;
  /** Replaces pending faults; used in order, after the token check, before normal handling. */
  injectFaults(faults: GraphFault[]): void;
  /** How many injected faults no request has taken yet (a request takes its fault after the token check). */
  pendingFaults(): number;
  /** Forgets calls, items, mail and faults. */
  reset(): void;
  /** Forgets the recorded calls only (items, mail and faults stay): a test then sees only the calls of what it does next. */
  forgetCalls(): void;
  close(): Promise<void>;
}

const BASE_PATH = '/v1.0';
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export async function startGraphStandIn(options: GraphStandInOptions): Promise<GraphStandIn> {
  const audience = options.audience ?? 'https://graph.microsoft.com';
  const calls: GraphCall[] = [];
  const items = new Map<string, Record<string, unknown>>();
  const mail: SentMail[] = [];
  let faults: GraphFault[] = [];
  const { authenticate, revokeSessions } = createGraphTokenCheck({
    jwksUri: options.jwksUri,
    issuer: options.issuer,
    audience,
    identityProviderUrl: options.identityProviderUrl ?? new URL(options.jwksUri).origin,
  });

  /**
   * Graph's `POST /me/revokeSignInSessions` and `POST /users/{id | userPrincipalName}/revokeSignInSessions`: needs the
   * delegated permission User.RevokeSessions.All, and (the local accounts holding no directory role) works on the
   * caller's own account only; then the account's refresh tokens and CAE tokens stop working, as revoke-sessions does
   * (learn.microsoft.com/graph/api/user-revokesigninsessions; a non-admin caller gets 403 Authorization_RequestDenied).
   */
  async function revokeOwnSessions(segments: string[], account: GraphAccount, scopes: string[] | undefined) {
    const target =
      segments.length === 2 && segments[0] === 'me'
        ? account.objectId
        : segments.length === 3 && segments[0] === 'users'
          ? segments[1]
          : undefined;
    if (target === undefined) throw graphError(400, 'BadRequest', `Resource not found for the segment '${segments[0]}'.`);
    const self = target === account.objectId || target.toLowerCase() === account.username.toLowerCase();
    if (!scopes?.includes('User.RevokeSessions.All') || !self) {
      throw graphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    }
    await revokeSessions(account.username);
    return { status: 200, json: { '@odata.context': `${BASE_PATH}/$metadata#Edm.Boolean`, value: true } };
  }

  /** The item fields a write names: the body of PATCH .../fields, or `fields` of a listItem (create, item PATCH). */
  function writtenFields(method: string, sub: string | undefined, body: unknown): string[] | undefined {
    if (method === 'GET' || method === 'DELETE' || !isObject(body)) return undefined;
    if (sub === 'fields') return Object.keys(body);
    return isObject(body.fields) ? Object.keys(body.fields) : undefined;
  }

  function handle(
    method: string,
    segments: string[],
    query: URLSearchParams,
    body: unknown,
    req: http.IncomingMessage,
    account: GraphAccount,
  ) {
    const [first, siteId, lists, listId, itemsSegment, itemId, sub, ...rest] = segments;
    // Every request under a list passes the permission model, the unmodelled ones (answered 200/204 below) included,
    // so that no method reaches a restricted list or writes Stage around it.
    if (first === 'sites' && lists === 'lists' && !!siteId && !!listId) {
      checkItemAccess(account, listId, writtenFields(method, sub, body));
    }
    const isItem =
      first === 'sites' && lists === 'lists' && itemsSegment === 'items' && !!siteId && !!listId && !!itemId && rest.length === 0;
    if (isItem) {
      const key = `${siteId}/${listId}/${itemId}`;
      if (method === 'PATCH' && sub === 'fields') {
        if (!isObject(body)) throw graphError(400, 'invalidRequest', 'Invalid request: the body must be a JSON object of fields.');
        // fromEntries (not assignment): a `__proto__` field stays a field and never reaches a prototype.
        const fields = Object.fromEntries([...Object.entries(items.get(key) ?? {}), ...Object.entries(body)]);
        items.set(key, fields);
        const causedBy = parseRunMarker((n) => header(req, n));
        options.onItemChanged?.({
          siteId,
          listId,
          itemId,
          changed: { ...body },
          fields: { ...fields },
          account,
          ...(causedBy ? { causedBy } : {}),
        });
        return {
          status: 200,
          changedFields: Object.keys(body),
          json: { '@odata.context': `${BASE_PATH}/$metadata#fields/$entity`, id: itemId, ...fields },
        };
      }
      if (method === 'GET' && (sub === undefined || sub === 'fields')) {
        const fields = items.get(key);
        if (!fields) throw graphError(404, 'itemNotFound', 'The requested resource does not exist.');
        if (sub === 'fields') return { status: 200, json: { id: itemId, ...fields } };
        const expand = `${query.get('expand') ?? ''},${query.get('$expand') ?? ''}`.split(',').includes('fields');
        return { status: 200, json: { id: itemId, ...(expand ? { fields: { id: itemId, ...fields } } : {}) } };
      }
    }
    if (first === 'me' && segments.length === 1 && method === 'GET') {
      return {
        status: 200,
        json: {
          '@odata.context': `${BASE_PATH}/$metadata#users/$entity`,
          id: account.objectId,
          userPrincipalName: account.username,
          mail: account.username,
          tenantId: account.tenantId,
        },
      };
    }
    if (first === 'me' && segments[1] === 'sendMail' && segments.length === 2 && method === 'POST') {
      const message = isObject(body) && isObject(body.message) ? body.message : undefined;
      if (!message) throw graphError(400, 'ErrorInvalidRequest', 'Cannot read the request body: message is required.');
      const recipients = Array.isArray(message.toRecipients) ? message.toRecipients : [];
      const to = recipients
        .map((r) => (isObject(r) && isObject(r.emailAddress) ? r.emailAddress.address : undefined))
        .filter((a): a is string => typeof a === 'string');
      if (to.length === 0) throw graphError(400, 'ErrorInvalidRecipients', 'At least one recipient is required, but none were found.');
      const content = isObject(message.body) ? message.body : {};
      mail.push({
        from: account,
        to,
        subject: typeof message.subject === 'string' ? message.subject : '',
        contentType: typeof content.contentType === 'string' ? content.contentType : 'Text',
        content: typeof content.content === 'string' ? content.content : '',
        at: new Date().toISOString(),
      });
      return { status: 202 };
    }
    if (method === 'GET') throw graphError(404, 'ResourceNotFound', `Resource not found for the segment '${segments.at(-1) ?? ''}'.`);
    if (method === 'DELETE') return { status: 204 };
    return { status: 200, json: { ok: true } };
  }

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    // Concatenated so a request target like `//host/x` stays a path here too.
    const target = req.url ?? '/';
    const parsed = new URL(`http://stand-in${target.startsWith('/') ? target : `/${target}`}`);
    const underBase = parsed.pathname === BASE_PATH || parsed.pathname.startsWith(`${BASE_PATH}/`);
    const relative = underBase ? parsed.pathname.slice(BASE_PATH.length) || '/' : parsed.pathname;
    const clientRequestId = header(req, 'client-request-id');
    const requestId = randomUUID();
    const call: GraphCall = {
      method,
      path: relative,
      query: parsed.search,
      status: 0,
      body: undefined,
      ...(clientRequestId ? { clientRequestId } : {}),
      ...(header(req, RUN_HEADER) ? { runHeader: header(req, RUN_HEADER) } : {}),
      ...(header(req, 'traceparent') ? { traceparent: header(req, 'traceparent')!.slice(0, 512) } : {}),
      at: new Date().toISOString(),
    };

    const send = (status: number, json?: unknown, headers: Record<string, string> = {}) => {
      const payload = json === undefined ? '' : JSON.stringify(json);
      res.writeHead(status, {
        ...headers,
        ...(payload ? { 'Content-Type': 'application/json; charset=utf-8' } : {}),
        'Content-Length': Buffer.byteLength(payload),
        'request-id': requestId,
        ...(clientRequestId ? { 'client-request-id': clientRequestId } : {}),
      });
      res.end(payload);
    };
    const sendError = (e: HttpError) => {
      call.status = e.status;
      send(
        e.status,
        {
          error: {
            code: e.code ?? 'generalException',
            message: e.message,
            innerError: {
              date: new Date().toISOString(),
              'request-id': requestId,
              ...(clientRequestId ? { 'client-request-id': clientRequestId } : {}),
            },
          },
        },
        e.headers,
      );
    };

    // The local views are read before anything else and are not recorded themselves.
    if (method === 'GET' && underBase && relative.startsWith('/_local/')) {
      const view = relative.slice('/_local/'.length);
      if (view === 'calls') return send(200, { calls });
      if (view === 'items') return send(200, { items: Object.fromEntries(items) });
      if (view === 'mail') return send(200, { mail });
    }
    if (method === 'POST' && underBase && relative === '/_local/revoke-sessions') {
      readBody(req, MAX_BODY_BYTES).then(
        (text) => {
          let body: { username?: unknown; refreshTokens?: unknown };
          try {
            body = JSON.parse(text || '{}') as typeof body;
          } catch {
            return sendError(graphError(400, 'BadRequest', 'The body must be JSON.'));
          }
          if (typeof body.username !== 'string' || (body.refreshTokens !== undefined && typeof body.refreshTokens !== 'boolean')) {
            return sendError(graphError(400, 'BadRequest', 'Expected {username, refreshTokens?: boolean}.'));
          }
          revokeSessions(body.username, { refreshTokens: body.refreshTokens as boolean | undefined }).then(
            (result) => send(200, result),
            (e: unknown) => sendError(e instanceof HttpError ? e : graphError(502, 'BadGateway', 'The identity provider did not answer.')),
          );
        },
        () => req.destroy(),
      );
      return;
    }

    // Over MAX_BODY_BYTES the request is dropped (no answer), as is one that fails while being read.
    readBody(req, MAX_BODY_BYTES).then(
      (text) => {
        calls.push(call);
        if (text) {
          try {
            call.body = JSON.parse(text);
          } catch {
            call.body = text;
          }
        }
        serve(text).catch((e: unknown) => {
          if (res.headersSent || res.destroyed) return;
          sendError(e instanceof HttpError ? e : graphError(500, 'generalException', 'Stand-in failure.'));
        });
      },
      () => req.destroy(),
    );

    async function serve(text: string): Promise<void> {
      const { account, scopes } = await authenticate(req.headers.authorization);
      Object.assign(call, account, scopes ? { scopes } : {});

      const fault = faults.find(
        (f) =>
          f.count > 0 &&
          (f.method === undefined || f.method === method) &&
          (f.pathPrefix === undefined || relative.startsWith(f.pathPrefix)),
      );
      if (fault) {
        fault.count -= 1;
        faults = faults.filter((f) => f.count > 0);
        if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
        if (fault.reset) {
          call.status = 0;
          res.socket?.destroy();
          return;
        }
        // A 2xx fault only delays: the request is then handled normally.
        if (fault.status < 200 || fault.status >= 300) {
          throw graphError(fault.status, fault.code ?? faultCode(fault.status), fault.message ?? `Injected fault ${fault.status}.`, {
            ...(fault.retryAfterSeconds !== undefined ? { 'Retry-After': String(fault.retryAfterSeconds) } : {}),
            ...fault.headers,
          });
        }
      }

      if (!underBase) throw graphError(404, 'ResourceNotFound', 'Unsupported API version or path.');
      if (text && typeof call.body === 'string') throw graphError(400, 'BadRequest', 'Unable to read JSON request payload.');
      let segments: string[];
      try {
        segments = relative.split('/').slice(1).map(decodeURIComponent);
      } catch {
        throw graphError(400, 'BadRequest', 'Malformed path.');
      }
      if (segments.some((s) => s === '')) throw graphError(400, 'BadRequest', 'Empty path segment.');
      if (method === 'POST' && segments.at(-1) === 'revokeSignInSessions') {
        const result = await revokeOwnSessions(segments, account, scopes);
        call.status = result.status;
        return send(result.status, result.json);
      }
      const result: { status: number; json?: unknown; changedFields?: string[] } = handle(
        method,
        segments,
        parsed.searchParams,
        call.body,
        req,
        account,
      );
      call.status = result.status;
      if (result.changedFields) call.changedFields = result.changedFields;
      send(result.status, result.json);
    }
  });

  const url = `http://127.0.0.1:${await listenOnLoopback(server, options.port)}${BASE_PATH}`;

  return {
    url,
    calls,
    items,
    mail,
    revokeSessions,
    injectFaults: (next) => {
      faults = next.map((f) => ({ ...f }));
    },
    pendingFaults: () => faults.reduce((n, f) => n + f.count, 0),
    forgetCalls: () => {
      calls.length = 0;
    },
    reset: () => {
      calls.length = 0;
      items.clear();
      mail.length = 0;
      faults = [];
    },
    close: () => closeServer(server),
  };
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function faultCode(status: number): string {
  switch (status) {
    case 400:
      return 'BadRequest';
    case 403:
      return 'Forbidden';
    case 404:
      return 'itemNotFound';
    case 429:
      return 'TooManyRequests';
    case 503:
      return 'ServiceNotAvailable';
    case 504:
      return 'UnknownError';
    default:
      return status >= 500 ? 'generalException' : 'BadRequest';
  }
}
