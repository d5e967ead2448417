/**
 * Issue 12, finding 1: who can become a connection. Through a real authorize URL, the local identity provider and
 * real MSAL: accounts without the sign-in app's service-account role (a plain user, the admin), a rewritten URL that
 * signs a victim with a live session in without interaction (`prompt=none&login_hint=`, or `prompt` removed), a
 * sign-in without a refresh token, and "authorize a new connection" landing on an account that already has one.
 * Every refusal must store nothing and change no connection.
 */
import {
  CONTOSO_ADMIN,
  CONTOSO_SVC_APPROVALS,
  CONTOSO_SVC_WORKPOINT,
  CONTOSO_USER,
  type LocalUser,
} from '../../src/local/identity-provider/directory';
import { CookieJar, signIn } from '../support/sign-in';
import { useTally } from '../support/tally';
import { startTestStack, type RecordedResponse, type TestStack } from '../support/test-stack';
import type { ConnectionView } from '../../src/connections/connection';

const tally = useTally();
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

async function authorize(path = 'connections/authorize'): Promise<string> {
  const res = await stack.api(path, { method: 'POST', body: path === 'connections/authorize' ? {} : undefined });
  expect(res.status).toBe(200);
  return res.json.authorizeUrl as string;
}

/** Connections with every field, the vault's write count, and the stored caches: a refusal changes none of them. */
async function snapshot() {
  const connections = (await stack.api('connections')).json.connections as ConnectionView[];
  const caches = await Promise.all(connections.map((c) => stack.internals.secrets.get(`conn-${c.account.tenantId}-${c.id}`)));
  return { connections, caches, writes: stack.vault.counts().writes };
}

const mainText = (page: RecordedResponse) =>
  (/<main[^>]*>([\s\S]*)<\/main>/.exec(page.text)?.[1] ?? '').replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ');

/** Waits for the next whole second: `auth_time` has seconds, so a session must be a second older than a state to be older at all. */
const nextSecond = () => new Promise((r) => setTimeout(r, 1005 - (Date.now() % 1000)));

async function connect(user: LocalUser, jar?: CookieJar) {
  const { redirectUrl } = await signIn(await authorize(), user.username, { jar });
  const page = await stack.get(redirectUrl);
  expect(page.status).toBe(200);
  return ((await stack.api('connections')).json.connections as ConnectionView[]).find((c) => c.account.objectId === user.objectId);
}

