/**
 * Attacks on the sign-in callback (GET /api/connections/callback) over HTTP, with real sign-ins at the local
 * identity provider and real MSAL: forged and cross-tenant states, a code replayed with another sign-in's state,
 * a tampered nonce or PKCE challenge, markup and header injection through `error`/`error_description`, markup in
 * display names, and the security headers of every page. Every refusal must store nothing.
 * (Replayed, unknown, malformed and expired states, a cancelled sign-in, an account of another tenant and
 * re-authorization as another account are in test/connections/sign-in-flow.test.ts.)
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  CONTOSO_ADMIN,
  CONTOSO_SVC_APPROVALS,
  CONTOSO_SVC_WORKPOINT,
  FABRIKAM_ADMIN,
  FABRIKAM_SVC,
  TENANT_A,
  TENANT_B,
} from '../../src/local/identity-provider/directory';
import { tableNames } from '../../src/config/settings';
import type { ConnectionView } from '../../src/connections/connection';
import { SignInStateStore } from '../../src/connections/sign-in-state';
import { signIn } from '../support/sign-in';
import { useTally } from '../support/tally';
import { startTestStack, type RecordedResponse, type TestStack } from '../support/test-stack';

const tally = useTally();
let stack: TestStack;
/** Every HTML page the callback answered in this file: each is checked for the security headers as it arrives. */
const pages: RecordedResponse[] = [];

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

async function authorize(options: { displayName?: string; token?: string } = {}) {
  const res = await stack.api('connections/authorize', {
    method: 'POST',
    body: options.displayName ? { displayName: options.displayName } : {},
    ...(options.token ? { token: options.token } : {}),
  });
  expect(res.status).toBe(200);
  const authorizeUrl = res.json.authorizeUrl as string;
  return { authorizeUrl, state: new URL(authorizeUrl).searchParams.get('state')! };
}

