/**
 * Attacks on the admin API over HTTP, against every admin route the app registers (functions/definitions.ts, so a
 * new route is covered without editing this file): missing, malformed, expired, not-yet-valid, wrong-audience and
 * wrong-issuer tokens (a v1.0 token with the v2.0 issuer and the reverse included), ID tokens and tokens without the
 * API's delegated scope, `alg: none`, algorithm confusion, tokens signed by another key under the provider's key id,
 * tampered payloads, tokens without the admin role; a tenant B admin on tenant A's connections, processes and runs;
 * ids and queries with OData filter syntax or path characters. No attack may change anything. Entra issues v1.0 or
 * v2.0 access tokens depending on the API registration: both are used (src/local/identity-provider/token-versions.ts).
 *
 * To forge tokens that differ from a valid one in exactly one claim, the app's ADMIN_TOKEN_JWKS_URI points at a
 * small HTTPS key set serving the local identity provider's keys plus one test key the test holds: a token the
 * test signs with that key and correct claims is accepted (the control), so each refusal is due to the one claim.
 * (No token, an expired one, a wrong audience, no role and tenant B on tenant A's connections are also in
 * test/connections/sign-in-flow.test.ts.)
 */
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';
import { functionDefinitions } from '../../functions/definitions';
import type { HttpFunction } from '../../functions/registry';
import { ensureLocalCertificate } from '../../src/local/certs';
import {
  CONTOSO_ADMIN,
  CONTOSO_SVC_WORKPOINT,
  CONTOSO_USER,
  FABRIKAM_ADMIN,
  GRAPH_AUDIENCE,
  LOCAL_API_AUDIENCE,
  LOCAL_API_CLIENT_ID,
  LOCAL_API_SCOPE,
  LOCAL_PORTAL_CLIENT_ID,
  TENANT_A,
  TENANT_B,
} from '../../src/local/identity-provider/directory';
import { authorizeConnection } from '../support/connections';
import { useTally } from '../support/tally';
import { startTestStack, type RecordedResponse, type TestStack } from '../support/test-stack';
import type { ConnectionView } from '../../src/connections/connection';
import type { RunView } from '../../src/runs/run';

const tally = useTally();
let stack: TestStack;
let keySet: https.Server;
let providerJwksUri = '';
let trustedKey: KeyLike;
let attackerKey: KeyLike;
let providerKid = '';
let providerJwk: JWK;
const TRUSTED_KID = 'test-trusted-key';

/** Tenant A's data, which no refused call may change or reveal. */
const a = { connectionId: '', processId: 'payroll-sync', runId: '' };

beforeAll(async () => {
  const trusted = await generateKeyPair('RS256', { extractable: true });
  trustedKey = trusted.privateKey;
  attackerKey = (await generateKeyPair('RS256')).privateKey;
  const trustedJwk = { ...(await exportJWK(trusted.publicKey)), kid: TRUSTED_KID, alg: 'RS256', use: 'sig' };
  const cert = await ensureLocalCertificate();
  keySet = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    void (async () => {
      const provider = (await (await fetch(providerJwksUri)).json()) as { keys: JWK[] };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [...provider.keys, trustedJwk] }));
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => keySet.listen(0, '127.0.0.1', resolve));
  const keySetUrl = `https://localhost:${(keySet.address() as AddressInfo).port}/keys`;

  stack = await startTestStack({ env: { ADMIN_TOKEN_JWKS_URI: keySetUrl } });
  providerJwksUri = stack.identityProvider.jwksUri;
  providerJwk = ((await (await fetch(providerJwksUri)).json()) as { keys: JWK[] }).keys[0];
  providerKid = providerJwk.kid!;

  const connection = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'Payroll');
  a.connectionId = connection.id;
  const process = {
    name: 'Payroll sync',
    kind: 'system',
    triggers: [{ event: 'ItemCreated' }],
    steps: [{ id: 'mark', type: 'action', action: 'updateFields', inputs: { fields: { Synced: true } } }],
  };
  expect((await stack.api(`processes/${a.processId}`, { method: 'PUT', body: process })).status).toBe(200);
  expect((await stack.api(`processes/${a.processId}/publish`, { method: 'POST' })).status).toBe(200);
  expect(
    (
      await stack.api('events', {
        method: 'POST',
        body: { type: 'ItemCreated', subject: { siteId: 's', listId: 'l', itemId: '1' }, data: {} },
      })
    ).status,
  ).toBe(202);
  await stack.bus.idle();
  a.runId = (await stack.api('runs')).json.runs[0].id;
});
afterAll(async () => {
  await stack?.stop();
  await new Promise<void>((resolve) => (keySet ? keySet.close(() => resolve()) : resolve()));
});

