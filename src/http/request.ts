import type { HttpRequest } from '@azure/functions';
import { z } from 'zod';
import { AppError, type ProblemDetail } from '../shared/errors';
import { bodyPath, queryPath, routePath } from '../shared/problem-path';

export const maxBodyBytes = 256 * 1024;

const tooLarge = () => new AppError('too_large', `The request body exceeds ${maxBodyBytes} bytes.`);

/**
 * The body as UTF-8 text, refused as `too_large` before a byte is read when its declared `Content-Length` is over the
 * limit, and as soon as the bytes read pass it otherwise (a chunked body declares no length).
 */
async function readBodyText(req: HttpRequest): Promise<string> {
  const declared = req.headers.get('content-length')?.trim();
  if (declared && /^\d+$/.test(declared) && Number(declared) > maxBodyBytes) throw tooLarge();
  if (!req.body) return '';
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let read = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    read += value.byteLength;
    if (read > maxBodyBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  // As fetch's text(): UTF-8, a leading BOM dropped, malformed bytes replaced.
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/** Parses a JSON body with a schema; an absent body counts as `{}` so optional bodies stay optional. */
export async function readJson<S extends z.ZodType>(req: HttpRequest, schema: S): Promise<z.infer<S>> {
  const text = await readBodyText(req);
  let value: unknown = {};
  if (text.trim() !== '') {
    try {
      value = JSON.parse(text);
    } catch {
      throw new AppError('bad_request', 'The request body is not valid JSON.');
    }
  }
  return validate(schema, value, { in: 'body' });
}

/** Where a part of the request is: its body, one query parameter, or one route parameter. */
export type RequestPart = { in: 'body' } | { in: 'query' } | { in: 'route'; name: string };

/** zod's issues as `{path, message}` in the one path syntax (src/shared/problem-path.ts); each unknown key is its own problem. */
export function problemsOf(issues: readonly z.core.$ZodIssue[], part: RequestPart): ProblemDetail[] {
  const at = (segments: readonly PropertyKey[]): string => {
    if (part.in === 'route') return routePath(part.name);
    if (part.in === 'query') return segments.length ? queryPath(String(segments[0])) : '';
    return bodyPath(segments);
  };
  return issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((key) => ({ path: at([...i.path, key]), message: 'is not a known field' }))
      : [{ path: at(i.path), message: i.message }],
  );
}

const partName = (part: RequestPart) => (part.in === 'route' ? `route parameter {${part.name}}` : part.in);

/** Checks `value` against `schema`; a mismatch is a `bad_request` listing each problem as `{path, message}`. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, part: RequestPart): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AppError('bad_request', `Invalid ${partName(part)}.`, { details: problemsOf(parsed.error.issues, part) });
  return parsed.data;
}

/** A route parameter (`{name}` in the route template), checked by `schema`. */
export function routeParam<S extends z.ZodType>(req: HttpRequest, name: string, schema: S): z.infer<S> {
  return validate(schema, req.params[name], { in: 'route', name });
}

/**
 * The query parameters, checked by an object schema: a plain `z.object` ignores parameters it does not name, a
 * `z.strictObject` refuses them. Absent parameters are `undefined`, so schemas see what was sent; a repeated one
 * counts with its first value.
 */
export function queryParams<S extends z.ZodType<Record<string, unknown>>>(req: HttpRequest, schema: S): z.infer<S> {
  const sent = Object.fromEntries([...new Set(req.query.keys())].map((name) => [name, req.query.get(name)]));
  return validate(schema, sent, { in: 'query' });
}

export const idParam = z.uuid({ message: 'must be a GUID' });

/** A GUID route parameter (connection ids), lower-cased as stored. */
export function routeId(req: HttpRequest, name = 'id'): string {
  return routeParam(req, name, idParam).toLowerCase();
}