/** The headers every callback page must send, and its only script the one its CSP allows by hash. */
function expectSecurePage(page: RecordedResponse) {
  const csp = page.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("base-uri 'none'");
  expect(csp).toContain("form-action 'none'");
  const scriptSrc = /script-src ([^;]*)/.exec(csp)?.[1] ?? '';
  expect(scriptSrc).toMatch(/^'sha256-[A-Za-z0-9+/=]+'$/);
  expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  expect(page.headers.get('cache-control')).toBe('no-store');
  expect(page.headers.get('referrer-policy')).toBe('no-referrer');
  expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
  const scripts = [...page.text.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  expect(scripts).toHaveLength(1);
  expect(`'sha256-${createHash('sha256').update(scripts[0]).digest('base64')}'`).toBe(scriptSrc);
}

async function callback(query: string | URLSearchParams | Record<string, string>) {
  const qs = typeof query === 'string' ? query : new URLSearchParams(query).toString();
  const page = await stack.get(`${stack.baseUrl}/api/connections/callback${qs ? `?${qs}` : ''}`);
  expectSecurePage(page);
  pages.push(page);
  return page;
}

async function open(redirectUrl: string) {
  const page = await stack.get(redirectUrl);
  expectSecurePage(page);
  pages.push(page);
  return page;
}

/** A whole sign-in as `username` from a fresh authorize: code, PKCE verifier, stored tokens; answers the page. */
async function signInAndOpen(username: string, displayName?: string) {
  const { authorizeUrl } = await authorize({ displayName });
  const { redirectUrl } = await signIn(authorizeUrl, username);
  return open(redirectUrl);
}

/** Connections of both tenants and the vault's write count: a refused callback changes none of them. */
async function snapshot() {
  const [a, b] = await Promise.all([stack.api('connections'), stack.api('connections', { token: await stack.tokenFor(FABRIKAM_ADMIN) })]);
  return { a: a.json.connections as ConnectionView[], b: b.json.connections as ConnectionView[], writes: stack.vault.counts().writes };
}

const random43 = () => randomBytes(32).toString('base64url');

test('forged and expired states: well-formed, other partitions, odd shapes — all refused, nothing stored', async () => {
  const { state: real } = await authorize();
  // `<tenant>.<key version>.<random>`
  const [, version, realRandom] = real.split('.');
  const tail = `${version}.${realRandom}`;
  const forged = [
    `${TENANT_A.id}.${version}.${random43()}`,
    `${TENANT_B.id}.${version}.${random43()}`,
    // The real state's random part under the other tenant's partition: the row is not there.
    `${TENANT_B.id}.${tail}`,
    `${TENANT_A.id.toUpperCase()}.${tail}`,
    `${TENANT_A.id}.${tail}.extra`,
    `${TENANT_A.id}.${tail.slice(0, -1)}`,
    `${TENANT_A.id}.${tail}=`,
    `00000000-0000-0000-0000-000000000000.${tail}`,
    // The real random part under a key version the vault does not have, or in another case, or without one.
    `${TENANT_A.id}.${'0'.repeat(32)}.${realRandom}`,
    `${TENANT_A.id}.${version.toUpperCase()}.${realRandom}`,
    `${TENANT_A.id}.${realRandom}`,
    `${TENANT_A.id}`,
    `.${tail}`,
    `${TENANT_A.id}.${'A'.repeat(5000)}`,
    `${TENANT_A.id}.../../${tail}`,
    `${TENANT_A.id}.${tail}\r\nSet-Cookie: x=1`,
  ];
  const before = await snapshot();
  let refused = 0;
  for (const state of forged) {
    const page = await callback({ state, code: 'stolen-or-made-up-code' });
    expect(page.status).toBe(400);
    expect(page.text).toContain('This sign-in link is not valid');
    expect(page.headers.get('set-cookie')).toBeNull();
    refused++;
  }
  // A genuine state that expired a second ago.
  const past = new SignInStateStore(
    stack.internals.tables,
    tableNames(stack.context.settings).signInStates,
    stack.internals.signInStateKeys,
    () => Date.now() - 10 * 60_000 - 1000,
  );
  const expired = await past.start({ tenantId: TENANT_A.id, adminObjectId: CONTOSO_ADMIN.objectId, adminUsername: CONTOSO_ADMIN.username });
  const late = await callback({ state: expired.state, code: 'a-code-that-would-have-been-valid' });
  expect(late.status).toBe(400);
  expect(late.text).toContain('This sign-in has expired');
  refused++;
  const missing = [await callback({ code: 'x' }), await callback(''), await callback({ state: '', code: '' })];
  for (const page of missing) {
    expect(page.status).toBe(400);
    refused++;
  }
  expect(await snapshot()).toEqual(before);

  // None of it consumed the real state: its own sign-in still completes.
  const { authorizeUrl: again } = await authorize();
  expect(new URL(again).searchParams.get('state')).not.toBe(real);
  tally.record({
    kind: 'attack',
    category: 'Callback: forged, expired, cross-partition and malformed states',
    tried: forged.length + missing.length + 1,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});

test("a state minted for tenant A with the partition changed to B does not consume A's state, which still works", async () => {
  const { authorizeUrl, state } = await authorize({ displayName: 'Partition check' });
  const { redirectUrl } = await signIn(authorizeUrl, CONTOSO_SVC_WORKPOINT.username);
  const url = new URL(redirectUrl);
  const swapped = new URL(redirectUrl);
  swapped.searchParams.set('state', `${TENANT_B.id}.${state.split('.').slice(1).join('.')}`);
  const before = await snapshot();
  const attack = await open(swapped.href);
  expect(attack.status).toBe(400);
  expect(attack.text).toContain('This sign-in link is not valid');
  expect(await snapshot()).toEqual(before);
  const legit = await open(url.href);
  expect(legit.status).toBe(200);
  expect((await snapshot()).b).toEqual(before.b);
  tally.record({
    kind: 'attack',
    category: 'Callback: forged, expired, cross-partition and malformed states',
    tried: 1,
    handled: 1,
    faultsInjected: 0,
    lost: 0,
  });
});

test("an authorization code replayed with another sign-in's state is refused and stores nothing", async () => {
  const first = await authorize();
  const { redirectUrl } = await signIn(first.authorizeUrl, CONTOSO_SVC_APPROVALS.username);
  const stolenCode = new URL(redirectUrl).searchParams.get('code')!;
  const second = await authorize();
  const before = await snapshot();
  // The code was issued for the first sign-in's PKCE challenge; the second state derives another verifier.
  const page = await callback({ state: second.state, code: stolenCode });
  expect(page.status).toBe(400);
  expect(page.text).toContain('Sign-in could not be completed');
  expect(await snapshot()).toEqual(before);
  // The second state is spent by the attempt.
  const again = await callback({ state: second.state, code: stolenCode });
  expect(again.text).toContain('This sign-in link is not valid');
  // And the first state cannot be used with a made-up code to "finish" later either: it is single-use after its own callback.
  const own = await open(redirectUrl);
  const replay = await open(redirectUrl);
  expect(replay.status).toBe(400);
  expect(replay.text).toContain('This sign-in link is not valid');
  expect([200, 400]).toContain(own.status);
  tally.record({ kind: 'attack', category: 'Callback: replayed codes and states', tried: 3, handled: 3, faultsInjected: 0, lost: 0 });
});

test('a sign-in started by the admin of tenant B and completed with an account of tenant A is refused in both tenants', async () => {
  const { authorizeUrl } = await authorize({ token: await stack.tokenFor(FABRIKAM_ADMIN) });
  expect(new URL(authorizeUrl).searchParams.get('state')).toMatch(new RegExp(`^${TENANT_B.id}\\.`));
  const before = await snapshot();
  const { redirectUrl } = await signIn(authorizeUrl, CONTOSO_SVC_APPROVALS.username);
  const page = await open(redirectUrl);
  expect(page.status).toBe(400);
  expect(page.text).toContain('This account belongs to another organization');
  expect(await snapshot()).toEqual(before);
  // The other way round, tenant B's own account is accepted for tenant B only.
  const { authorizeUrl: own } = await authorize({ token: await stack.tokenFor(FABRIKAM_ADMIN) });
  const ok = await open((await signIn(own, FABRIKAM_SVC.username)).redirectUrl);
  expect(ok.status).toBe(200);
  const after = await snapshot();
  expect(after.a).toEqual(before.a);
  expect(after.b.map((c) => c.account.username)).toEqual([FABRIKAM_SVC.username]);
  tally.record({ kind: 'attack', category: 'Callback: cross-tenant sign-in', tried: 1, handled: 1, faultsInjected: 0, lost: 0 });
});

test('a tampered nonce or PKCE challenge in the authorize URL: the code is issued but cannot be redeemed', async () => {
  let refused = 0;
  const tamper = [
    ['nonce', randomBytes(16).toString('base64url')],
    ['code_challenge', createHash('sha256').update('attacker-verifier').digest('base64url')],
  ] as const;
  for (const [param, value] of tamper) {
    const { authorizeUrl } = await authorize();
    const url = new URL(authorizeUrl);
    url.searchParams.set(param, value);
    const before = await snapshot();
    const { redirectUrl } = await signIn(url.href, CONTOSO_SVC_APPROVALS.username);
    expect(new URL(redirectUrl).searchParams.get('code')).toBeTruthy();
    const page = await open(redirectUrl);
    expect(page.status).toBe(400);
    expect(page.text).toContain('Sign-in could not be completed');
    expect(page.text).toContain('No connection was created or changed');
    expect(await snapshot()).toEqual(before);
    refused++;
  }
  tally.record({
    kind: 'attack',
    category: 'Callback: mismatched nonce or PKCE challenge',
    tried: tamper.length,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});

const payloads = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '"><svg/onload=alert(1)>',
  "'><iframe src=javascript:alert(1)>",
  '</title></main><script src=//evil.test/x.js></script>',
  '<a href="javascript:alert(1)">Continue</a>',
  '<meta http-equiv="refresh" content="0;url=https://evil.test">',
  '<style>body{background:url(//evil.test)}</style>',
  '&lt;script&gt;alert(1)&lt;/script&gt;',
  '`${alert(1)}` {{constructor.constructor("alert(1)")()}}',
  'line\r\nSet-Cookie: session=stolen\r\n\r\n<script>alert(1)</script>',
  `${'<b>'.repeat(2000)}`,
];

/**
 * True when the page shows nothing as markup but its own: inside <main> only the page's own tags, and in the whole
 * page exactly one script (the Close button's, which the CSP pins by hash).
 */
function inert(page: RecordedResponse): boolean {
  const main = /<main[^>]*>([\s\S]*)<\/main>/.exec(page.text)?.[1];
  if (main === undefined) return false;
  const tags = [...main.matchAll(/<\/?([A-Za-z][A-Za-z0-9-]*)/g)].map((m) => m[1].toLowerCase());
  const own = new Set(['h1', 'p', 'q', 'strong', 'em', 'button']);
  return (
    tags.every((t) => own.has(t)) && (page.text.match(/<script/gi) ?? []).length === 1 && (page.text.match(/<meta/gi) ?? []).length === 2
  );
}

test('code injection through error and error_description is shown escaped, never as markup or headers', async () => {
  let refused = 0;
  let tried = 0;
  for (const payload of payloads) {
    const { state } = await authorize();
    const queries: Record<string, string>[] = [
      { state, error: 'consent_required', error_description: payload },
      { error: 'access_denied', error_description: payload },
      { error: payload, error_description: 'x' },
    ];
    for (const query of queries) {
      tried++;
      const page = await callback(query);
      expect(page.status).toBe(400);
      expect(inert(page)).toBe(true);
      expect(page.headers.get('set-cookie')).toBeNull();
      expect(page.headers.get('refresh')).toBeNull();
      refused++;
    }
  }
  // Neither the description nor the code of a callback without a state is shown at all (finding 5, below).
  const shown = await callback({ error: 'access_denied', error_description: '<script>alert(1)</script>' });
  expect(shown.text).not.toContain('alert(1)');
  tally.record({
    kind: 'attack',
    category: 'Callback: markup and header injection via error / error_description',
    tried,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});

/** The text of the page's <main>, tags removed: what a reader sees. */
const visibleText = (page: RecordedResponse) => (/<main[^>]*>([\s\S]*)<\/main>/.exec(page.text)?.[1] ?? '').replace(/<[^>]*>/g, ' ');

test('attacker text in error / error_description is never shown: a fixed message without a state, only known codes and descriptions with one', async () => {
  const lure = 'Security alert: re-enter your password at https://evil.example';
  // The tenant's first sign-in creates the sign-in state key (one vault write): not a change this test is about.
  await authorize();
  const before = await snapshot();
  let refused = 0;
  // No state, a forged state, an empty one: nothing from the query reaches the page.
  const stateless: Record<string, string>[] = [
    { error: 'access_denied', error_description: lure },
    { error: lure, error_description: lure },
    { error: 'consent_required', error_description: lure },
    { state: `${TENANT_A.id}.${'0'.repeat(32)}.${random43()}`, error: 'access_denied', error_description: lure },
    { state: '', error: lure },
  ];
  for (const query of stateless) {
    const page = await callback(query);
    expect(page.status).toBe(400);
    const text = visibleText(page);
    expect(text).not.toContain('evil.example');
    expect(text).not.toContain('Security alert');
    expect(text).not.toContain('password');
    refused++;
  }
  // With a genuine state the provider's code is shown when it looks like one, the description only from a known list.
  const withState: { query: Record<string, string>; shows: string[]; hides: string[] }[] = [
    {
      query: { error: 'access_denied', error_description: lure },
      shows: ['You cancelled the sign-in'],
      hides: ['evil.example', 'Security alert'],
    },
    {
      query: { error: 'consent_required', error_description: lure },
      shows: ['consent_required'],
      hides: ['evil.example', 'Security alert'],
    },
    {
      query: { error: 'temporarily_unavailable.v2', error_description: lure },
      shows: ['temporarily_unavailable.v2'],
      hides: ['evil.example'],
    },
    { query: { error: lure, error_description: 'x' }, shows: [], hides: ['evil.example', 'Security alert'] },
    { query: { error: 'a'.repeat(65) }, shows: [], hides: ['a'.repeat(65)] },
  ];
  for (const { query, shows, hides } of withState) {
    const { state } = await authorize();
    const page = await callback({ state, ...query });
    expect(page.status).toBe(400);
    const text = visibleText(page);
    for (const s of shows) expect(text).toContain(s);
    for (const h of hides) expect(text).not.toContain(h);
    refused++;
  }
  expect(await snapshot()).toEqual(before);
  tally.record({
    kind: 'attack',
    category: 'Callback: attacker text via error / error_description',
    tried: stateless.length + withState.length,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});

test('display names with markup are escaped on the success page and stay data in JSON', async () => {
  const names = ['<img src=x onerror=alert(1)>', '"><script>alert(document.cookie)</script>', "WorkPoint's <b>bot</b> & co"];
  let escaped = 0;
  // The account is free for a new connection only without one (an earlier test connected it).
  for (const c of (await stack.api('connections')).json.connections as ConnectionView[]) {
    if (c.account.objectId === CONTOSO_SVC_WORKPOINT.objectId) await stack.api(`connections/${c.id}?force=true`, { method: 'DELETE' });
  }
  for (const displayName of names) {
    const { authorizeUrl } = await authorize({ displayName });
    const { redirectUrl } = await signIn(authorizeUrl, CONTOSO_SVC_WORKPOINT.username);
    const page = await open(redirectUrl);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Connection');
    expect(inert(page)).toBe(true);
    expect(page.text).toContain(
      displayName
        .replace(/&/g, '&amp;')
        .replace(/</g, '&lt;')
        .replace(/>/g, '&gt;')
        .replace(/"/g, '&quot;')
        .replace(/'/g, '&#39;')
        .replace(/\//g, '&#47;'),
    );
    expect(page.text).toContain(CONTOSO_SVC_WORKPOINT.username);
    const list = await stack.api('connections');
    expect(list.headers.get('content-type')).toMatch(/^application\/json/);
    expect(list.headers.get('x-content-type-options')).toBe('nosniff');
    const connection = (list.json.connections as ConnectionView[]).find((c) => c.account.username === CONTOSO_SVC_WORKPOINT.username);
    expect(connection!.displayName).toBe(displayName);
    // A new connection never takes over an account's existing one: the next name needs the account free again.
    expect((await stack.api(`connections/${connection!.id}?force=true`, { method: 'DELETE' })).status).toBe(204);
    escaped++;
  }
  tally.record({
    kind: 'attack',
    category: 'Success page: markup in display names',
    tried: names.length,
    handled: escaped,
    faultsInjected: 0,
    lost: 0,
  });
});

test('every callback page sent the security headers, and its only script is the one the CSP allows', async () => {
  // Pages of its own, so that this test also checks each kind when it runs alone: success, refusal, provider error.
  // A new connection never takes over an account's existing one: free the account first if an earlier test used it.
  const existing = ((await stack.api('connections')).json.connections as ConnectionView[]).find(
    (c) => c.account.username === CONTOSO_SVC_APPROVALS.username,
  );
  if (existing) expect((await stack.api(`connections/${existing.id}?force=true`, { method: 'DELETE' })).status).toBe(204);
  const own = [
    await signInAndOpen(CONTOSO_SVC_APPROVALS.username, 'Headers'),
    await callback({ state: `${TENANT_A.id}.${random43()}`, code: 'abc' }),
    await callback({ state: (await authorize()).state, error: 'access_denied', error_description: 'cancelled' }),
  ];
  expect(own.map((p) => p.status)).toEqual([200, 400, 400]);
  let ok = 0;
  for (const page of pages) {
    expectSecurePage(page);
    ok++;
  }
  expect(ok).toBeGreaterThanOrEqual(own.length);
  tally.record({
    kind: 'attack',
    category: 'Callback pages: CSP, nosniff, no-store, no referrer',
    tried: pages.length,
    handled: ok,
    faultsInjected: 0,
    lost: 0,
  });
});

test("this file's logs and responses hold none of the tokens, codes and verifiers it handled", async () => {
  // A sign-in of its own, so that every kind below was handled even when this test runs alone.
  expect((await signInAndOpen(CONTOSO_SVC_WORKPOINT.username)).status).toBe(200);
  // Add the tokens stored in the vault now (stop() does it again for the suite-wide check).
  for (const c of (await stack.api('connections')).json.connections as ConnectionView[]) {
    const cache = JSON.parse((await stack.internals.secrets.get(`conn-${TENANT_A.id}-${c.id}`)) ?? '{}');
    for (const section of ['AccessToken', 'RefreshToken', 'IdToken']) {
      for (const e of Object.values<{ secret?: string }>(cache[section] ?? {})) if (e.secret) stack.secretsSeen.set(e.secret, section);
    }
  }
  const kinds = new Set(stack.secretsSeen.values());
  for (const kind of ['authorization code', 'PKCE verifier', 'admin access token', 'client secret', 'RefreshToken', 'AccessToken'])
    expect(kinds).toContain(kind);
  const logs = stack.logs.join('\n');
  const responses = stack.responses.join('\n');
  for (const [value, kind] of stack.secretsSeen) {
    if (value.length < 16) continue; // the made-up codes of the attacks above
    if (logs.includes(value)) throw new Error(`${kind} found in logs`);
    if (responses.includes(value)) throw new Error(`${kind} found in responses`);
  }
  tally.uncounted();
});
