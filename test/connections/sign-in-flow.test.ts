import { connectionSecretName } from '../../src/adapters/secret-store';
import { createAppContext, setAppContext } from '../../src/app-context';
import { loadSettings, tableNames } from '../../src/config/settings';
import { SignInStateStore } from '../../src/connections/sign-in-state';
import {
  CONTOSO_ADMIN,
  CONTOSO_SVC_APPROVALS,
  CONTOSO_SVC_WORKPOINT,
  CONTOSO_USER,
  FABRIKAM_ADMIN,
  FABRIKAM_SVC,
  LOCAL_CLIENT_SECRET,
  LOCAL_CLIENT_SECRET_NEXT,
  TENANT_A,
  type LocalUser,
} from '../../src/local/identity-provider/directory';
import { revokeLocalGrants } from '../../src/local/identity-provider/launch';
import type { ConnectionView } from '../../src/connections/connection';
import { signIn } from '../support/sign-in';
import { stackPerDescribe as startPerDescribe, type TestStack } from '../support/test-stack';

/** The stack of the describe that is running: each describe starts its own (describes run one after another). */
let stack: TestStack;
/** Every authorization code and token value this describe's stack handed out: none may leak anywhere. */
const secretsSeen = new Set<string>();

/**
 * Each describe starts a stack of its own and sets up the connections it needs, so every test also passes alone
 * (`node scripts/run-each-test.mjs test/connections/sign-in-flow.test.ts`).
 */
const stackPerDescribe = () =>
  startPerDescribe({}, (started) => {
    secretsSeen.clear();
    stack = started;
  });

/** Authorizes a connection for `user` through the whole sign-in; answers it as listed. */
async function connect(user: LocalUser, displayName?: string): Promise<ConnectionView> {
  const { authorizeUrl } = await authorize(displayName);
  expect((await completeSignIn(authorizeUrl, user.username)).page.status).toBe(200);
  const connection = (await listConnections()).find((c) => c.account.objectId === user.objectId);
  if (!connection) throw new Error(`no connection of ${user.username}`);
  return connection;
}

async function authorize(displayName?: string, token?: string) {
  const res = await stack.api('connections/authorize', { method: 'POST', body: displayName ? { displayName } : {}, token });
  expect(res.status).toBe(200);
  return res.json as { authorizeUrl: string; expiresAt: string };
}

/** Re-authorization of the account's connection when it has one (a new connection cannot take it over), else authorize. */
async function authorizeFor(objectId: string, displayName?: string) {
  const existing = (await listConnections()).find((c) => c.account.objectId === objectId);
  if (!existing) return authorize(displayName);
  const res = await stack.api(`connections/${existing.id}/reauthorize`, { method: 'POST' });
  expect(res.status).toBe(200);
  return res.json as { authorizeUrl: string; expiresAt: string };
}

/** Signs in at `authorizeUrl` as `username` and opens the callback the provider redirects to. */
async function completeSignIn(authorizeUrl: string, username: string, opts: { cancel?: boolean } = {}) {
  const { redirectUrl } = await signIn(authorizeUrl, username, opts);
  expect(redirectUrl.startsWith(`${stack.baseUrl}/api/connections/callback?`)).toBe(true);
  const code = new URL(redirectUrl).searchParams.get('code');
  if (code) secretsSeen.add(code);
  return { redirectUrl, page: await stack.get(redirectUrl) };
}

async function listConnections(): Promise<ConnectionView[]> {
  const res = await stack.api('connections');
  expect(res.status).toBe(200);
  return res.json.connections as ConnectionView[];
}

async function expectNothingChanged(action: () => Promise<void>) {
  const before = await listConnections();
  const writesBefore = stack.vault.counts().writes;
  await action();
  expect(await listConnections()).toEqual(before);
  expect(stack.vault.counts().writes).toBe(writesBefore);
}

async function storedTokens(tenantId: string, id: string) {
  const cache = await stack.internals.secrets.get(connectionSecretName(tenantId, id));
  if (!cache) return undefined;
  const parsed = JSON.parse(cache) as Record<string, Record<string, { secret?: string }>>;
  for (const section of ['AccessToken', 'RefreshToken', 'IdToken']) {
    for (const entry of Object.values(parsed[section] ?? {})) if (entry.secret) secretsSeen.add(entry.secret);
  }
  return parsed;
}

