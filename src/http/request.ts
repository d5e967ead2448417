import type { HttpRequest } from '@azure/functions';
import { z } from 'zod';
import { badRequest, HttpError } from './errors';

const maxBodyBytes = 256 * 1024;

/** Parses a JSON body with a schema; an absent body counts as `{}` so optional bodies stay optional. */
export async function readJson<S extends z.ZodType>(req: HttpRequest, schema: S): Promise<z.infer<S>> {
  const text = await req.text();
  if (Buffer.byteLength(text) > maxBodyBytes) throw new HttpError(413, `The request body exceeds ${maxBodyBytes} bytes.`);
  let value: unknown = {};
  if (text.trim() !== '') {
    try {
      value = JSON.parse(text);
    } catch {
      throw badRequest('The request body is not valid JSON.');
    }
  }
  return validate(schema, value, 'body');
}

export function validate<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw badRequest(
      `Invalid ${where}.`,
      parsed.error.issues.map((i) => ({ path: [where, ...i.path].join('.'), message: i.message })),
    );
  }
  return parsed.data;
}

export const idParam = z.uuid({ message: 'must be a GUID' });

export function routeId(req: HttpRequest, name = 'id'): string {
  return validate(idParam, req.params[name], `route parameter "${name}"`).toLowerCase();
}
