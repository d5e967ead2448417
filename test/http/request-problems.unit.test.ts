import { HttpRequest } from '@azure/functions';
import { z } from 'zod';
import { queryParams, readJson, routeId } from '../../src/http/request';
import { AppError } from '../../src/shared/errors';
import { bodyPath } from '../../src/shared/problem-path';

const refusal = async (f: () => unknown): Promise<AppError> => {
  try {
    await f();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('not refused');
};

const post = (body: unknown, url = 'http://localhost/api/x') =>
  new HttpRequest({ method: 'POST', url, body: { string: JSON.stringify(body) }, headers: { 'content-type': 'application/json' } });

describe('where a refused request went wrong: one path syntax (docs/api.md "Errors")', () => {
  const schema = z.strictObject({
    steps: z.array(z.object({ permissions: z.object({ executeAs: z.uuid() }) })),
    data: z.record(z.string(), z.number()).optional(),
  });

  it('names body fields as JavaScript accesses them from the body root, the same syntax as 422 validation', async () => {
    const e = await refusal(() => readJson(post({ steps: [{ permissions: { executeAs: 'nope' } }], data: { 'list-name': 'x' } }), schema));
    expect(e.code).toBe('bad_request');
    expect(e.details?.map((d) => d.path)).toEqual(['steps[0].permissions.executeAs', 'data["list-name"]']);
  });

  it('names each unknown body field by its own path', async () => {
    const e = await refusal(() => readJson(post({ steps: [], extra: 1, more: 2 }), schema));
    expect(e.details).toEqual([
      { path: 'extra', message: 'is not a known field' },
      { path: 'more', message: 'is not a known field' },
    ]);
  });

  it('names query parameters as ?name and route parameters as {name}', async () => {
    const get = new HttpRequest({ method: 'GET', url: 'http://localhost/api/x?limit=0&other=1', params: { id: 'not-a-guid' } });
    const q = await refusal(() => queryParams(get, z.strictObject({ limit: z.coerce.number().min(1) })));
    expect(q.details?.map((d) => d.path)).toEqual(['?limit', '?other']);
    const r = await refusal(() => routeId(get));
    expect(r.details).toEqual([{ path: '{id}', message: 'must be a GUID' }]);
  });

  it('writes an empty path for the body as a whole', () => {
    expect(bodyPath([])).toBe('');
    expect(bodyPath(['a', 0, 'b c', 'd'])).toBe('a[0]["b c"].d');
  });
});
