import { randomBytes, randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { CryptoProvider } from '@azure/msal-node';
import { KeyVaultSecretStore } from '../../src/adapters/key-vault-secret-store';
import { connectionSecretName } from '../../src/adapters/secret-store';
import { createTableFactory } from '../../src/adapters/tables';
import { startAzurite, type LocalAzurite } from '../../src/local/azurite';
import {
  CONTOSO_ADMIN,
  CONTOSO_SVC_APPROVALS,
  CONTOSO_SVC_WORKPOINT,
  CONTOSO_USER,
  FABRIKAM_ADMIN,
  FABRIKAM_SVC,
  GRAPH_AUDIENCE,
  LOCAL_CLIENT_ID,
  LOCAL_CLIENT_SECRET,
  type LocalUser,
} from '../../src/local/identity-provider/directory';
import {
  getTokenStats,
  resetTokenStats,
  revokeLocalGrants,
  setTokenEndpointFault,
  startIdentityProvider,
  type LocalIdentityProvider,
} from '../../src/local/identity-provider/launch';
import { startKeyVaultStandIn, type KeyVaultStandIn } from '../../src/local/key-vault-stand-in';
import { LocalStaticCredential } from '../../src/local/local-credential';
import { MsalClients, type MsalSettings } from '../../src/tokens/msal-clients';
import { RefreshLeases } from '../../src/tokens/refresh-lease';
import { TokenAcquisitionError, TokenBroker, type ConnectionRef, type TokenBrokerOptions } from '../../src/tokens/token-broker';
import { signIn } from '../support/sign-in';

const redirectUri = 'http://localhost:7071/api/connections/callback';
const scopes = [`${GRAPH_AUDIENCE}/.default`];

let azurite: LocalAzurite;
let idp: LocalIdentityProvider;
let vault: KeyVaultStandIn;
let msalSettings: MsalSettings;
let secrets: KeyVaultSecretStore;
let leaseTable: () => Promise<TableClient>;
const brokers: TokenBroker[] = [];

/** The brokers' clock: tests move it forward to age tokens, leases and intervals without waiting. */
let offsetMs = 0;
const clock = () => Date.now() + offsetMs;

beforeAll(async () => {
  [azurite, idp, vault] = await Promise.all([
    startAzurite(),
    // Rotation on: a refresh token presented twice gets the whole grant revoked, so a lost rotation shows.
    startIdentityProvider({ redirectUris: [redirectUri], rotateRefreshTokens: true }),
    startKeyVaultStandIn(),
  ]);
  msalSettings = {
    AUTH_AUTHORITY: idp.authority,
    AUTH_KNOWN_AUTHORITIES: [new URL(idp.url).host],
    AUTH_CLIENT_ID: LOCAL_CLIENT_ID,
    AUTH_CLIENT_SECRET: LOCAL_CLIENT_SECRET,
    AUTH_REDIRECT_URI: redirectUri,
    CONNECTION_SCOPES: scopes,
  };
  const credential = new LocalStaticCredential();
  secrets = new KeyVaultSecretStore({
    vaultUrl: vault.url,
    credential,
    local: true,
    retry: { maxRetries: 3, retryDelayInMs: 10, maxRetryDelayInMs: 40 },
  });
  const tables = createTableFactory({ TABLES_CONNECTION_STRING: azurite.connectionString, CONNECTIONS_LOCAL_MODE: true }, credential);
  const name = `t${randomBytes(4).toString('hex')}TokenLeases`;
  leaseTable = () => tables(name);
}, 30_000);

afterAll(async () => {
  for (const b of brokers) b.close();
  await Promise.all([azurite?.stop(), idp?.stop(), vault?.close()]);
});

beforeEach(() => {
  offsetMs = 0;
});

interface Recorded {
  refreshed: number;
  grantDead: string[];
  used: Date[];
  applicationCredentials: string[];
}

/** One simulated instance: its own broker, MSAL clients and memory; the vault and lease table are shared. */
function instance(
  options: Partial<Pick<TokenBrokerOptions, 'renewBeforeSeconds' | 'deadRecheckSeconds'>> & {
    policy?: 'always' | 'interval';
    intervalSeconds?: number;
    leaseSeconds?: number;
  } = {},
): TokenBroker & { recorded: Recorded } {
  const recorded: Recorded = { refreshed: 0, grantDead: [], used: [], applicationCredentials: [] };
  const broker = new TokenBroker({
    secrets,
    msal: new MsalClients(msalSettings),
    leaseTable,
    settings: {
      TOKEN_CACHE_WRITE_POLICY: options.policy ?? 'always',
      TOKEN_CACHE_WRITE_INTERVAL_SECONDS: options.intervalSeconds ?? 3600,
      TOKEN_REFRESH_LEASE_SECONDS: options.leaseSeconds ?? 15,
    },
    events: {
      refreshed: () => void (recorded.refreshed += 1),
      grantDead: (_ref, reason) => void recorded.grantDead.push(reason),
      used: (_ref, at) => void recorded.used.push(at),
      applicationCredentialsInvalid: (failure) => void recorded.applicationCredentials.push(failure.reason),
    },
    renewBeforeSeconds: options.renewBeforeSeconds,
    deadRecheckSeconds: options.deadRecheckSeconds,
    now: clock,
  });
  brokers.push(broker);
  return Object.assign(broker, { recorded });
}

/** Signs `user` in with MSAL's auth code flow, as the callback does, and returns the connection's cache. */
async function connect(user: LocalUser): Promise<{ ref: ConnectionRef; cache: string }> {
  const client = await new MsalClients(msalSettings).create();
  const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
  const url = await client.getAuthCodeUrl({ scopes, redirectUri, codeChallenge: challenge, codeChallengeMethod: 'S256' });
  const code = new URL((await signIn(url, user.username)).redirectUrl).searchParams.get('code')!;
  await client.acquireTokenByCode({ code, scopes, redirectUri, codeVerifier: verifier });
  return { ref: { tenantId: user.tenantId, id: randomUUID(), objectId: user.objectId }, cache: client.getTokenCache().serialize() };
}

/** The same cache with its access token expiring `seconds` from now (a token near the end of its life). */
function expiringIn(cache: string, seconds: number): string {
  const json = JSON.parse(cache) as { AccessToken: Record<string, { expires_on: string; extended_expires_on?: string }> };
  const at = String(Math.floor(Date.now() / 1000) + seconds);
  for (const t of Object.values(json.AccessToken)) Object.assign(t, { expires_on: at, extended_expires_on: at });
  return JSON.stringify(json);
}

/** Token-endpoint refreshes since the last reset (failed ones included). */
const refreshCalls = async () => (await getTokenStats(idp.url)).byGrantType.refresh_token ?? 0;

async function resetCounts() {
  await resetTokenStats(idp.url);
  vault.resetCounts();
}

const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a TokenAcquisitionError');
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(TokenAcquisitionError);
      return (e as TokenAcquisitionError).failure;
    },
  );

