import { generateKeyPair, SignJWT } from 'jose';
import { ActionError } from '../../src/actions/action';
import {
  clientRequestIdFor,
  graphRequest,
  parseRetryAfter,
  resolveGraphUrl,
  sanitizeMessage,
  type GraphMethod,
} from '../../src/actions/graph-client';
import { CONTOSO_ADMIN, CONTOSO_SVC_WORKPOINT, GRAPH_AUDIENCE, LOCAL_API_AUDIENCE } from '../../src/local/identity-provider/directory';
import { claimsChallengeHeader } from '../../src/tokens/claims-challenge';
import { startActionsFixture, type ActionsFixture } from './fixture';

let f: ActionsFixture;
let token: string;

beforeAll(async () => {
  f = await startActionsFixture();
  token = await f.tokenFor(CONTOSO_SVC_WORKPOINT);
});
afterAll(async () => {
  await f?.stop();
});
beforeEach(() => f.reset());

const call = (
  path: string,
  extra: {
    method?: GraphMethod;
    body?: unknown;
    accessToken?: string;
    headers?: Record<string, string>;
    signal?: AbortSignal;
    timeoutMs?: number;
    onClaimsChallenge?: (claims: string) => Promise<string>;
  } = {},
) =>
  graphRequest({
    graphBaseUrl: f.graph.url,
    accessToken: extra.accessToken ?? token,
    method: extra.method ?? 'GET',
    path,
    body: extra.body,
    headers: extra.headers,
    idempotencyKey: 'run-7:step-2',
    signal: extra.signal,
    policy: { ...f.policy, ...(extra.timeoutMs ? { timeoutMs: extra.timeoutMs } : {}) },
    ...(extra.onClaimsChallenge ? { onClaimsChallenge: extra.onClaimsChallenge } : {}),
  });

async function failure(promise: Promise<unknown>): Promise<ActionError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(ActionError);
    const error = e as ActionError;
    expect(error.message).not.toContain(token);
    return error;
  }
  throw new Error('expected the Graph call to fail');
}

describe('URL confinement: the token never leaves the Graph base', () => {
  // Built lazily: the attacker's address is known only once it listens.
  const cases: [string, (a: string, g: string) => string][] = [
    ['absolute URL to another host', (a) => `http://${a}/steal`],
    ['absolute https URL', () => 'https://evil.example/steal'],
    ['uppercase scheme', (a) => `HTTP://${a}/steal`],
    ['scheme without slashes', (a) => `http:${a}/steal`],
    ['javascript: URL', () => 'javascript:alert(1)'],
    ['protocol-relative //host', (a) => `//${a}/steal`],
    ['protocol-relative with leading space', (a) => ` //${a}/steal`],
    ['backslashes', (a) => `\\\\${a}\\steal`],
    ['slash-backslash', (a) => `/\\${a}/steal`],
    ['userinfo trick on the Graph host', (a, g) => `http://${new URL(g).host}@${a}/steal`],
    ['protocol-relative userinfo trick', (a, g) => `//${new URL(g).host}@${a}/steal`],
    ['same host, outside the base path (../)', () => '../steal'],
    ['leading /../', () => '/../steal'],
    ['.. after a segment', () => 'me/../../steal'],
    ['../ to the beta endpoint', () => '../beta/me'],
    ['single dot segment', () => './me'],
    ['encoded dots %2e%2e', () => '%2e%2e/steal'],
    ['encoded dots uppercase %2E%2E', () => '%2E%2E/steal'],
    ['half-encoded .%2e', () => '.%2e/steal'],
    ['encoded slashes', () => 'me%2f..%2f..%2fsteal'],
    ['encoded backslash', () => 'me%5c..%5csteal'],
    ['double-encoded dots', () => '%252e%252e/steal'],
    ['CR/LF header injection', (a) => `me HTTP/1.1\r\nHost: ${a}\r\n\r\n`],
    ['bare LF', () => 'me\nsteal'],
    ['tab', () => 'me\t/steal'],
    ['NUL', () => 'me\u0000/steal'],
    ['encoded NUL', () => 'me%00/steal'],
    ['fragment', (a) => `me#@${a}`],
    ['empty path', () => ''],
    ['the base itself', () => '/'],
    ['doubled slash inside', (a) => `me//${a}`],
  ];

  it.each(cases)('refuses %s', async (_name, build) => {
    const path = build(f.attacker.host, f.graph.url);
    const error = await failure(call(path));
    expect(error.kind).toBe('permanent');
    expect(error.message).toMatch(/^Refused Graph request: /);
    expect(f.graph.calls).toEqual([]);
    expect(f.attacker.requests).toEqual([]);
  });

  it.each([
    ['/me', '/me'],
    ['me', '/me'],
    ['/users/someone@contoso.test', '/users/someone@contoso.test'],
    ['/me?$select=id,userPrincipalName', '/me'],
  ])('sends %s under the base', async (path, seen) => {
    await call(path).catch(() => undefined);
    expect(f.graph.calls.map((c) => c.path)).toEqual([seen]);
    expect(f.attacker.requests).toEqual([]);
  });

  it('checks the resolved URL, not just the text', () => {
    expect(resolveGraphUrl('https://graph.microsoft.com/v1.0', '/sites/a,b,c/lists').href).toBe(
      'https://graph.microsoft.com/v1.0/sites/a,b,c/lists',
    );
    expect(resolveGraphUrl('https://graph.microsoft.com/v1.0/', 'me').href).toBe('https://graph.microsoft.com/v1.0/me');
    expect(() => resolveGraphUrl('https://user:pw@graph.microsoft.com/v1.0', 'me')).toThrow(ActionError);
    expect(() => resolveGraphUrl('ftp://graph.microsoft.com/v1.0', 'me')).toThrow(ActionError);
  });

  it('refuses headers that would carry or steer credentials', async () => {
    for (const name of ['Authorization', 'host', 'Cookie', 'client-request-id']) {
      const error = await failure(call('/me', { headers: { [name]: 'x' } }));
      expect(error.kind).toBe('permanent');
    }
    const error = await failure(call('/me', { headers: { 'x-a': 'b\r\nHost: evil' } }));
    expect(error.kind).toBe('permanent');
    expect(f.graph.calls).toEqual([]);
  });

  it('refuses a malformed access token without echoing it', async () => {
    const error = await failure(call('/me', { accessToken: `${token}\r\nX-Evil: 1` }));
    expect(error.message).toBe('Refused Graph request: the access token is malformed');
    expect(f.graph.calls).toEqual([]);
  });
});