test('a user and the admin signing in through "authorize" become no connection; the page names the missing role and who assigns it', async () => {
  // Authorize URLs first: the first one of a stack writes the sign-in state key to the vault.
  const urls = [await authorize(), await authorize()];
  const before = await snapshot();
  let refused = 0;
  for (const user of [CONTOSO_USER, CONTOSO_ADMIN]) {
    const { redirectUrl } = await signIn(urls.shift()!, user.username);
    const page = await stack.get(redirectUrl);
    expect(page.status).toBe(400);
    const text = mainText(page);
    expect(text).toContain('Connections.ServiceAccount');
    expect(text).toContain(user.username);
    expect(text).toMatch(/administrator of your tenant/i);
    expect(text).toContain('Enterprise applications');
    expect(text).toContain('Users and groups');
    expect(text).toContain('No connection was created or changed');
    refused++;
  }
  expect(await snapshot()).toEqual(before);
  // The svc-* accounts carry the role and still work.
  expect((await connect(CONTOSO_SVC_APPROVALS))!.status).toBe('active');
  tally.record({
    kind: 'attack',
    category: 'Sign-in: accounts without the service-account role',
    tried: 2,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});

test('a rewritten authorize URL (prompt=none&login_hint=victim, or prompt removed) signs a live session in silently: refused, the existing connection keeps its tokens', async () => {
  // The victim: a service account whose browser has a live sign-in session at the provider, and a connection.
  const victimBrowser = new CookieJar();
  const victim = (await connect(CONTOSO_SVC_WORKPOINT, victimBrowser))!;
  await nextSecond();
  let refused = 0;
  const rewrites: [string, (u: URL) => void][] = [
    [
      'prompt=none&login_hint',
      (u) => (u.searchParams.set('prompt', 'none'), u.searchParams.set('login_hint', CONTOSO_SVC_WORKPOINT.username)),
    ],
    ['prompt removed', (u) => u.searchParams.delete('prompt')],
  ];
  for (const [name, rewrite] of rewrites) {
    for (const path of ['connections/authorize', `connections/${victim.id}/reauthorize`]) {
      const url = new URL(await authorize(path));
      rewrite(url);
      const before = await snapshot();
      const forms: string[] = [];
      const { redirectUrl } = await signIn(url.href, CONTOSO_SVC_WORKPOINT.username, {
        jar: victimBrowser,
        onForm: (html) => forms.push(html),
      });
      // The provider signed the session in without showing anything: the attack works up to the callback.
      expect(forms).toHaveLength(0);
      const page = await stack.get(redirectUrl);
      expect({ name, path, status: page.status }).toEqual({ name, path, status: 400 });
      expect(mainText(page)).toContain('signed in before this request started');
      expect(await snapshot()).toEqual(before);
      refused++;
    }
  }
  tally.record({
    kind: 'attack',
    category: 'Sign-in: silent sign-in of a live session (prompt rewritten)',
    tried: rewrites.length * 2,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});

test('a sign-in that returns no refresh token (offline_access removed from the URL) is refused, not stored', async () => {
  const url = new URL(await authorize());
  url.searchParams.set(
    'scope',
    url.searchParams
      .get('scope')!
      .split(' ')
      .filter((s) => s !== 'offline_access')
      .join(' '),
  );
  const before = await snapshot();
  const { redirectUrl } = await signIn(url.href, CONTOSO_SVC_APPROVALS.username);
  const page = await stack.get(redirectUrl);
  expect(page.status).toBe(400);
  expect(mainText(page)).toContain('no refresh token');
  expect(await snapshot()).toEqual(before);
  tally.record({ kind: 'attack', category: 'Sign-in: no refresh token', tried: 1, handled: 1, faultsInjected: 0, lost: 0 });
});

test('"authorize a new connection" as an account that already has one neither renames it nor replaces its tokens; re-authorize does', async () => {
  const existing =
    ((await stack.api('connections')).json.connections as ConnectionView[]).find(
      (c) => c.account.objectId === CONTOSO_SVC_APPROVALS.objectId,
    )! ?? (await connect(CONTOSO_SVC_APPROVALS));
  await stack.api(`connections/${existing.id}`, { method: 'PATCH', body: { displayName: 'Approvals bot' } });
  const before = await snapshot();
  const start = await stack.api('connections/authorize', { method: 'POST', body: { displayName: 'Hijacked name' } });
  const page = await stack.get((await signIn(start.json.authorizeUrl, CONTOSO_SVC_APPROVALS.username)).redirectUrl);
  expect(page.status).toBe(400);
  const text = mainText(page);
  expect(text).toContain('already has a connection');
  expect(text).toContain('Approvals bot');
  expect(text).toContain('Re-authorize');
  expect(await snapshot()).toEqual(before);
  // Re-authorization of that very connection still replaces its tokens and keeps its name and id.
  const again = await stack.get(
    (await signIn(await authorize(`connections/${existing.id}/reauthorize`), CONTOSO_SVC_APPROVALS.username)).redirectUrl,
  );
  expect(again.status).toBe(200);
  const after = await snapshot();
  expect(after.writes).toBeGreaterThan(before.writes);
  expect((after.connections as ConnectionView[]).find((c) => c.id === existing.id)!.displayName).toBe('Approvals bot');
  tally.record({
    kind: 'attack',
    category: 'Sign-in: a new connection replacing an existing one',
    tried: 1,
    handled: 1,
    faultsInjected: 0,
    lost: 0,
  });
});
