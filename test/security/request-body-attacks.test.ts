/**
 * Issue 12, risk "Body size is checked after the whole body is read, and the local host reads without limit": a
 * client that declares or sends a huge body made the app (and the local host) buffer all of it before refusing.
 * Now a declared `Content-Length` over the limit is refused before a byte is read, and reading stops at the limit:
 * the app's 262,144 bytes (src/http/request.ts), and in the local host the Functions host's own limit, "The HTTP
 * request length is limited to 100 MB (104,857,600 bytes)" (learn.microsoft.com/azure/azure-functions/
 * functions-bindings-http-webhook-trigger, "Limits").
 */
import { HttpRequest } from '@azure/functions';
import net from 'node:net';
import http from 'node:http';
import { z } from 'zod';
import type { FunctionDefinition } from '../../functions/registry';
import { readJson } from '../../src/http/request';
import { createLocalHost } from '../../src/local/host';
import { AppError } from '../../src/shared/errors';
import { useTally } from '../support/tally';

const tally = useTally();
const category = 'Oversized request bodies (declared or streamed)';

const refusalOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return e instanceof AppError ? e.code : String(e);
  }
  return 'accepted';
};

test('the app refuses a declared Content-Length over its limit with 413 before reading the body', async () => {
  const declared = [262_145, 10 * 1024 * 1024, 2 ** 40];
  let refused = 0;
  for (const length of declared) {
    const req = new HttpRequest({
      method: 'POST',
      url: 'http://localhost/api/events',
      headers: { 'content-length': String(length) },
      body: { string: '{}' },
    });
    expect(await refusalOf(readJson(req, z.object({}).loose()))).toBe('too_large');
    expect(req.bodyUsed).toBe(false);
    if (!req.bodyUsed) refused++;
  }
  // Without a declared length the body is read up to the limit and no further: one byte over is refused.
  const undeclared = new HttpRequest({
    method: 'POST',
    url: 'http://localhost/api/events',
    body: { string: JSON.stringify({ pad: 'x'.repeat(262_144) }) },
  });
  expect(await refusalOf(readJson(undeclared, z.object({}).loose()))).toBe('too_large');
  const atLimit = new HttpRequest({
    method: 'POST',
    url: 'http://localhost/api/events',
    headers: { 'content-length': '262144' },
    body: { string: JSON.stringify({ pad: 'x'.repeat(262_144 - 10) }) },
  });
  expect(await refusalOf(readJson(atLimit, z.object({ pad: z.string() })))).toBe('accepted');
  tally.record({ kind: 'attack', category, tried: declared.length + 1, handled: refused + 1, faultsInjected: 0, lost: 0 });
});

describe('the local host', () => {
  const calls: number[] = [];
  const definitions: FunctionDefinition[] = [
    {
      kind: 'http',
      name: 'echo',
      methods: ['POST'],
      route: 'echo',
      contract: { summary: 'echo', auth: 'none', answers: {} },
      handler: async (req) => {
        const bytes = (await req.arrayBuffer()).byteLength;
        calls.push(bytes);
        return { status: 200, jsonBody: { bytes } };
      },
    },
  ];
  let host: ReturnType<typeof createLocalHost>;
  let port = 0;
  let smallHost: ReturnType<typeof createLocalHost>;
  let smallPort = 0;

  beforeAll(async () => {
    host = createLocalHost(definitions, { log: () => undefined });
    port = Number(new URL(await host.listen(0)).port);
    smallHost = createLocalHost(definitions, { log: () => undefined, maxRequestBodyBytes: 64 * 1024 });
    smallPort = Number(new URL(await smallHost.listen(0)).port);
  });
  afterAll(async () => {
    await host?.close();
    await smallHost?.close();
  });

  /** Sends only the head of a request that declares `length` bytes, and returns the status line the host answers with. */
  const declareOnly = (length: number) =>
    new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () =>
        socket.write(
          `POST /api/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n{"a":`,
        ),
      );
      let text = '';
      socket.on('data', (d) => {
        text += d.toString('latin1');
        if (text.includes('\r\n')) {
          socket.destroy();
          resolve(text.split('\r\n')[0]);
        }
      });
      socket.on('error', reject);
      // A host that waits for the whole declared body never answers: fail with a reason rather than a jest timeout.
      setTimeout(() => {
        socket.destroy();
        resolve('no answer: the host waited for the body');
      }, 5_000).unref();
    });

  test('answers a declared body over the Functions host limit (100 MB) with 413 at once, without reading it or calling the function', async () => {
    const status = await declareOnly(104_857_601);
    expect(status).toBe('HTTP/1.1 413 Payload Too Large');
    expect(calls).toEqual([]);
    tally.record({ kind: 'attack', category, tried: 1, handled: status.includes('413') ? 1 : 0, faultsInjected: 0, lost: 0 });
  });

  test('stops reading a streamed (chunked) body at its limit, answers 413 and never calls the function', async () => {
    const total = 1024 * 1024;
    let written = 0;
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: smallPort, method: 'POST', path: '/api/echo', headers: { 'Content-Type': 'application/json' } },
        (r) => {
          let body = '';
          r.on('data', (d) => (body += d));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
        },
      );
      req.on('error', (e) => (written < total ? undefined : reject(e))); // the host hangs up on the rest: expected
      const chunk = Buffer.alloc(16 * 1024, 'x');
      const pump = () => {
        while (written < total) {
          written += chunk.length;
          if (!req.write(chunk)) return req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.message).toMatch(/65536 bytes/);
    expect(calls).toEqual([]);
    // Under the limit the same host passes the body on whole.
    const small = await fetch(`http://127.0.0.1:${smallPort}/api/echo`, { method: 'POST', body: 'y'.repeat(64 * 1024) });
    expect(await small.json()).toEqual({ bytes: 64 * 1024 });
    tally.record({ kind: 'attack', category, tried: 1, handled: res.status === 413 ? 1 : 0, faultsInjected: 0, lost: 0 });
  });
});