describe('redirects are refused, never followed', () => {
  it.each([301, 302, 303, 307, 308])('HTTP %s to another host', async (status) => {
    f.graph.injectFaults([{ status, count: 1, headers: { location: `${f.attacker.url}/steal` } }]);
    const error = await failure(call('/me'));
    expect(error).toMatchObject({ kind: 'permanent', status });
    expect(error.message).toContain('redirect');
    expect(f.graph.calls).toHaveLength(1);
    expect(f.attacker.requests).toEqual([]);
  });

  it('even to a path under the base', async () => {
    f.graph.injectFaults([{ status: 302, count: 1, headers: { location: `${f.graph.url}/me` } }]);
    await failure(call('/me'));
    expect(f.graph.calls).toHaveLength(1);
  });
});

describe('throttling and failures', () => {
  it('waits out 429 Retry-After and succeeds, one client-request-id for every try', async () => {
    f.graph.injectFaults([{ status: 429, retryAfterSeconds: 1, count: 2 }]);
    const me = (await call('/me')) as { userPrincipalName: string };
    expect(me.userPrincipalName).toBe(CONTOSO_SVC_WORKPOINT.username);
    expect(f.graph.calls.map((c) => c.status)).toEqual([429, 429, 200]);
    expect(f.sleeps).toEqual([1000, 1000]);
    const ids = new Set(f.graph.calls.map((c) => c.clientRequestId));
    expect([...ids]).toEqual([clientRequestIdFor('run-7:step-2')]);
  });

  it('gives up on a persistent 503 with a transient error that says when to come back', async () => {
    f.graph.injectFaults([{ status: 503, retryAfterSeconds: 2, count: 100 }]);
    const error = await failure(call('/me'));
    expect(error).toMatchObject({ kind: 'transient', status: 503, retryAfterMs: 2000 });
    expect(f.graph.calls).toHaveLength(3);
    expect(f.sleeps).toEqual([2000, 2000]);
  });

  it('does not sit through a Retry-After longer than its budget', async () => {
    f.graph.injectFaults([{ status: 429, retryAfterSeconds: 30, count: 1 }]);
    const error = await failure(call('/me'));
    expect(error).toMatchObject({ kind: 'transient', status: 429, retryAfterMs: 30_000 });
    expect(f.graph.calls).toHaveLength(1);
    expect(f.sleeps).toEqual([]);
  });

  it('backs off by itself when Retry-After is missing', async () => {
    f.graph.injectFaults([{ status: 503, count: 2 }]);
    await call('/me');
    expect(f.sleeps).toEqual([1000, 2000]);
  });

  it('repeats a 504 only for methods safe to repeat', async () => {
    f.graph.injectFaults([{ status: 504, retryAfterSeconds: 0, count: 1 }]);
    await call('/sites/s/lists/l/items/1/fields', { method: 'PATCH', body: { Stage: 'x' } });
    expect(f.graph.calls.map((c) => c.status)).toEqual([504, 200]);

    f.reset();
    f.graph.injectFaults([{ status: 504, retryAfterSeconds: 0, count: 1 }]);
    const error = await failure(
      call('/me/sendMail', { method: 'POST', body: { message: { toRecipients: [{ emailAddress: { address: 'a@b.test' } }] } } }),
    );
    expect(error).toMatchObject({ kind: 'transient', status: 504 });
    expect(f.graph.calls).toHaveLength(1);
    expect(f.graph.mail).toEqual([]);
  });

  it('hands other 5xx back at once as transient', async () => {
    f.graph.injectFaults([{ status: 500, count: 1, message: 'Something broke' }]);
    const error = await failure(call('/me'));
    expect(error).toMatchObject({ kind: 'transient', status: 500 });
    expect(error.message).toContain('Something broke');
    expect(f.graph.calls).toHaveLength(1);
  });

  it('fails 400 permanently with Graph’s code and message', async () => {
    f.graph.injectFaults([{ status: 400, count: 1, code: 'invalidRequest', message: "Field 'Stagee' is not recognized" }]);
    const error = await failure(call('/sites/s/lists/l/items/1/fields', { method: 'PATCH', body: { Stagee: 'x' } }));
    expect(error).toMatchObject({ kind: 'permanent', status: 400, code: 'invalidRequest' });
    expect(error.message).toBe("Graph PATCH /sites/s/lists/l/items/1/fields -> HTTP 400 invalidRequest: Field 'Stagee' is not recognized");
    expect(f.graph.calls).toHaveLength(1);
  });

  it('reports the stand-in’s own 400 and 404 messages', async () => {
    const bad = await failure(call('/me/sendMail', { method: 'POST', body: { message: { subject: 'no one' } } }));
    expect(bad).toMatchObject({ kind: 'permanent', status: 400, code: 'ErrorInvalidRecipients' });
    expect(bad.message).toContain('At least one recipient is required');
    const missing = await failure(call('/sites/s/lists/l/items/404/fields'));
    expect(missing).toMatchObject({ kind: 'permanent', status: 404, code: 'itemNotFound' });
  });

  it('turns timeouts, dropped connections and cancellation into transient errors', async () => {
    f.graph.injectFaults([{ status: 200, count: 1, delayMs: 500 }]);
    expect(await failure(call('/me', { timeoutMs: 50 }))).toMatchObject({
      kind: 'transient',
      message: expect.stringContaining('no answer within 50 ms'),
    });

    f.graph.injectFaults([{ status: 200, count: 1, reset: true }]);
    expect(await failure(call('/me'))).toMatchObject({ kind: 'transient', message: expect.stringContaining('network error') });

    const controller = new AbortController();
    f.graph.injectFaults([{ status: 200, count: 1, delayMs: 500 }]);
    const pending = call('/me', { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    expect(await failure(pending)).toMatchObject({ kind: 'transient', message: expect.stringContaining('cancelled') });
    // The stand-in may still be checking the cancelled request's token: let it take its fault here, not in the next test.
    for (let i = 0; i < 200 && f.graph.pendingFaults() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    f.graph.injectFaults([]); // aborted before it was sent: nothing will take it
  });
});

describe('claims challenges (continuous access evaluation): answered once, never in a loop', () => {
  const claims = { access_token: { nbf: { essential: true, value: '1800000000' } } };
  /** Graph's CAE refusal of a revoked session's token (see src/tokens/claims-challenge.ts for the sources). */
  const challenge = (count: number) => ({
    status: 401,
    count,
    code: 'InvalidAuthenticationToken',
    message:
      'Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp',
    headers: { 'WWW-Authenticate': claimsChallengeHeader(claims) },
  });

  it('acquires a token with the challenge’s claims and repeats the call once with it', async () => {
    f.graph.injectFaults([challenge(1)]);
    const asked: string[] = [];
    const fresh = await f.tokenFor(CONTOSO_ADMIN); // another account, so the repeated call shows which token it carried
    const me = (await call('/me', { onClaimsChallenge: async (c) => (asked.push(c), fresh) })) as { userPrincipalName: string };
    expect(asked.map((c) => JSON.parse(c))).toEqual([claims]);
    expect(f.graph.calls.map((c) => [c.status, c.username])).toEqual([
      [401, CONTOSO_SVC_WORKPOINT.username],
      [200, CONTOSO_ADMIN.username],
    ]);
    expect(me.userPrincipalName).toBe(CONTOSO_ADMIN.username);
    expect(new Set(f.graph.calls.map((c) => c.clientRequestId)).size).toBe(1);
  });

  it('a second challenge after answering fails the call for good: one token acquisition, two Graph calls', async () => {
    f.graph.injectFaults([challenge(10)]);
    let acquisitions = 0;
    const fresh = await f.tokenFor(CONTOSO_ADMIN);
    const error = await failure(call('/me', { onClaimsChallenge: async () => (acquisitions++, fresh) }));
    expect(error).toMatchObject({ kind: 'permanent', status: 401, code: 'InvalidAuthenticationToken' });
    expect(error.message).toMatch(/claims challenge/i);
    expect(error.message).not.toContain(fresh);
    expect(acquisitions).toBe(1);
    expect(f.graph.calls).toHaveLength(2);
  });

  it('a token acquisition that fails (the grant needs a new sign-in) ends the call with that failure, nothing repeated', async () => {
    f.graph.injectFaults([challenge(1)]);
    const dead = new Error('needs re-authorization');
    await expect(call('/me', { onClaimsChallenge: async () => Promise.reject(dead) })).rejects.toBe(dead);
    expect(f.graph.calls).toHaveLength(1);
  });

  it('is not answered without a handler, and a plain 401 is never a challenge', async () => {
    f.graph.injectFaults([challenge(1)]);
    expect(await failure(call('/me'))).toMatchObject({ kind: 'permanent', status: 401 });

    f.reset();
    f.graph.injectFaults([
      { status: 401, count: 1, code: 'InvalidAuthenticationToken', headers: { 'WWW-Authenticate': 'Bearer realm=""' } },
    ]);
    let asked = 0;
    expect(await failure(call('/me', { onClaimsChallenge: async () => (asked++, token) }))).toMatchObject({
      kind: 'permanent',
      status: 401,
    });
    expect(asked).toBe(0);
  });
});

describe('the stand-in verifies the token like Graph', () => {
  const rejected = async (accessToken: string) => {
    const error = await failure(call('/me', { accessToken }));
    expect(error).toMatchObject({ kind: 'permanent', status: 401, code: 'InvalidAuthenticationToken' });
    expect(error.message).not.toContain(accessToken);
    expect(f.graph.calls).toHaveLength(1);
    expect(f.graph.calls[0]).toMatchObject({ status: 401 });
    expect(f.graph.calls[0]!.username).toBeUndefined();
    f.reset();
  };

  it('accepts a Graph token of the local provider and records the account', async () => {
    await call('/me');
    expect(f.graph.calls[0]).toMatchObject({
      method: 'GET',
      path: '/me',
      status: 200,
      username: CONTOSO_SVC_WORKPOINT.username,
      objectId: CONTOSO_SVC_WORKPOINT.objectId,
      tenantId: CONTOSO_SVC_WORKPOINT.tenantId,
    });
  });

  it('rejects expired, wrong-audience, foreign-signed and garbage tokens with 401 -> permanent', async () => {
    await rejected(await f.tokenFor(CONTOSO_SVC_WORKPOINT, { expiresInSeconds: -120 }));
    await rejected(await f.tokenFor(CONTOSO_ADMIN, { audience: LOCAL_API_AUDIENCE }));

    // Same kid as the provider's key, so it is the signature check that fails.
    const { keys } = (await (await fetch(f.idp.jwksUri)).json()) as { keys: { kid: string }[] };
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({
      tid: CONTOSO_SVC_WORKPOINT.tenantId,
      oid: CONTOSO_SVC_WORKPOINT.objectId,
      preferred_username: CONTOSO_SVC_WORKPOINT.username,
    })
      .setProtectedHeader({ alg: 'RS256', kid: keys[0]!.kid })
      .setIssuer(f.idp.issuer)
      .setAudience(GRAPH_AUDIENCE)
      .setExpirationTime('10m')
      .sign(privateKey);
    await rejected(forged);
    await rejected('not.a.jwt');
  });

  it('shows who did what at GET <url>/_local/calls, without tokens', async () => {
    await call('/me');
    const res = await fetch(`${f.graph.url}/_local/calls`);
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(JSON.parse(text).calls).toEqual([expect.objectContaining({ path: '/me', username: CONTOSO_SVC_WORKPOINT.username })]);
    expect(text).not.toContain(token);
  });
});

describe('helpers', () => {
  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('5', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:03 GMT', now)).toBe(3000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('derives a stable UUID v5 client-request-id per idempotency key', () => {
    const id = clientRequestIdFor('run-1:step-1');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(clientRequestIdFor('run-1:step-1')).toBe(id);
    expect(clientRequestIdFor('run-1:step-2')).not.toBe(id);
  });

  it('sanitizes messages: one line, bounded, tokens removed', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
    expect(sanitizeMessage(`bad\r\ntoken ${jwt} Bearer abc secret-xyz`, 'secret-xyz')).toBe(
      'bad token [redacted] Bearer [redacted] [redacted]',
    );
    expect(sanitizeMessage('x'.repeat(1000))).toHaveLength(301);
  });
});