describe('authorizing a connection', () => {
  stackPerDescribe();

  test('the authorize URL asks for a PKCE S256 code with state and nonce, bound to the admin tenant', async () => {
    const { authorizeUrl, expiresAt } = await authorize();
    const url = new URL(authorizeUrl);
    expect(url.origin).toBe(stack.identityProvider.url);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('state')).toMatch(new RegExp(`^${TENANT_A.id}\\.`));
    expect(url.searchParams.get('nonce')).toBeTruthy();
    expect(url.searchParams.get('redirect_uri')).toBe(`${stack.baseUrl}/api/connections/callback`);
    // A fresh, interactive sign-in (the callback checks auth_time too).
    expect(url.searchParams.get('prompt')).toBe('login');
    const lifetime = Date.parse(expiresAt) - Date.now();
    expect(lifetime).toBeGreaterThan(9 * 60_000);
    expect(lifetime).toBeLessThanOrEqual(10 * 60_000);
  });

  test('signing in as the service account shows the success page and lists the connection as default', async () => {
    const { authorizeUrl } = await authorize();
    const { page } = await completeSignIn(authorizeUrl, CONTOSO_SVC_WORKPOINT.username);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Connection set up');
    expect(page.text).toContain(CONTOSO_SVC_WORKPOINT.username);
    expect(page.text).toMatch(/close this tab/i);
    expect(page.text).toMatch(/<button id="close" type="button">Close<\/button>/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('cache-control')).toBe('no-store');

    const connections = await listConnections();
    expect(connections).toHaveLength(1);
    const [first] = connections;
    expect(first).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      displayName: CONTOSO_SVC_WORKPOINT.username,
      account: { username: CONTOSO_SVC_WORKPOINT.username, objectId: CONTOSO_SVC_WORKPOINT.objectId, tenantId: TENANT_A.id },
      status: 'active',
      statusChangedAt: expect.any(String),
      isDefault: true,
      createdAt: expect.any(String),
      createdBy: CONTOSO_ADMIN.username,
      lastRefreshedAt: expect.any(String),
      reauthorizeBy: expect.any(String),
    });
    const tokens = await storedTokens(TENANT_A.id, first.id);
    expect(Object.keys(tokens?.RefreshToken ?? {})).toHaveLength(1);
  });
});

