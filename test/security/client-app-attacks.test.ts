/**
 * Tokens of any client app were accepted (outside review, finding 6): the API checked `aud`, `scp`, `iss` and `tid`
 * but not which client the token was issued to, so a token obtained through the sign-in app (or any consented
 * third-party app) with the admin role worked on admin routes. Only the clients of the allow-list
 * (API_ALLOWED_CLIENT_IDS; default: the admin page's registration and the API's) get in; others get 403 naming the rule.
 * Entra names the client in `azp` (v2.0) and `appid` (v1.0): learn.microsoft.com/entra/identity-platform/access-token-claims-reference.
 */
import { CONTOSO_ADMIN, CONTOSO_USER, LOCAL_CLIENT_ID } from '../../src/local/identity-provider/directory';
import { useTally } from '../support/tally';
import { startTestStack, type TestStack } from '../support/test-stack';

const tally = useTally();
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

const THIRD_PARTY = '7e57c11e-0000-4000-8000-00000000bad1';

test('tokens issued to another client (the sign-in app, a third-party app; v1.0 and v2.0) are refused with 403 naming the rule', async () => {
  const attempts = [
    { user: CONTOSO_ADMIN, clientId: LOCAL_CLIENT_ID, version: 2, route: 'connections' },
    { user: CONTOSO_ADMIN, clientId: LOCAL_CLIENT_ID, version: 1, route: 'connections' },
    { user: CONTOSO_ADMIN, clientId: THIRD_PARTY, version: 2, route: 'processes' },
    { user: CONTOSO_ADMIN, clientId: THIRD_PARTY, version: 1, route: 'processes' },
    { user: CONTOSO_USER, clientId: THIRD_PARTY, version: 2, route: 'runs?initiatedBy=me' },
    { user: CONTOSO_USER, clientId: LOCAL_CLIENT_ID, version: 1, route: 'runs?initiatedBy=me' },
  ] as const;
  let refused = 0;
  for (const a of attempts) {
    const token = await stack.tokenFor(a.user, { clientId: a.clientId, version: a.version });
    const res = await stack.api(a.route, { token });
    expect({ ...a, user: a.user.username, status: res.status }).toEqual({ ...a, user: a.user.username, status: 403 });
    expect(res.json.error.message).toMatch(/issued to a client app that may not call this API/);
    if (res.status === 403) refused++;
  }
  // The admin page's own tokens still work, both versions.
  for (const version of [1, 2] as const)
    expect((await stack.api('connections', { token: await stack.tokenFor(CONTOSO_ADMIN, { version }) })).status).toBe(200);
  tally.record({
    kind: 'attack',
    category: 'Tokens issued to other client apps',
    tried: attempts.length,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});