/**
 * The routes any user of the tenant may call (user processes, issue 13): without the admin role they answer only
 * about the caller's own runs, so a token that lacks only the role gets 403 or 404 there, never tenant A's data.
 */
const userRouteNames = new Set([
  'runs-list',
  'runs-get',
  'runs-start',
  'runs-submit-step',
  'runs-resume',
  'runs-form',
  'processes-summary',
  'user-processes-list',
]);

/** Every admin (and user) route the app registers, with tenant A's ids filled in. */
function adminRoutes(
  ids: { connection: string; process: string; run: string } = { connection: a.connectionId, process: a.processId, run: a.runId },
) {
  const routes = functionDefinitions.filter((d): d is HttpFunction => d.kind === 'http' && d.contract.auth === 'bearer');
  return routes.flatMap((fn) =>
    fn.methods.map((method) => {
      const id = fn.route.startsWith('connections/') ? ids.connection : fn.route.startsWith('processes/') ? ids.process : ids.run;
      const path = fn.route.replace(/\{id\}/g, encodeURIComponent(id)).replace(/\{stepId\}/g, 'x');
      return {
        name: fn.name,
        method: String(method),
        route: fn.route,
        path,
        hasId: fn.route.includes('{id}'),
        user: userRouteNames.has(fn.name),
      };
    }),
  );
}

const bodies: Record<string, unknown> = {
  'connections/authorize': { displayName: 'Injected' },
  'connections/{id}': { displayName: 'Pwned', isDefault: true },
  'processes/{id}': {
    name: 'Pwned',
    kind: 'user',
    steps: [{ id: 'x', type: 'action', action: 'changeStage', inputs: { stage: 'Pwned' } }],
  },
  events: { type: 'ItemCreated', subject: { siteId: 's', listId: 'l', itemId: 'pwn' }, data: {} },
};
const bodyFor = (method: string, route: string) => (method === 'GET' || method === 'DELETE' ? undefined : (bodies[route] ?? {}));