describe('with a connection', () => {
  stackPerDescribe();
  /** WorkPoint, the first connection and so the default. */
  let first: ConnectionView;
  beforeAll(async () => {
    first = await connect(CONTOSO_SVC_WORKPOINT);
    expect(first.isDefault).toBe(true);
  });

  test('a second connection is not the default until an admin makes it so; exactly one default remains', async () => {
    const second = await connect(CONTOSO_SVC_APPROVALS, 'Approvals');
    expect(second).toMatchObject({ displayName: 'Approvals', isDefault: false });

    const patched = await stack.api(`connections/${second.id}`, {
      method: 'PATCH',
      body: { isDefault: true, displayName: 'Approvals bot' },
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ id: second.id, displayName: 'Approvals bot', isDefault: true });
    const connections = await listConnections();
    expect(connections.filter((c) => c.isDefault).map((c) => c.id)).toEqual([second.id]);

    const back = await stack.api(`connections/${first.id}`, { method: 'PATCH', body: { isDefault: true } });
    expect(back.json.isDefault).toBe(true);
    expect((await stack.api(`connections/${second.id}`)).json.isDefault).toBe(false);
  });

  test('authorizing a new connection as an account that already has one says so and changes nothing (no duplicate either)', async () => {
    const countBefore = (await listConnections()).length;
    const { authorizeUrl } = await authorize();
    await expectNothingChanged(async () => {
      const { page } = await completeSignIn(authorizeUrl, CONTOSO_SVC_WORKPOINT.username);
      expect(page.status).toBe(400);
      expect(page.text).toContain('This account already has a connection');
    });
    const connections = await listConnections();
    expect(connections).toHaveLength(countBefore);
    expect(connections.filter((c) => c.account.objectId === CONTOSO_SVC_WORKPOINT.objectId).map((c) => c.id)).toEqual([first.id]);
  });

  test('re-authorizing as the same account replaces the tokens and keeps the id', async () => {
    const secretName = connectionSecretName(TENANT_A.id, first.id);
    const versionsBefore = stack.vault.secretVersions(secretName).length;
    const res = await stack.api(`connections/${first.id}/reauthorize`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(new URL(res.json.authorizeUrl).searchParams.get('login_hint')).toBe(CONTOSO_SVC_WORKPOINT.username);
    const { page } = await completeSignIn(res.json.authorizeUrl, CONTOSO_SVC_WORKPOINT.username);
    expect(page.status).toBe(200);
    expect(page.text).toContain('re-authorized');
    expect(stack.vault.secretVersions(secretName).length).toBe(versionsBefore + 1);
    expect((await stack.api(`connections/${first.id}`)).json).toMatchObject({ id: first.id, status: 'active' });
  });

  test('re-authorizing with another account is refused and changes nothing', async () => {
    const secretName = connectionSecretName(TENANT_A.id, first.id);
    const versionsBefore = stack.vault.secretVersions(secretName).length;
    const listBefore = await listConnections();
    const res = await stack.api(`connections/${first.id}/reauthorize`, { method: 'POST' });
    const { page } = await completeSignIn(res.json.authorizeUrl, CONTOSO_SVC_APPROVALS.username);
    expect(page.status).toBe(400);
    expect(page.text).toContain('This is a different account');
    expect(page.text).toContain(CONTOSO_SVC_WORKPOINT.username);
    expect(stack.vault.secretVersions(secretName).length).toBe(versionsBefore);
    expect(await listConnections()).toEqual(listBefore);
  });

  test('test acquires a token now; a revoked grant marks the connection needs_reauth; re-authorizing heals it', async () => {
    const ok = await stack.api(`connections/${first.id}/test`, { method: 'POST' });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ ok: true, expiresOn: expect.any(String) });
    const refreshed = (await stack.api(`connections/${first.id}`)).json.lastRefreshedAt;
    expect(Date.parse(refreshed)).toBeGreaterThan(Date.now() - 10_000);

    await revokeLocalGrants(stack.identityProvider.url, CONTOSO_SVC_WORKPOINT.username);
    const dead = await stack.api(`connections/${first.id}/test`, { method: 'POST' });
    expect(dead.json).toEqual({ ok: false, status: 'needs_reauth', reason: expect.stringMatching(/re-authorize/i) });
    expect((await stack.api(`connections/${first.id}`)).json).toMatchObject({ status: 'needs_reauth', statusReason: expect.any(String) });

    const res = await stack.api(`connections/${first.id}/reauthorize`, { method: 'POST' });
    expect((await completeSignIn(res.json.authorizeUrl, CONTOSO_SVC_WORKPOINT.username)).page.status).toBe(200);
    expect((await stack.api(`connections/${first.id}`)).json.status).toBe('active');
    expect((await stack.api(`connections/${first.id}/test`, { method: 'POST' })).json.ok).toBe(true);
    await storedTokens(TENANT_A.id, first.id);
  });
});