/** Proves the vault's cache still holds a working refresh token: a brand-new instance refreshes with it. */
async function storedRefreshTokenWorks(ref: ConnectionRef) {
  const before = await refreshCalls();
  const token = await instance().getAccessToken(ref, { forceRefresh: true });
  expect(token.expiresOn.getTime()).toBeGreaterThan(Date.now());
  expect(await refreshCalls()).toBe(before + 1);
  expect((await getTokenStats(idp.url)).byStatus[400]).toBeUndefined(); // no invalid_grant anywhere: nothing was lost
}

test('a cache hit costs nothing: no vault read, no token call; a new instance reads the vault once', async () => {
  const { ref, cache } = await connect(CONTOSO_SVC_WORKPOINT);
  const a = instance();
  await a.storeSignIn(ref, cache);
  await resetCounts();

  const first = await a.getAccessToken(ref);
  for (let i = 0; i < 500; i++) expect(await a.getAccessToken(ref)).toBe(first);
  expect(vault.counts()).toEqual({ reads: 0, writes: 0, deletes: 0 });
  expect(await refreshCalls()).toBe(0);

  // Another instance: one vault read, and the stored access token is still fresh, so no token call either.
  const b = instance();
  const tokens = await Promise.all(Array.from({ length: 200 }, () => b.getAccessToken(ref)));
  for (let i = 0; i < 300; i++) await b.getAccessToken(ref);
  expect(new Set(tokens.map((t) => t.token))).toEqual(new Set([first.token]));
  expect(vault.counts()).toEqual({ reads: 1, writes: 0, deletes: 0 });
  expect(await refreshCalls()).toBe(0);
});