async function send(method: string, path: string, authorization: string | null, route?: string): Promise<RecordedResponse> {
  const body = route ? bodyFor(method, route) : undefined;
  const res = await fetch(`${stack.baseUrl}/api/${path}`, {
    method,
    headers: {
      ...(authorization !== null ? { authorization } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  stack.responses.push(text);
  let json: RecordedResponse['json'];
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Tenant A as its admin sees it: any change shows here. */
async function tenantAState() {
  const [connections, processes, runs] = await Promise.all([stack.api('connections'), stack.api('processes'), stack.api('runs?limit=200')]);
  return {
    connections: connections.json.connections,
    processes: processes.json.processes,
    runs: (runs.json.runs as RunView[]).map((r) => ({ id: r.id, status: r.status })),
    vaultWrites: stack.vault.counts().writes,
    vaultDeletes: stack.vault.counts().deletes,
    events: stack.bus.stats()['workpoint-events'].deliveries,
  };
}

const now = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Claims like Entra's admin access token of `version` for `user` (issuer and audience aside). */
const claimsOf = (user = CONTOSO_ADMIN, version: 1 | 2 = 2) => ({
  tid: user.tenantId,
  oid: user.objectId,
  sub: user.objectId,
  name: user.name,
  roles: [...user.roles],
  scp: LOCAL_API_SCOPE,
  ...(version === 1
    ? { upn: user.username, unique_name: user.username, appid: LOCAL_PORTAL_CLIENT_ID, ver: '1.0' }
    : { preferred_username: user.username, azp: LOCAL_PORTAL_CLIENT_ID, ver: '2.0' }),
});

/** The local provider's issuer of `version` for a tenant (v1.0: `.../{tid}/` as sts.windows.net; v2.0: one for all). */
const issuerOf = (version: 1 | 2, tenantId = TENANT_A.id) =>
  version === 1 ? stack.identityProvider.v1IssuerTemplate.replace('{tenantid}', tenantId) : stack.identityProvider.issuer;

async function forge(
  options: {
    version?: 1 | 2;
    claims?: Record<string, unknown>;
    drop?: string[];
    header?: Record<string, unknown>;
    key?: KeyLike;
    iss?: string;
    aud?: string;
    nbf?: number;
    exp?: number | null;
    crit?: Record<string, boolean>;
  } = {},
) {
  const version = options.version ?? 2;
  const claims: Record<string, unknown> = { ...claimsOf(CONTOSO_ADMIN, version), ...options.claims };
  for (const k of options.drop ?? []) delete claims[k];
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: TRUSTED_KID, typ: 'JWT', ...options.header } as { alg: string })
    .setIssuer(options.iss ?? issuerOf(version))
    .setAudience(options.aud ?? (version === 1 ? LOCAL_API_AUDIENCE : LOCAL_API_CLIENT_ID))
    .setIssuedAt()
    .setNotBefore(options.nbf ?? now() - 5)
    .setJti(randomUUID());
  if (options.exp !== null) jwt = jwt.setExpirationTime(options.exp ?? now() + 600);
  return jwt.sign(options.key ?? trustedKey, options.crit ? { crit: options.crit } : undefined);
}

/** Swaps the payload of a signed token, keeping its header and signature. */
function tamper(token: string, change: (payload: Record<string, unknown>) => void) {
  const [h, p, s] = token.split('.');
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
  change(payload);
  return `${h}.${b64(payload)}.${s}`;
}

test('the control: v1.0 and v2.0 tokens signed with the test key and correct claims are accepted, so each refusal below is due to its one difference', async () => {
  const controls = {
    'v2.0 (aud: client id)': await forge({ version: 2 }),
    'v1.0 (aud: App ID URI)': await forge({ version: 1 }),
    // "In v1.0 tokens, it can be the client ID or the resource URI used in the request."
    'v1.0 (aud: client id)': await forge({ version: 1, aud: LOCAL_API_CLIENT_ID }),
    'v2.0 from the provider': await stack.tokenFor(CONTOSO_ADMIN),
    'v1.0 from the provider': await stack.tokenFor(CONTOSO_ADMIN, { version: 1 }),
  };
  for (const [label, token] of Object.entries(controls)) {
    const res = await send('GET', 'connections', `Bearer ${token}`);
    expect({ label, status: res.status }).toEqual({ label, status: 200 });
    expect((res.json.connections as ConnectionView[]).map((c) => c.id)).toEqual([a.connectionId]);
  }
  // v1.0 names the user in `upn`/`unique_name`, v2.0 in `preferred_username`: either way the admin's username is recorded.
  for (const version of [1, 2] as const) {
    const draft = {
      name: `Saved with a v${version}.0 token`,
      kind: 'user',
      steps: [{ id: 'x', type: 'action', action: 'changeStage', inputs: { stage: 'S' } }],
    };
    const token = await stack.tokenFor(CONTOSO_ADMIN, { version });
    const saved = await stack.api(`processes/named-by-v${version}`, { method: 'PUT', body: draft, token });
    expect(saved.json).toMatchObject({ savedBy: CONTOSO_ADMIN.username });
  }
  tally.uncounted();
});

test('bad tokens are refused on every admin route (401, or 403 without the admin role) and change nothing', async () => {
  const valid = await stack.tokenFor(CONTOSO_ADMIN);
  const [vh, vp] = valid.split('.');
  const noneHeader = b64({ alg: 'none', typ: 'JWT' });
  const hmacConfusion = await new SignJWT(claimsOf())
    .setProtectedHeader({ alg: 'HS256', kid: providerKid, typ: 'JWT' })
    .setIssuer(stack.identityProvider.issuer)
    .setAudience(LOCAL_API_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(now() + 600)
    .sign(Buffer.from(JSON.stringify(providerJwk)));
  const cases: [string, string | null, 401 | 403][] = [
    ['no Authorization header', null, 401],
    ['empty bearer', 'Bearer ', 401],
    ['Basic credentials', 'Basic YWRtaW46YWRtaW4=', 401],
    ['not a JWT', 'Bearer not.a.jwt', 401],
    ['token with trailing data', `Bearer ${valid} x`, 401],
    ['two tokens', `Bearer ${valid}, Bearer ${valid}`, 401],
    ['expired', `Bearer ${await stack.tokenFor(CONTOSO_ADMIN, { expiresInSeconds: -120 })}`, 401],
    ['not yet valid (nbf in an hour)', `Bearer ${await forge({ nbf: now() + 3600, exp: now() + 7200 })}`, 401],
    ['no expiry', `Bearer ${await forge({ exp: null })}`, 401],
    ['wrong audience', `Bearer ${await stack.tokenFor(CONTOSO_ADMIN, { audience: 'api://someone-else' })}`, 401],
    ["a Graph token (a connection's token replayed)", `Bearer ${await stack.tokenFor(CONTOSO_ADMIN, { audience: GRAPH_AUDIENCE })}`, 401],
    [
      'wrong issuer (Entra for the same tenant)',
      `Bearer ${await forge({ iss: `https://login.microsoftonline.com/${TENANT_A.id}/v2.0` })}`,
      401,
    ],
    ['wrong issuer (another local provider)', `Bearer ${await forge({ iss: 'https://localhost:1/organizations/v2.0' })}`, 401],
    ['v1.0 token with the v2.0 issuer', `Bearer ${await forge({ version: 1, iss: issuerOf(2) })}`, 401],
    ['v2.0 token with the v1.0 issuer', `Bearer ${await forge({ version: 2, iss: issuerOf(1) })}`, 401],
    ['v1.0 issuer of another tenant', `Bearer ${await forge({ version: 1, iss: issuerOf(1, TENANT_B.id) })}`, 401],
    [
      'v1.0 issuer of Entra (sts.windows.net) for the same tenant',
      `Bearer ${await forge({ version: 1, iss: `https://sts.windows.net/${TENANT_A.id}/` })}`,
      401,
    ],
    ['no ver', `Bearer ${await forge({ drop: ['ver'] })}`, 401],
    ['unknown ver', `Bearer ${await forge({ claims: { ver: '3.0' } })}`, 401],
    ['v1.0 token, wrong audience', `Bearer ${await stack.tokenFor(CONTOSO_ADMIN, { version: 1, audience: 'api://someone-else' })}`, 401],
    [
      "an ID token for the admin page (aud: the API's client id, admin role, nonce)",
      `Bearer ${await stack.tokenFor(CONTOSO_ADMIN, { kind: 'id' })}`,
      401,
    ],
    ['an ID token with the scope added (nonce)', `Bearer ${await forge({ claims: { nonce: 'n-0S6_WzA2Mj' } })}`, 401],
    ['no scp (v2.0)', `Bearer ${await stack.tokenFor(CONTOSO_ADMIN, { scp: null })}`, 401],
    ['no scp (v1.0)', `Bearer ${await stack.tokenFor(CONTOSO_ADMIN, { version: 1, scp: null })}`, 401],
    ['scp not a string', `Bearer ${await forge({ claims: { scp: [LOCAL_API_SCOPE] } })}`, 401],
    [
      'app-only token (roles, no scp; client credentials)',
      `Bearer ${await forge({ drop: ['scp', 'preferred_username', 'name'], claims: { idtyp: 'app' } })}`,
      401,
    ],
    ["scp without the API's scope", `Bearer ${await stack.tokenFor(CONTOSO_ADMIN, { scp: 'Other.Read' })}`, 403],
    ['scp with a longer name that starts like the scope', `Bearer ${await forge({ claims: { scp: `${LOCAL_API_SCOPE}_all` } })}`, 403],
    ['alg none, no signature', `Bearer ${noneHeader}.${vp}.`, 401],
    ['alg none, some signature', `Bearer ${noneHeader}.${vp}.AAAA`, 401],
    ['HS256 keyed with the public key (algorithm confusion)', `Bearer ${hmacConfusion}`, 401],
    ["another key under the provider's kid", `Bearer ${await forge({ key: attackerKey, header: { kid: providerKid } })}`, 401],
    ['another key, unknown kid', `Bearer ${await forge({ key: attackerKey, header: { kid: randomUUID() } })}`, 401],
    ['another key, no kid', `Bearer ${await forge({ key: attackerKey, header: { kid: undefined } })}`, 401],
    [
      'jku pointing at the attacker',
      `Bearer ${await forge({ key: attackerKey, header: { kid: 'evil', jku: 'https://evil.test/keys' } })}`,
      401,
    ],
    ['kid that is not a string', `Bearer ${await forge({ key: attackerKey, header: { kid: { $ne: null } } })}`, 401],
    ['kid with path characters', `Bearer ${await forge({ key: attackerKey, header: { kid: '../../../../dev/null' } })}`, 401],
    [
      'unknown critical header',
      `Bearer ${await forge({ header: { crit: ['x-must-understand'], 'x-must-understand': true }, crit: { 'x-must-understand': true } })}`,
      401,
    ],
    [
      'payload swapped (user gets the role)',
      `Bearer ${tamper(await stack.tokenFor(CONTOSO_USER), (p) => (p.roles = ['Connections.Admin']))}`,
      401,
    ],
    [
      'payload swapped (tenant B admin claims tenant A)',
      `Bearer ${tamper(await stack.tokenFor(FABRIKAM_ADMIN), (p) => (p.tid = TENANT_A.id))}`,
      401,
    ],
    ['header swapped to another alg', `Bearer ${b64({ alg: 'RS512', kid: providerKid })}.${vp}.${valid.split('.')[2]}`, 401],
    ['no tid', `Bearer ${await forge({ drop: ['tid'] })}`, 401],
    ['tid not a GUID', `Bearer ${await forge({ claims: { tid: "a0c0a0c0' or ''='" } })}`, 401],
    ['no oid', `Bearer ${await forge({ drop: ['oid'] })}`, 401],
    ['no admin role', `Bearer ${await stack.tokenFor(CONTOSO_USER)}`, 403],
    ['admin with roles emptied', `Bearer ${await stack.tokenFor(CONTOSO_ADMIN, { roles: [] })}`, 403],
    ['role in another case', `Bearer ${await forge({ claims: { roles: ['connections.admin'] } })}`, 403],
    ['roles as a string', `Bearer ${await forge({ claims: { roles: 'Connections.Admin' } })}`, 403],
    ['role as a scope instead', `Bearer ${await forge({ drop: ['roles'], claims: { scp: 'Connections.Admin' } })}`, 403],
    ['a 12 KB token', `Bearer ${vh}.${'A'.repeat(12_000)}.${vp}`, 401],
  ];
  const routes = adminRoutes();
  expect(routes.length).toBeGreaterThanOrEqual(15);
  const before = await tenantAState();
  let tried = 0;
  let refused = 0;
  const wrong: string[] = [];
  for (const [label, authorization, expected] of cases) {
    for (const r of routes) {
      // The published user processes are for every user of the tenant to see: a token lacking only the role may list them.
      if (expected === 403 && r.name === 'user-processes-list') continue;
      tried++;
      const res = await send(r.method, r.path, authorization, r.route);
      // A user route asks for no role: a token without it finds nothing of tenant A's there (not its run, not a user process).
      const refusedAs = expected === 403 && r.user ? [403, 404] : [expected];
      if (
        refusedAs.includes(res.status) &&
        typeof res.json?.error?.message === 'string' &&
        (expected !== 401 || res.headers.get('www-authenticate') === 'Bearer')
      ) {
        refused++;
      } else {
        wrong.push(`${label}: ${r.method} ${r.route} -> ${res.status} ${res.text.slice(0, 120)}`);
      }
    }
  }
  // The access token in the query string instead of the header is not a way in either.
  for (const r of routes) {
    tried++;
    const res = await send(r.method, `${r.path}${r.path.includes('?') ? '&' : '?'}access_token=${valid}`, null, r.route);
    if (res.status === 401) refused++;
    else wrong.push(`query-string token: ${r.method} ${r.route} -> ${res.status}`);
  }
  expect(wrong).toEqual([]);
  expect(await tenantAState()).toEqual(before);
  tally.record({ kind: 'attack', category: 'Admin API: bad tokens on every route', tried, handled: refused, faultsInjected: 0, lost: 0 });
});

test("a tenant B admin cannot read or change tenant A's connections, processes and runs (404), and lists show only B's own", async () => {
  const fabrikam = `Bearer ${await stack.tokenFor(FABRIKAM_ADMIN)}`;
  const before = await tenantAState();
  let tried = 0;
  let refused = 0;
  const wrong: string[] = [];
  // Publish before save: B has no such process yet, so every call on A's ids must find nothing.
  const withIds = adminRoutes()
    .filter((r) => r.hasId)
    .sort((x, y) => Number(x.method === 'PUT') - Number(y.method === 'PUT'));
  for (const r of withIds) {
    tried++;
    const res = await send(r.method, r.path, fabrikam, r.route);
    // Saving a process under the same id is allowed: it creates tenant B's own draft (checked below).
    const ok = r.method === 'PUT' && r.route === 'processes/{id}' ? res.status === 200 : res.status === 404;
    if (ok && !res.text.includes(a.connectionId) && !res.text.includes(CONTOSO_SVC_WORKPOINT.username)) refused++;
    else wrong.push(`${r.method} ${r.route} -> ${res.status} ${res.text.slice(0, 160)}`);
  }
  for (const path of ['connections', 'processes', 'runs', `runs?processId=${a.processId}`, `runs?processId=${a.processId}&limit=200`]) {
    tried++;
    const res = await send('GET', path, fabrikam);
    const leaked = [a.connectionId, a.runId, CONTOSO_SVC_WORKPOINT.username, 'Payroll'].some((v) => res.text.includes(v));
    if (res.status === 200 && !leaked) refused++;
    else wrong.push(`GET ${path} -> ${res.status} ${res.text.slice(0, 160)}`);
  }
  tried++;
  const event = await send('POST', 'events', fabrikam, 'events');
  await stack.bus.idle();
  if (event.status === 202 && (await stack.api('runs?limit=200')).json.runs.length === before.runs.length) refused++;
  else wrong.push(`POST events -> ${event.status}`);
  expect(wrong).toEqual([]);

  const after = await tenantAState();
  expect({ ...after, events: 0 }).toEqual({ ...before, events: 0 });
  const own = (await send('GET', `processes/${a.processId}`, fabrikam)).json;
  expect(own).toMatchObject({ id: a.processId, draft: { name: 'Pwned' }, savedBy: FABRIKAM_ADMIN.username });
  expect((await stack.api(`processes/${a.processId}`)).json.draft.name).toBe('Payroll sync');
  expect(((await send('GET', 'runs', fabrikam)).json.runs as RunView[]).every((r) => r.id !== a.runId)).toBe(true);
  tally.record({
    kind: 'attack',
    category: "Admin API: tenant B admin on tenant A's data",
    tried,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});

test('ids and queries with OData filter syntax or path characters are refused (400/404), never widen a query, never fail (5xx)', async () => {
  const ids = [
    "x' or '1' eq '1",
    "' or PartitionKey ne '",
    `${a.connectionId}' or ''='`,
    `${a.runId}' or RowKey gt '`,
    '..%2F..%2Fsecrets',
    '%2e%2e%2f%2e%2e%2fadmin',
    '..\\..\\secrets',
    'a%00b',
    '*',
    '$filter=PartitionKey ne null',
    '<script>alert(1)</script>',
    'x'.repeat(300),
    '\u202eexe.txt',
    '%ZZ',
    `${a.connectionId}/../${a.connectionId}`,
    `${a.processId};DROP TABLE`,
  ];
  const before = await tenantAState();
  const admin = `Bearer ${await stack.tokenFor(CONTOSO_ADMIN)}`;
  let tried = 0;
  let refused = 0;
  const wrong: string[] = [];
  for (const r of adminRoutes().filter((x) => x.hasId)) {
    for (const id of ids) {
      tried++;
      const raw = id.startsWith('%') || id.includes('%2') ? id : encodeURIComponent(id);
      const res = await send(r.method, r.route.replace('{id}', raw), admin, r.route);
      if (
        (res.status === 400 || res.status === 404 || res.status === 405) &&
        !res.text.includes('"connections":[') &&
        !res.text.includes(CONTOSO_SVC_WORKPOINT.username)
      )
        refused++;
      else wrong.push(`${r.method} ${r.route} id=${JSON.stringify(id.slice(0, 40))} -> ${res.status} ${res.text.slice(0, 160)}`);
    }
  }
  const fabrikam = `Bearer ${await stack.tokenFor(FABRIKAM_ADMIN)}`;
  const queries = [
    "runs?processId=x' or '1' eq '1",
    "runs?processId=payroll-sync' or PartitionKey ne '",
    'runs?processId=payroll-sync&$filter=PartitionKey ne null',
    'runs?limit=100000',
    'runs?limit=-1',
    "connections?status=active' or PartitionKey ne '",
    "connections?$filter=PartitionKey ne ''",
    "processes?$filter=PartitionKey ne ''",
  ];
  for (const q of queries) {
    tried++;
    // As tenant B: a widened filter would show tenant A's data.
    const res = await send('GET', q, fabrikam);
    const leaked = [a.connectionId, a.runId, 'Payroll'].some((v) => res.text.includes(v));
    if ((res.status === 400 || res.status === 200) && !leaked) refused++;
    else wrong.push(`GET ${q} -> ${res.status} ${res.text.slice(0, 160)}`);
  }
  expect(wrong).toEqual([]);
  expect(await tenantAState()).toEqual(before);
  tally.record({
    kind: 'attack',
    category: 'Admin API: OData syntax and path characters in ids and queries',
    tried,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});

test('admin API answers carry nosniff and no-store, errors included', async () => {
  const checks: RecordedResponse[] = [
    await send('GET', 'connections', `Bearer ${await stack.tokenFor(CONTOSO_ADMIN)}`),
    await send('GET', 'connections', null),
    await send('GET', 'connections', `Bearer ${await stack.tokenFor(CONTOSO_USER)}`),
    await send('GET', `connections/${randomUUID()}`, `Bearer ${await stack.tokenFor(CONTOSO_ADMIN)}`),
    await send('GET', 'connections/not-a-guid', `Bearer ${await stack.tokenFor(CONTOSO_ADMIN)}`),
  ];
  let ok = 0;
  for (const res of checks) {
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    ok++;
  }
  tally.record({
    kind: 'attack',
    category: 'Admin API answers, errors included: JSON, nosniff, no-store',
    tried: checks.length,
    handled: ok,
    faultsInjected: 0,
    lost: 0,
  });
});