describe('the callback refuses, with an error page and nothing stored', () => {
  stackPerDescribe();
  test('a replayed callback', async () => {
    const { authorizeUrl } = await authorizeFor(CONTOSO_SVC_APPROVALS.objectId);
    const { redirectUrl, page } = await completeSignIn(authorizeUrl, CONTOSO_SVC_APPROVALS.username);
    expect(page.status).toBe(200);
    await expectNothingChanged(async () => {
      const replay = await stack.get(redirectUrl);
      expect(replay.status).toBe(400);
      expect(replay.text).toContain('This sign-in link is not valid');
      expect(replay.text).toMatch(/start again/i);
    });
  });

  test('an unknown or malformed state', async () => {
    await expectNothingChanged(async () => {
      for (const state of [`${TENANT_A.id}.${'A'.repeat(43)}`, 'garbage', `${TENANT_A.id}.x' or PartitionKey ne '`]) {
        const res = await stack.get(`${stack.baseUrl}/api/connections/callback?state=${encodeURIComponent(state)}&code=abc`);
        expect(res.status).toBe(400);
        expect(res.text).toContain('This sign-in link is not valid');
      }
      const missing = await stack.get(`${stack.baseUrl}/api/connections/callback`);
      expect(missing.status).toBe(400);
    });
  });

  test('an expired state', async () => {
    const past = new SignInStateStore(
      stack.internals.tables,
      tableNames(stack.context.settings).signInStates,
      stack.internals.signInStateKeys,
      () => Date.now() - 11 * 60_000,
    );
    const started = await past.start({
      tenantId: TENANT_A.id,
      adminObjectId: CONTOSO_ADMIN.objectId,
      adminUsername: CONTOSO_ADMIN.username,
    });
    await expectNothingChanged(async () => {
      const res = await stack.get(`${stack.baseUrl}/api/connections/callback?state=${encodeURIComponent(started.state)}&code=abc`);
      expect(res.status).toBe(400);
      expect(res.text).toContain('This sign-in has expired');
    });
  });

  test('an error from the identity provider (the user cancelled); its description is never shown', async () => {
    const { authorizeUrl } = await authorize();
    await expectNothingChanged(async () => {
      const { page } = await completeSignIn(authorizeUrl, CONTOSO_SVC_APPROVALS.username, { cancel: true });
      expect(page.status).toBe(400);
      expect(page.text).toContain('Sign-in was cancelled');
    });
    const { authorizeUrl: second } = await authorize();
    const state = new URL(second).searchParams.get('state')!;
    const injected = `<script>alert(1)</script><img src=x onerror=alert(2)>`;
    const res = await stack.get(
      `${stack.baseUrl}/api/connections/callback?state=${encodeURIComponent(state)}&error=consent_required&error_description=${encodeURIComponent(injected)}`,
    );
    expect(res.status).toBe(400);
    expect(res.text).not.toContain('<script>alert');
    expect(res.text).not.toContain('<img');
    // The description is the provider's text as the query carries it: never shown; the code is, with our own words.
    expect(res.text).not.toContain('alert(1)');
    expect(res.text).toContain('consent_required');
    // The state was consumed by the error: it cannot be reused.
    expect((await stack.get(`${stack.baseUrl}/api/connections/callback?state=${encodeURIComponent(state)}&code=abc`)).text).toContain(
      'This sign-in link is not valid',
    );
  });

  test('an account from another tenant', async () => {
    const { authorizeUrl } = await authorize();
    await expectNothingChanged(async () => {
      const { page } = await completeSignIn(authorizeUrl, FABRIKAM_SVC.username);
      expect(page.status).toBe(400);
      expect(page.text).toContain('This account belongs to another organization');
    });
  });
});