test('200 concurrent calls on an expired token make one token call, no vault read, one write of the rotated cache', async () => {
  const { ref, cache } = await connect(CONTOSO_SVC_APPROVALS);
  const a = instance();
  await a.storeSignIn(ref, expiringIn(cache, 600));
  const old = await a.getAccessToken(ref);
  await resetCounts();

  offsetMs = 400_000; // 200 s left: inside the 300 s renew margin
  const tokens = await Promise.all(Array.from({ length: 200 }, () => a.getAccessToken(ref)));
  expect(new Set(tokens.map((t) => t.token)).size).toBe(1);
  expect(tokens[0].token).not.toBe(old.token);
  expect(await refreshCalls()).toBe(1);
  expect(vault.counts()).toEqual({ reads: 0, writes: 1, deletes: 0 });
  expect(a.recorded.refreshed).toBe(1);
  // The next refresh again needs no vault read: this instance wrote the newest version itself.
  await Promise.all(Array.from({ length: 50 }, () => a.getAccessToken(ref, { forceRefresh: true })));
  expect(await refreshCalls()).toBe(2);
  expect(vault.counts()).toEqual({ reads: 0, writes: 2, deletes: 0 });

  offsetMs = 0;
  await storedRefreshTokenWorks(ref);
});

test('4 instances bursting on an expired token: one token call overall, and the rotated refresh token is not lost', async () => {
  const { ref, cache } = await connect(FABRIKAM_SVC);
  const instances = [instance(), instance(), instance(), instance()];
  await instances[0].storeSignIn(ref, expiringIn(cache, 600));
  const old = await Promise.all(instances.map((b) => b.getAccessToken(ref))); // warm: each reads the vault once
  await resetCounts();

  offsetMs = 400_000;
  const tokens = await Promise.all(instances.flatMap((b) => Array.from({ length: 200 }, () => b.getAccessToken(ref))));
  expect(new Set(tokens.map((t) => t.token)).size).toBe(1);
  expect(tokens[0].token).not.toBe(old[0].token);
  expect(await refreshCalls()).toBe(1);
  const { reads, writes } = vault.counts();
  expect(writes).toBe(1);
  expect(reads).toBeLessThanOrEqual(3); // the waiters pick up the holder's write; the holder itself reads nothing
  expect(instances.reduce((n, b) => n + b.recorded.refreshed, 0)).toBe(1);

  // Every instance goes on refreshing with the newest refresh token, whoever wrote it (each reads the other's write).
  for (const b of instances) await b.getAccessToken(ref, { forceRefresh: true });
  expect(await refreshCalls()).toBe(5);
  expect((await getTokenStats(idp.url)).byStatus).toEqual({ 200: 5 });
  offsetMs = 0;
  await storedRefreshTokenWorks(ref);
});

test('4 cold instances forcing a refresh at once: one token call, the others use the token it stored', async () => {
  const { ref, cache } = await connect(CONTOSO_ADMIN);
  await instance().storeSignIn(ref, cache);
  const instances = [instance(), instance(), instance(), instance()];
  await resetCounts();

  const tokens = await Promise.all(
    instances.flatMap((b) => Array.from({ length: 50 }, () => b.getAccessToken(ref, { forceRefresh: true }))),
  );
  expect(new Set(tokens.map((t) => t.token)).size).toBe(1);
  expect(await refreshCalls()).toBe(1);
  expect(vault.counts()).toEqual({ reads: 4, writes: 1, deletes: 0 });
  await storedRefreshTokenWorks(ref);
});

