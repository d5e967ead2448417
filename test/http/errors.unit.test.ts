import type { InvocationContext } from '@azure/functions';
import { ConnectionInUseError } from '../../src/connections/connection-service';
import { errorResponse } from '../../src/http/errors';
import { AppError } from '../../src/shared/errors';

const logged: string[] = [];
const context = {
  functionName: 'connections-get',
  invocationId: 'inv-1',
  error: (m: string) => logged.push(m),
} as unknown as InvocationContext;

describe('the HTTP answer to an error', () => {
  beforeEach(() => (logged.length = 0));

  it.each([
    ['bad_request', 400],
    ['forbidden', 403],
    ['not_found', 404],
    ['too_large', 413],
    ['unavailable', 503],
    ['misconfigured', 503],
  ] as const)('%s is %i with {error: {code, message}} and nothing else', (code, status) => {
    const res = errorResponse(new AppError(code, 'Said to the caller.'), context);
    expect(res.status).toBe(status);
    expect(res.jsonBody).toEqual({ error: { code, message: 'Said to the caller.' } });
  });

  it('keeps details of a bad request', () => {
    const details = [{ path: '?status', message: 'Invalid option' }];
    expect(errorResponse(new AppError('bad_request', 'Invalid query.', { details }), context).jsonBody).toEqual({
      error: { code: 'bad_request', message: 'Invalid query.', details },
    });
  });

  it('asks for a bearer token with 401', () => {
    const res = errorResponse(new AppError('unauthenticated', 'A bearer token is required.'), context);
    expect(res.status).toBe(401);
    expect(res.headers).toMatchObject({ 'WWW-Authenticate': 'Bearer', 'Cache-Control': 'no-store' });
  });

  it('says when to come back with 429 and Retry-After (whole seconds, at least 1)', () => {
    const res = errorResponse(new AppError('throttled', 'Too many events.', { retryAfterSeconds: 11.2 }), context);
    expect(res).toMatchObject({ status: 429, jsonBody: { error: { message: 'Too many events.' } } });
    expect(res.headers).toMatchObject({ 'Retry-After': '12', 'Cache-Control': 'no-store' });
    expect(errorResponse(new AppError('throttled', 'Slow down.', { retryAfterSeconds: 0 }), context).headers).toMatchObject({
      'Retry-After': '1',
    });
  });

  it('lists validation problems in the same format with 422 (contract)', () => {
    const details = [{ path: 'runAs', message: 'connection x does not exist in this tenant' }];
    const res = errorResponse(new AppError('invalid', 'The process is not valid.', { details }), context);
    expect(res.status).toBe(422);
    expect(res.jsonBody).toEqual({ error: { code: 'invalid', message: 'The process is not valid.', details } });
  });

  it('sends the usage along with 409 for a connection in use', () => {
    const usage = {
      connectionId: 'c1',
      isDefault: true,
      references: [{ processId: 'p', processName: 'P', version: 'draft' as const, via: 'default' as const }],
    };
    const res = errorResponse(new ConnectionInUseError(usage), context);
    expect(res.status).toBe(409);
    expect(res.jsonBody).toEqual({ error: { code: 'conflict', message: expect.stringContaining('1 process reference(s)'), usage } });
  });

  it('answers anything else with 500, logging its type and a redacted first line only', () => {
    const res = errorResponse(new TypeError('bad eyJhbGciOi.eyJzdWIiOi.sig\nsecond line'), context);
    expect(res.status).toBe(500);
    expect(res.jsonBody).toEqual({ error: { code: 'internal', message: expect.stringContaining('invocation inv-1') } });
    expect(logged).toEqual(['Unhandled TypeError in connections-get: bad [jwt]']);
  });
});
