/**
 * LOCAL ONLY. The small HTTP pieces the local stand-ins (identity provider, Key Vault, Graph) share: bounded body
 * reading, JSON and HTML answers, an error that carries its status, and loopback listening and closing. Each
 * stand-in still shapes its own error bodies as the service it imitates does.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/** A refusal with its HTTP status; `code` and `headers` are for stand-ins whose error bodies name a code. */
export class HttpError extends Error {
  readonly code: string | undefined;
  readonly headers: Record<string, string>;
  constructor(
    readonly status: number,
    message: string,
    options: { code?: string; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.code = options.code;
    this.headers = options.headers ?? {};
  }
}

/** The status readBody refuses an oversized body with. */
export const BODY_TOO_LARGE = 413;

/** The request body's bytes; over `limit` bytes (no limit when omitted) it stops reading and throws HttpError 413. */
export async function readBodyBytes(req: IncomingMessage, limit = Number.POSITIVE_INFINITY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(BODY_TOO_LARGE, 'request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The request body as UTF-8, read as readBodyBytes does. */
export const readBody = async (req: IncomingMessage, limit?: number): Promise<string> => (await readBodyBytes(req, limit)).toString('utf8');

/** A JSON object body (`{}` when empty); anything else is HttpError 400. */
export async function readJson(req: IncomingMessage, limit = 1 << 20): Promise<Record<string, unknown>> {
  const text = await readBody(req, limit);
  if (!text) return {};
  try {
    const value: unknown = JSON.parse(text);
    if (isJsonObject(value)) return value;
  } catch {
    // reported below
  }
  throw new HttpError(400, 'body must be a JSON object');
}

export const isJsonObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A JSON answer that no cache keeps (the identity provider's token and dev answers). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** An HTML page that runs no script and loads nothing (inline styles only). */
export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    // No form-action: Chrome applies it to the redirects after the post, which end at the app.
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
  });
  res.end(html);
}

type AnyServer = Server | HttpsServer;

const listenOn = (server: AnyServer, port: number, host: string) =>
  new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

/** Listens on 127.0.0.1 only (a stand-in trusts whoever calls it); `port` 0 picks a free one. Answers the port. */
export async function listenOnLoopback(server: AnyServer, port = 0): Promise<number> {
  await listenOn(server, port, '127.0.0.1');
  return (server.address() as AddressInfo).port;
}

/**
 * Listens on 127.0.0.1, then, best effort, on ::1 at the same port with a second server, so clients where
 * `localhost` resolves to ::1 first need not fall back to IPv4. Answers the port and the servers that listen.
 */
export async function listenOnLoopbackV4AndV6(createServer: () => AnyServer, port = 0): Promise<{ port: number; servers: AnyServer[] }> {
  const v4 = createServer();
  const chosen = await listenOnLoopback(v4, port);
  const v6 = createServer();
  const listening = await listenOn(v6, chosen, '::1').then(
    () => true,
    () => false,
  );
  return { port: chosen, servers: listening ? [v4, v6] : [v4] };
}

/** Stops accepting and drops open (keep-alive) connections, so close does not wait for idle clients. Closing twice is fine. */
export function closeServer(server: AnyServer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.close((e) => (e && (e as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING' ? reject(e) : resolve()));
    server.closeAllConnections();
  });
}