test('a revoked grant: one token call, grantDead once, no further calls; other instances learn it; a new sign-in heals', async () => {
  const { ref, cache } = await connect(CONTOSO_USER);
  const a = instance({ deadRecheckSeconds: 30 });
  const b = instance({ deadRecheckSeconds: 30 });
  await a.storeSignIn(ref, expiringIn(cache, 600));
  await revokeLocalGrants(idp.url, CONTOSO_USER.username);
  await resetCounts();

  offsetMs = 400_000;
  const failures = await Promise.all(Array.from({ length: 50 }, () => failureOf(a.getAccessToken(ref))));
  expect(failures.every((f) => f.kind === 'dead_grant' && /re-authorize/i.test(f.reason))).toBe(true);
  for (let i = 0; i < 20; i++) expect((await failureOf(a.getAccessToken(ref, { forceRefresh: true }))).kind).toBe('dead_grant');
  expect(await refreshCalls()).toBe(1);
  expect(a.recorded.grantDead).toHaveLength(1);

  // Another instance fails at once from the lease row: no token call, and it does not report it again.
  expect((await failureOf(b.getAccessToken(ref))).kind).toBe('dead_grant');
  expect((await failureOf(b.getAccessToken(ref))).kind).toBe('dead_grant');
  expect(await refreshCalls()).toBe(1);
  expect(b.recorded.grantDead).toHaveLength(0);

  // Re-authorized through a third instance: the others notice at their next re-check.
  const again = await connect(CONTOSO_USER);
  await instance().storeSignIn(ref, again.cache);
  await resetCounts();
  expect((await failureOf(a.getAccessToken(ref))).kind).toBe('dead_grant');
  offsetMs += 31_000;
  const healed = await a.getAccessToken(ref);
  expect(healed.expiresOn.getTime()).toBeGreaterThan(clock());
  expect((await b.getAccessToken(ref)).token).toBe(healed.token);
  expect(await refreshCalls()).toBe(0); // the new sign-in's access token serves both
  expect(vault.counts().reads).toBe(2);
});

test('a re-authorization that lands between a dead refresh and its report is not undone by it', async () => {
  const { ref, cache } = await connect(CONTOSO_USER);
  const fresh = await connect(CONTOSO_USER); // signed in before the revocation below; stored later
  await instance().storeSignIn(ref, expiringIn(cache, 600));
  await revokeLocalGrants(idp.url, CONTOSO_USER.username);
  // Lease writes of instance `a` go through this wrapper: right after it records the dead grant on the row,
  // another instance stores the re-authorized tokens, before `a` reports the dead grant.
  let reauthorized = false;
  const reported: string[] = [];
  const b = instance();
  const a = new TokenBroker({
    secrets,
    msal: new MsalClients(msalSettings),
    leaseTable: async () => {
      const table = await leaseTable();
      return new Proxy(table, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver);
          if (prop !== 'updateEntity' && prop !== 'createEntity') return typeof value === 'function' ? value.bind(target) : value;
          return async (...args: unknown[]) => {
            const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            const entity = args[0] as { deadHash?: string; holder?: string };
            if (!reauthorized && entity.deadHash && !entity.holder) {
              reauthorized = true;
              await b.storeSignIn(ref, fresh.cache);
            }
            return result;
          };
        },
      });
    },
    settings: { TOKEN_CACHE_WRITE_POLICY: 'always', TOKEN_CACHE_WRITE_INTERVAL_SECONDS: 3600, TOKEN_REFRESH_LEASE_SECONDS: 15 },
    events: { grantDead: (_ref, reason) => void reported.push(reason) },
    deadRecheckSeconds: 0,
    now: clock,
  });
  brokers.push(a);
  offsetMs = 400_000;
  expect((await failureOf(a.getAccessToken(ref))).kind).toBe('dead_grant');
  expect(reauthorized).toBe(true);
  expect(reported).toEqual([]); // the connection is not marked needs_reauth over the new sign-in
  expect((await a.getAccessToken(ref)).expiresOn.getTime()).toBeGreaterThan(clock());
});