describe('the admin API', () => {
  stackPerDescribe();
  /** Two connections of Contoso; WorkPoint is the default. */
  let someone: ConnectionView;
  beforeAll(async () => {
    someone = await connect(CONTOSO_SVC_WORKPOINT);
    await connect(CONTOSO_SVC_APPROVALS, 'Approvals');
  });

  test('requires a valid admin token: 401 without, 403 without the admin role', async () => {
    expect((await stack.api('connections', { token: null })).status).toBe(401);
    expect((await stack.api('connections', { token: 'not.a.jwt' })).status).toBe(401);
    expect((await stack.api('connections', { token: await stack.tokenFor(CONTOSO_ADMIN, { expiresInSeconds: -120 }) })).status).toBe(401);
    expect(
      (await stack.api('connections', { token: await stack.tokenFor(CONTOSO_ADMIN, { audience: 'api://someone-else' }) })).status,
    ).toBe(401);
    const noRole = await stack.api('connections', { token: await stack.tokenFor(CONTOSO_USER) });
    expect(noRole.status).toBe(403);
    expect(noRole.json.error.message).toContain('Connections.Admin');
  });

  test("scopes everything to the token's tenant: another tenant's connection is 404", async () => {
    const fabrikam = await stack.tokenFor(FABRIKAM_ADMIN);
    expect((await stack.api('connections', { token: fabrikam })).json.connections).toEqual([]);
    for (const [method, path] of [
      ['GET', ''],
      ['DELETE', ''],
      ['POST', '/test'],
      ['POST', '/reauthorize'],
    ]) {
      expect((await stack.api(`connections/${someone.id}${path}`, { method, token: fabrikam })).status).toBe(404);
    }
    expect((await stack.api(`connections/${someone.id}`, { method: 'PATCH', body: { isDefault: true }, token: fabrikam })).status).toBe(
      404,
    );
    expect((await stack.api(`connections/${someone.id}`)).status).toBe(200);
  });

  test('answers malformed ids and bodies with 400 and a JSON error', async () => {
    for (const id of ["x' or '1' eq '1", '..%2F..%2Fsecrets', 'not-a-guid']) {
      const res = await stack.api(`connections/${id}`);
      expect(res.status).toBe(400);
      expect(res.json.error.message).toBeTruthy();
    }
    const cases: [string, string][] = [
      ['{', 'not valid JSON'],
      [JSON.stringify({ isDefault: 'yes' }), 'Invalid body'],
      [JSON.stringify({ displayName: '' }), 'Invalid body'],
      [JSON.stringify({ surprise: 1 }), 'Invalid body'],
      [JSON.stringify({}), 'Invalid body'],
    ];
    for (const [rawBody, message] of cases) {
      const res = await stack.api(`connections/${someone.id}`, { method: 'PATCH', rawBody });
      expect(res.status).toBe(400);
      expect(res.json.error.message).toContain(message);
    }
    expect((await stack.api('connections/authorize', { method: 'POST', body: { displayName: 7 } })).status).toBe(400);
    expect((await stack.api(`connections/${someone.id}`)).json).toEqual(someone);
  });

  test('DELETE removes the Key Vault secret and moves the default to a remaining connection', async () => {
    const before = await listConnections();
    expect(before).toHaveLength(2);
    const target = before.find((c) => c.isDefault)!;
    const secretName = connectionSecretName(TENANT_A.id, target.id);
    expect(await stack.internals.secrets.get(secretName)).toBeDefined();
    expect((await stack.api(`connections/${target.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await stack.internals.secrets.get(secretName)).toBeUndefined();
    const after = await listConnections();
    expect(after.map((c) => c.id)).toEqual(before.filter((c) => c.id !== target.id).map((c) => c.id));
    expect(after.filter((c) => c.isDefault)).toHaveLength(1);
    expect((await stack.api(`connections/${target.id}`)).status).toBe(404);
  });
});

describe('rotating the client secret', () => {
  stackPerDescribe();
  test('between authorize and callback, the sign-in completes on an instance that already has the new secret', async () => {
    expect(stack.context.settings.AUTH_CLIENT_SECRET).toBe(LOCAL_CLIENT_SECRET);
    const { authorizeUrl } = await authorizeFor(CONTOSO_SVC_APPROVALS.objectId, 'Rotation');
    const { redirectUrl } = await signIn(authorizeUrl, CONTOSO_SVC_APPROVALS.username);
    const code = new URL(redirectUrl).searchParams.get('code');
    if (code) secretsSeen.add(code);
    // Instances pick up a new Key Vault secret version at different times: the callback lands on one that has it.
    const rotated = createAppContext(loadSettings({ ...stack.env, AUTH_CLIENT_SECRET: LOCAL_CLIENT_SECRET_NEXT }), stack.overrides);
    setAppContext(rotated);
    let page;
    try {
      page = await stack.get(redirectUrl);
    } finally {
      setAppContext(stack.context);
    }
    expect(page.text).toContain('Connection set up');
    expect(page.status).toBe(200);
    const connection = (await listConnections()).find((c) => c.account.objectId === CONTOSO_SVC_APPROVALS.objectId)!;
    expect(connection).toMatchObject({ status: 'active' });
    // The rotated instance's tokens refresh with the new secret as well.
    expect((await stack.api(`connections/${connection.id}/test`, { method: 'POST' })).json).toMatchObject({ ok: true });
  });
});

describe('token material', () => {
  stackPerDescribe();
  beforeAll(async () => {
    // Sign-ins, a re-authorization and a test call: codes, verifiers, access, refresh and ID tokens.
    const workpoint = await connect(CONTOSO_SVC_WORKPOINT);
    await connect(CONTOSO_SVC_APPROVALS, 'Approvals');
    const res = await stack.api(`connections/${workpoint.id}/reauthorize`, { method: 'POST' });
    expect((await completeSignIn(res.json.authorizeUrl, CONTOSO_SVC_WORKPOINT.username)).page.status).toBe(200);
    expect((await stack.api(`connections/${workpoint.id}/test`, { method: 'POST' })).json).toMatchObject({ ok: true });
  });

  test('no token, code or verifier appears in Table rows, responses or logs', async () => {
    for (const c of await listConnections()) await storedTokens(TENANT_A.id, c.id);
    expect(secretsSeen.size).toBeGreaterThan(5);
    const rows: string[] = [];
    for (const name of Object.values(tableNames(stack.context.settings))) {
      const table = await stack.internals.tables(name);
      for await (const row of table.listEntities()) rows.push(JSON.stringify(row));
    }
    expect(rows.length).toBeGreaterThan(0);
    const haystacks = { rows: rows.join('\n'), responses: stack.responses.join('\n'), logs: stack.logs.join('\n') };
    for (const [where, text] of Object.entries(haystacks)) {
      for (const secret of secretsSeen) {
        if (text.includes(secret)) throw new Error(`token material found in ${where}`);
      }
      expect(text).not.toMatch(/refresh_token|code_verifier|"secret"/i);
    }
  });
});
