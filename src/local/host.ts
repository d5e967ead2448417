import { HttpRequest, HttpResponse, InvocationContext, type HttpMethod } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { unmatchedRouteAnswer } from '../http/unmatched-route';
import type { LocalFunction, LocalHttpFunction } from './local-functions';

export type LogSink = (level: string, functionName: string, message: string) => void;

interface CompiledRoute {
  fn: LocalHttpFunction;
  pattern: RegExp;
  params: string[];
  literalSegments: number;
}

const compile = (fn: LocalHttpFunction): CompiledRoute => {
  const params: string[] = [];
  const segments = fn.route.split('/');
  const pattern = segments
    .map((s) => {
      const rest = /^\{\*(\w+)\}$/.exec(s);
      if (rest) {
        params.push(rest[1]);
        return '(.*)';
      }
      const m = /^\{(\w+)(?::[^}]*)?\??\}$/.exec(s);
      if (!m) return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      params.push(m[1]);
      return '([^/]+)';
    })
    .join('/');
  return {
    fn,
    pattern: new RegExp(`^/api/${pattern}/?$`, 'i'),
    params,
    // A catch-all (`{*path}`) is tried last: it answers only what no other route takes.
    literalSegments: /\{\*/.test(fn.route) ? -1 : segments.filter((s) => !s.startsWith('{')).length,
  };
};

/**
 * The Functions host's request limit: "The HTTP request length is limited to 100 MB (104,857,600 bytes)"
 * (learn.microsoft.com/azure/azure-functions/functions-bindings-http-webhook-trigger, "Limits").
 */
export const functionsHostMaxRequestBytes = 104_857_600;

/** Reads a request body up to `max` bytes; undefined once it passes `max` (reading then stops). */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let read = 0;
    const onData = (chunk: Buffer) => {
      read += chunk.length;
      if (read <= max) return void chunks.push(chunk);
      req.off('data', onData).off('end', onEnd).pause();
      resolve(undefined);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on('data', onData).on('end', onEnd).once('error', reject);
  });
}

/**
 * Hosts the same handlers `functions/index.ts` registers, over node:http: the stand-in for the
 * Functions host, which cannot be installed here. Literal routes win over parameters, as in Azure.
 * Bodies over `maxRequestBodyBytes` (the Functions host's 100 MB unless given) are refused with 413: by their declared
 * length before reading, else as soon as the bytes read pass it; the rest is never read (the connection closes).
 */
export function createLocalHost(
  definitions: readonly LocalFunction[],
  options: { log?: LogSink; fallback?: http.RequestListener; maxRequestBodyBytes?: number } = {},
) {
  const maxBody = options.maxRequestBodyBytes ?? functionsHostMaxRequestBytes;
  const refuseTooLarge = (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(413, {
      'Content-Type': 'application/json',
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-store',
      Connection: 'close',
    });
    // Hang up once the answer is out: the client may still be sending what will never be read.
    res.end(JSON.stringify({ error: { code: 'too_large', message: `The request body exceeds ${maxBody} bytes.` } }), () =>
      req.socket.destroy(),
    );
  };
  const routes = definitions
    .filter((d): d is LocalHttpFunction => d.kind === 'http')
    .map(compile)
    .sort((a, b) => b.literalSegments - a.literalSegments);
  const log: LogSink = options.log ?? ((level, name, message) => console.log(`[${level}] ${name}: ${message}`));

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
      const method = (req.method ?? 'GET').toUpperCase() as HttpMethod;
      const candidates = routes.map((r) => ({ r, m: r.pattern.exec(url.pathname) })).filter((x) => x.m);
      const match = candidates.find((x) => x.r.fn.methods.includes(method));
      if (!match) {
        if (candidates.length === 0 && options.fallback) return options.fallback(req, res);
        // Without the app's own catch-all (functions/http-api-unmatched.ts) in the list: the same one error body.
        const answer = unmatchedRouteAnswer(
          url.pathname.replace(/^\/api\/?/, ''),
          method,
          routes.map((r) => r.fn),
        );
        res.writeHead(answer.status ?? 404, { 'Content-Type': 'application/json', ...(answer.headers as Record<string, string>) });
        return res.end(JSON.stringify(answer.jsonBody));
      }
      let params: Record<string, string>;
      try {
        params = Object.fromEntries(match.r.params.map((p, i) => [p, decodeURIComponent(match.m![i + 1])]));
      } catch {
        // A malformed percent-encoding (`%ZZ`) is the caller's error, not the host's.
        res.writeHead(400, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' });
        return res.end(JSON.stringify({ error: { code: 'bad_request', message: 'The request path is not valid percent-encoding.' } }));
      }
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > maxBody) return refuseTooLarge(req, res);
      const requestBody = await readBody(req, maxBody);
      if (!requestBody) return refuseTooLarge(req, res);
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
      const request = new HttpRequest({
        method,
        url: url.toString(),
        headers,
        params,
        ...(requestBody.length ? { body: { bytes: requestBody } } : {}),
      });
      const name = match.r.fn.name;
      const context = new InvocationContext({
        invocationId: randomUUID(),
        functionName: name,
        logHandler: (level, ...args) => log(level, name, args.map(String).join(' ')),
      });
      const response = new HttpResponse(await match.r.fn.handler(request, context));
      const body = Buffer.from(await response.arrayBuffer());
      const outHeaders: Record<string, string> = {};
      response.headers.forEach((value, key) => (outHeaders[key] = value));
      res.writeHead(response.status, outHeaders);
      res.end(body);
    } catch (e) {
      log('error', 'host', `Unhandled error: ${(e as Error)?.name}`);
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'Local host error' } }));
    }
  });

  return {
    server,
    async listen(port = 0, host = '127.0.0.1'): Promise<string> {
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
      return `http://localhost:${(server.address() as AddressInfo).port}`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