test('token endpoint 500 or unreachable: transient, never grantDead; the next call refreshes', async () => {
  const { ref, cache } = await connect(FABRIKAM_ADMIN);
  const a = instance();
  await a.storeSignIn(ref, cache);
  await resetCounts();

  await setTokenEndpointFault(idp.url, { status: 500, count: 1 });
  expect(await failureOf(a.getAccessToken(ref, { forceRefresh: true }))).toEqual({
    kind: 'transient',
    reason: expect.stringMatching(/temporarily/),
  });
  // MSAL would replay the 500 for 60 s within one instance (errorCode ''); a fresh MSAL instance per refresh does not.
  await expect(a.getAccessToken(ref, { forceRefresh: true })).resolves.toMatchObject({ token: expect.any(String) });

  await setTokenEndpointFault(idp.url, 'down');
  try {
    expect((await failureOf(a.getAccessToken(ref, { forceRefresh: true }))).kind).toBe('transient');
  } finally {
    await setTokenEndpointFault(idp.url, null);
  }
  expect(a.recorded.grantDead).toHaveLength(0);
  await expect(a.getAccessToken(ref, { forceRefresh: true })).resolves.toMatchObject({ token: expect.any(String) });
  await storedRefreshTokenWorks(ref);
});

test("the app's own credentials refused (expired secret, 7000222): never grantDead, reported, the grant still works afterwards", async () => {
  const { ref, cache } = await connect(FABRIKAM_ADMIN);
  const a = instance();
  const b = instance();
  await a.storeSignIn(ref, cache);
  await setTokenEndpointFault(idp.url, { aadsts: 7000222 });
  try {
    for (const broker of [a, b, a]) {
      const failure = await failureOf(broker.getAccessToken(ref, { forceRefresh: true }));
      expect(failure).toEqual({
        kind: 'application_credentials',
        code: 7000222,
        reason: expect.stringMatching(/app's own credentials.*AADSTS7000222/),
      });
    }
  } finally {
    await setTokenEndpointFault(idp.url, null);
  }
  // Each failure is reported (the receiver deduplicates); none is a dead grant, here or on the lease row.
  expect([...a.recorded.applicationCredentials, ...b.recorded.applicationCredentials]).toHaveLength(3);
  expect([...a.recorded.grantDead, ...b.recorded.grantDead]).toEqual([]);
  for (const broker of [a, b])
    await expect(broker.getAccessToken(ref, { forceRefresh: true })).resolves.toMatchObject({ token: expect.any(String) });
  await storedRefreshTokenWorks(ref);
});

test('vault 429/503 during a refresh: the store retries and the refresh succeeds', async () => {
  const { ref, cache } = await connect(CONTOSO_SVC_WORKPOINT);
  await instance().storeSignIn(ref, expiringIn(cache, 100));
  const cold = instance();
  await resetCounts();
  vault.injectFaults([
    { method: 'GET', status: 503, count: 1 },
    { method: 'GET', status: 429, count: 1 },
    { method: 'PUT', status: 429, count: 1 },
    { method: 'PUT', status: 503, count: 1 },
  ]);
  const token = await cold.getAccessToken(ref);
  expect(token.expiresOn.getTime() - Date.now()).toBeGreaterThan(3000_000);
  expect(await refreshCalls()).toBe(1);
  expect(vault.counts()).toEqual({ reads: 1, writes: 1, deletes: 0 });
  expect(vault.requests.filter((r) => r.status >= 429).length).toBe(4);
  await storedRefreshTokenWorks(ref);
});

test("write-back: 'always' writes every rotation, 'interval' at most once per interval", async () => {
  const always = await connect(CONTOSO_SVC_APPROVALS);
  const a = instance({ policy: 'always' });
  await a.storeSignIn(always.ref, always.cache);
  await resetCounts();
  for (let i = 0; i < 3; i++) await a.getAccessToken(always.ref, { forceRefresh: true });
  expect(await refreshCalls()).toBe(3);
  expect(vault.counts()).toEqual({ reads: 0, writes: 3, deletes: 0 });

  const interval = await connect(CONTOSO_SVC_APPROVALS);
  const b = instance({ policy: 'interval', intervalSeconds: 600 });
  await b.storeSignIn(interval.ref, interval.cache); // a write: the interval starts now
  await resetCounts();
  for (let i = 0; i < 3; i++) await b.getAccessToken(interval.ref, { forceRefresh: true });
  expect(await refreshCalls()).toBe(3);
  expect(vault.counts().writes).toBe(0);
  offsetMs += 601_000;
  await b.getAccessToken(interval.ref, { forceRefresh: true });
  expect(vault.counts()).toEqual({ reads: 0, writes: 1, deletes: 0 });
  // The interval is per connection across instances (kept on the lease row): another instance does not write either.
  // (It reads the vault once, since b wrote a version it has not seen.)
  const c = instance({ policy: 'interval', intervalSeconds: 600 });
  await c.getAccessToken(interval.ref, { forceRefresh: true });
  expect(await refreshCalls()).toBe(5);
  expect(vault.counts()).toEqual({ reads: 1, writes: 1, deletes: 0 });
  // Rotating providers revoke the refresh tokens 'interval' leaves unwritten: the local provider needs 'always'.
});

test('a holder that died without releasing: others wait for its lease to run out, then trust the vault, not memory', async () => {
  const { ref, cache } = await connect(CONTOSO_SVC_WORKPOINT);
  const name = connectionSecretName(ref.tenantId, ref.id);
  const a = instance();
  await a.storeSignIn(ref, expiringIn(cache, 600));
  await a.getAccessToken(ref);

  // Another instance takes the lease, refreshes (rotating the refresh token a holds in memory), writes the vault,
  // and dies before releasing or recording anything on the row.
  offsetMs = 400_000;
  const leases = new RefreshLeases(leaseTable, { leaseMs: 1500, instanceId: 'crashed', now: clock });
  expect((await leases.tryAcquire(ref.tenantId, ref.id)).acquired).toBe(true);
  const client = await new MsalClients(msalSettings).create();
  client.getTokenCache().deserialize((await secrets.get(name))!);
  const [account] = await client.getTokenCache().getAllAccounts();
  const theirs = await client.acquireTokenSilent({ account, scopes, forceRefresh: true });
  await secrets.set(name, client.getTokenCache().serialize());
  await resetCounts();

  const started = Date.now();
  const token = await a.getAccessToken(ref);
  expect(Date.now() - started).toBeGreaterThan(1000); // waited for the lease instead of refreshing alongside
  expect(token.token).toBe(theirs.accessToken); // read from the vault after the takeover, no token call
  expect(await refreshCalls()).toBe(0);
  expect(vault.counts().reads).toBe(1);
  offsetMs = 0;
  await storedRefreshTokenWorks(ref);
});

test('used is reported at most once a minute per connection', async () => {
  const { ref, cache } = await connect(CONTOSO_ADMIN);
  const a = instance();
  await a.storeSignIn(ref, cache);
  await Promise.all(Array.from({ length: 100 }, () => a.getAccessToken(ref)));
  await new Promise((r) => setImmediate(r));
  expect(a.recorded.used).toHaveLength(1);
  offsetMs += 30_000;
  await a.getAccessToken(ref);
  offsetMs += 31_000;
  await a.getAccessToken(ref);
  await new Promise((r) => setImmediate(r));
  expect(a.recorded.used).toHaveLength(2);
});

test("a rotated cache the vault refused ('always'): kept in memory, others wait instead of reusing the stale token, written later", async () => {
  const { ref, cache } = await connect(FABRIKAM_SVC);
  const a = instance();
  await a.storeSignIn(ref, cache);
  await resetCounts();
  vault.injectFaults([{ method: 'PUT', status: 503, count: 4 }]); // the SDK's first try and its 3 retries
  const token = await a.getAccessToken(ref, { forceRefresh: true });
  expect(token.token).toBeTruthy();
  expect(vault.counts().writes).toBe(0);

  const b = instance();
  expect((await failureOf(b.getAccessToken(ref, { forceRefresh: true }))).kind).toBe('transient');
  expect(await refreshCalls()).toBe(1);

  // The background retry saves it; then anyone can refresh with it.
  for (let i = 0; i < 100 && vault.counts().writes === 0; i++) await new Promise((r) => setTimeout(r, 50));
  expect(vault.counts().writes).toBe(1);
  await expect(b.getAccessToken(ref, { forceRefresh: true })).resolves.toMatchObject({ token: expect.any(String) });
  expect((await getTokenStats(idp.url)).byStatus).toEqual({ 200: 2 });
  expect(await secrets.get(connectionSecretName(ref.tenantId, ref.id))).toBeDefined();
});

test('the lease: one winner among concurrent takers; released rows are reusable; no token material on the row', async () => {
  const tenantId = CONTOSO_ADMIN.tenantId;
  const id = randomUUID();
  const takers = Array.from({ length: 8 }, (_, i) => new RefreshLeases(leaseTable, { leaseMs: 5000, instanceId: `i${i}`, now: clock }));
  const results = await Promise.all(takers.map((l) => l.tryAcquire(tenantId, id)));
  const winners = results.filter((r) => r.acquired);
  expect(winners).toHaveLength(1);
  const won = winners[0] as Extract<(typeof results)[number], { acquired: true }>;
  const released = await takers[0].release(won.lease, { cacheHash: 'h1' });
  expect(released).toMatchObject({ holder: '', cacheHash: 'h1' });
  // A stale ETag cannot release or extend someone else's lease.
  expect(await takers[1].release(won.lease)).toBeUndefined();
  const again = await takers[2].tryAcquire(tenantId, id, released);
  expect(again).toMatchObject({ acquired: true, takeover: false, prior: { cacheHash: 'h1' } });

  // After real refreshes, the row holds ids, times and digests only.
  const { ref, cache } = await connect(CONTOSO_SVC_APPROVALS);
  const a = instance();
  await a.storeSignIn(ref, cache);
  await a.getAccessToken(ref, { forceRefresh: true });
  const stored = JSON.parse((await secrets.get(connectionSecretName(ref.tenantId, ref.id)))!) as Record<
    string,
    Record<string, { secret?: string }>
  >;
  const tokenSecrets = ['AccessToken', 'RefreshToken', 'IdToken'].flatMap((k) => Object.values(stored[k] ?? {}).map((t) => t.secret!));
  expect(tokenSecrets.length).toBeGreaterThanOrEqual(3);
  const row = JSON.stringify(await (await leaseTable()).getEntity(ref.tenantId, ref.id));
  for (const secret of tokenSecrets) {
    expect(row).not.toContain(secret);
    expect(row).not.toContain(secret.slice(0, 24));
  }
});

test('discard: other instances stop trusting their memory once the connection is deleted', async () => {
  const { ref, cache } = await connect(FABRIKAM_ADMIN);
  const a = instance();
  const b = instance();
  await a.storeSignIn(ref, cache);
  await b.getAccessToken(ref);
  await secrets.delete(connectionSecretName(ref.tenantId, ref.id));
  await a.discard(ref);
  await resetCounts();
  const failure = await failureOf(b.getAccessToken(ref, { forceRefresh: true }));
  expect(failure).toEqual({ kind: 'dead_grant', reason: expect.stringMatching(/No sign-in is stored/) });
  expect(await refreshCalls()).toBe(0);
});
