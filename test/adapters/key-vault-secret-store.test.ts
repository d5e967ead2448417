import { SecretClient } from '@azure/keyvault-secrets';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { KeyVaultSecretStore, MAX_SECRET_VALUE_BYTES, SecretStoreError } from '../../src/adapters/key-vault-secret-store';
import { connectionSecretName, MSAL_CACHE_CONTENT_TYPE } from '../../src/adapters/secret-store';
import { startKeyVaultStandIn, type KeyVaultStandIn } from '../../src/local/key-vault-stand-in';
import { LOCAL_STATIC_TOKEN, LocalStaticCredential } from '../../src/local/local-credential';

const TENANT = '0b3f1c2e-5a6d-4e7f-8a9b-0c1d2e3f4a5b';
const RETRY = { maxRetries: 3, retryDelayInMs: 5, maxRetryDelayInMs: 20 };
const credential = new LocalStaticCredential();

// Shaped like an MSAL cache so a leak would be obvious in any output.
const cache = (tag: string) => JSON.stringify({ RefreshToken: { k: { secret: `0.AXkA-refresh-token-${tag}-${'x'.repeat(40)}` } } });

let vault: KeyVaultStandIn;
let store: KeyVaultSecretStore;
let n = 0;
const name = () => connectionSecretName(TENANT, `c-${++n}-${Date.now()}`);
const newStore = (extra: Partial<ConstructorParameters<typeof KeyVaultSecretStore>[0]> = {}) =>
  new KeyVaultSecretStore({ vaultUrl: vault.url, credential, local: true, retry: RETRY, ...extra });

beforeAll(async () => {
  vault = await startKeyVaultStandIn();
  store = newStore();
});
afterAll(() => vault.close());
beforeEach(() => {
  vault.injectFaults([]);
  vault.resetCounts();
});

/** Requests made by `fn`, as "METHOD STATUS". */
async function traffic(fn: () => Promise<unknown>): Promise<string[]> {
  const from = vault.requests.length;
  await fn();
  return vault.requests.slice(from).map((r) => `${r.method} ${r.status}`);
}

function expectNoLeak(err: unknown, value: string) {
  const views = [
    String(err),
    (err as Error).message,
    (err as Error).stack ?? '',
    JSON.stringify(err),
    inspect(err, { depth: 10, showHidden: true }),
    ...Object.getOwnPropertyNames(err).map((k) => inspect((err as Record<string, unknown>)[k], { depth: 10 })),
  ];
  for (const v of views) expect(v).not.toContain(value);
  expect((err as Error).cause).toBeUndefined();
}

describe('connectionSecretName', () => {
  it('builds a Key Vault-safe, unambiguous name', () => {
    expect(connectionSecretName(TENANT.toUpperCase(), 'a1-b2')).toBe(`conn-${TENANT}-a1-b2`);
    expect(connectionSecretName(TENANT, 'x'.repeat(85))).toHaveLength(127);
  });
  it.each([
    ['not-a-guid', 'c1'],
    [TENANT, ''],
    [TENANT, 'has space'],
    [TENANT, 'under_score'],
    [TENANT, 'Upper'],
    [TENANT, 'x'.repeat(86)],
    [TENANT, '../secrets'],
  ])('refuses tenant %p / connection %p', (t, c) => {
    expect(() => connectionSecretName(t, c)).toThrow(RangeError);
  });
});

describe('KeyVaultSecretStore over the real SecretClient', () => {
  it('sets, gets and overwrites (a new version each time, latest returned)', async () => {
    const s = name();
    await store.set(s, cache('v1'), { tags: { tenantId: TENANT, connectionId: 'c' } });
    expect(await store.get(s)).toBe(cache('v1'));
    await store.set(s, cache('v2'));
    expect(await store.get(s)).toBe(cache('v2'));
    expect(vault.secretVersions(s)).toHaveLength(2);

    const raw = new SecretClient(vault.url, credential, { allowInsecureConnection: true, disableChallengeResourceVerification: true });
    const [first] = vault.secretVersions(s);
    const v1 = await raw.getSecret(s, { version: first });
    expect(v1.value).toBe(cache('v1'));
    expect(v1.properties.contentType).toBe(MSAL_CACHE_CONTENT_TYPE);
    expect(v1.properties.tags).toEqual({ tenantId: TENANT, connectionId: 'c' });
  });

  it('returns undefined for a missing secret', async () => {
    expect(await store.get(name())).toBeUndefined();
  });

  it('deletes idempotently; a deleted secret reads as missing', async () => {
    const s = name();
    await store.set(s, cache('d'));
    await store.delete(s);
    expect(await store.get(s)).toBeUndefined();
    await store.delete(s);
    await store.delete(name());
    // Soft delete keeps the versions; the name cannot be reused until purged.
    expect(vault.secretVersions(s)).toHaveLength(1);
    const err = await store.set(s, cache('again')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretStoreError);
    expect(err).toMatchObject({ statusCode: 409, code: 'Conflict', retryable: false });
    expectNoLeak(err, cache('again'));
  });

  it('purges after delete when configured', async () => {
    const purging = newStore({ purgeOnDelete: true });
    const s = name();
    await purging.set(s, cache('p'));
    const seen = await traffic(() => purging.delete(s));
    expect(seen).toEqual(['DELETE 200', 'GET 200', 'DELETE 204']);
    expect(vault.secretVersions(s)).toEqual([]);
    await purging.delete(s);
    await purging.set(s, cache('reused'));
    expect(await purging.get(s)).toBe(cache('reused'));
  });

  it('refuses invalid names without echoing them', async () => {
    const value = cache('swapped');
    for (const call of [() => store.get(value), () => store.set(value, 'x'), () => store.delete('a/b')]) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'SecretStoreError', code: 'InvalidSecretName' });
      expectNoLeak(err, value);
    }
    expect(() => newStore({ vaultUrl: 'http://vault.example.com' })).toThrow(/localhost/);
    expect(() => newStore({ local: false })).toThrow(/https/);
  });

  it('rides out 429 with Retry-After on a read and a write, writing exactly one version', async () => {
    const s = name();
    await store.set(s, cache('1'));
    vault.injectFaults([{ method: 'PUT', status: 429, retryAfterSeconds: 1, count: 1 }]);
    expect(await traffic(() => store.set(s, cache('2')))).toEqual(['PUT 429', 'PUT 200']);
    expect(vault.secretVersions(s)).toHaveLength(2);

    vault.injectFaults([{ method: 'GET', status: 429, retryAfterSeconds: 1, count: 1 }]);
    let got: string | undefined;
    expect(await traffic(async () => (got = await store.get(s)))).toEqual(['GET 429', 'GET 200']);
    expect(got).toBe(cache('2'));
  });

  it('retries 429 without Retry-After itself (the SDK does not)', async () => {
    const s = name();
    await store.set(s, cache('1'));

    const raw = new SecretClient(vault.url, credential, {
      allowInsecureConnection: true,
      disableChallengeResourceVerification: true,
      retryOptions: RETRY,
    });
    await raw.getSecret(s); // past the challenge
    vault.injectFaults([{ method: 'GET', status: 429, count: 1 }]);
    await expect(raw.getSecret(s)).rejects.toMatchObject({ statusCode: 429 });

    vault.resetCounts();
    vault.injectFaults([{ method: 'PUT', status: 429, count: 2 }]);
    expect(await traffic(() => store.set(s, cache('2')))).toEqual(['PUT 429', 'PUT 429', 'PUT 200']);
    expect(vault.secretVersions(s)).toHaveLength(2);

    vault.injectFaults([{ method: 'GET', status: 429, count: 2 }]);
    expect(await store.get(s)).toBe(cache('2'));
    expect(vault.counts()).toEqual({ reads: 1, writes: 1, deletes: 0 });
  });

  it('gives up on 429 without Retry-After after maxRetries, as a retryable error', async () => {
    vault.injectFaults([{ status: 429, count: 100 }]);
    const err = await store.get(name()).catch((e: unknown) => e);
    expect(err).toMatchObject({ statusCode: 429, code: 'Throttled', retryable: true, operation: 'get' });
    expect(vault.requests.slice(-4).map((r) => r.status)).toEqual([429, 429, 429, 429]);
  });

  it('rides out a 503 burst of 2', async () => {
    const s = name();
    await store.set(s, cache('1'));
    vault.injectFaults([{ status: 503, count: 2 }]);
    expect(await store.get(s)).toBe(cache('1'));
    vault.injectFaults([{ method: 'DELETE', status: 503, count: 2 }]);
    await store.delete(s);
    expect(await store.get(s)).toBeUndefined();
  });

  it('turns a persistent 500 into a SecretStoreError without the value', async () => {
    const value = cache('five-hundred');
    vault.injectFaults([{ status: 500, count: 100 }]);
    const err = await store.set(name(), value).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretStoreError);
    expect(err).toMatchObject({ operation: 'set', statusCode: 500, code: 'InternalServerError', retryable: true });
    expect((err as SecretStoreError).requestId).toMatch(/^[0-9a-f]{16}$/);
    expectNoLeak(err, value);
    expect(vault.requests.slice(-4).map((r) => `${r.method} ${r.status}`)).toEqual(Array(4).fill('PUT 500'));
  });

  it('does not leak a value from a malformed response (the SDK quotes the body in its own message)', async () => {
    const value = cache('truncated');
    const server = http.createServer((req, res) => {
      req.resume().on('end', () => {
        if (!req.headers.authorization) {
          res.writeHead(401, {
            'WWW-Authenticate': 'Bearer authorization="https://login.microsoftonline.com/t", resource="https://vault.azure.net"',
          });
          res.end();
          return;
        }
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(`{"value":${JSON.stringify(value)},"id":`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const broken = new KeyVaultSecretStore({ vaultUrl: `http://127.0.0.1:${port}`, credential, local: true, retry: RETRY });
      const err = await broken.get('some-secret').catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'SecretStoreError', code: 'PARSE_ERROR', retryable: false });
      expectNoLeak(err, value);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('treats only SecretNotFound as missing: another 404 is an error', async () => {
    vault.injectFaults([{ method: 'GET', status: 404, count: 1 }]);
    await expect(store.get(name())).rejects.toMatchObject({ statusCode: 404, code: 'NotFound', retryable: false });
  });

  it('bounds a call the SDK would stall on (long Retry-After)', async () => {
    const quick = newStore({ timeoutMs: 200 });
    vault.injectFaults([{ method: 'GET', status: 429, retryAfterSeconds: 60, count: 1 }]);
    const started = Date.now();
    await expect(quick.get(name())).rejects.toMatchObject({ code: 'Timeout', retryable: true });
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('the 25 KB secret value limit (25,600 bytes of UTF-8)', () => {
  // 'é' is two bytes in UTF-8: the limit counts bytes, not characters.
  const ofBytes = (bytes: number) => `${'é'.repeat(Math.floor((bytes - 1) / 2))}${'x'.repeat(bytes - 2 * Math.floor((bytes - 1) / 2))}`;

  it('stores a token cache at the limit and refuses one byte more before calling the vault, naming the limit', async () => {
    const secretName = name();
    const atLimit = ofBytes(MAX_SECRET_VALUE_BYTES);
    expect(Buffer.byteLength(atLimit)).toBe(25_600);
    await store.set(secretName, atLimit);
    expect(await store.get(secretName)).toBe(atLimit);

    const beyond = `${atLimit}x`;
    let err: unknown;
    const requests = await traffic(() => store.set(secretName, beyond).catch((e: unknown) => void (err = e)));
    expect(requests).toEqual([]);
    expect(err).toBeInstanceOf(SecretStoreError);
    expect(err).toMatchObject({ operation: 'set', code: 'SecretValueTooLarge', retryable: false, secretName });
    expect((err as Error).message).toMatch(/25601 bytes.*25600/);
    expectNoLeak(err, beyond.slice(0, 40));
    expect(await store.get(secretName)).toBe(atLimit); // the stored version is untouched
  });

  it('the stand-in refuses a value beyond the limit from any client (400 BadParameter; the service documents no code for it)', async () => {
    const client = new SecretClient(vault.url, credential, {
      allowInsecureConnection: true,
      disableChallengeResourceVerification: true,
    } as never);
    const secretName = name();
    await client.setSecret(secretName, ofBytes(MAX_SECRET_VALUE_BYTES));
    const refused = await client.setSecret(secretName, ofBytes(MAX_SECRET_VALUE_BYTES + 1)).catch((e: unknown) => e);
    expect(refused).toMatchObject({ statusCode: 400, code: 'BadParameter' });
    expect(vault.secretVersions(secretName)).toHaveLength(1);
  });
});

describe('Key Vault stand-in', () => {
  it('requires the challenge: a bodiless first request, then a bearer token', async () => {
    const bare = await fetch(`${vault.url}/secrets/x/?api-version=7.5`);
    expect(bare.status).toBe(401);
    expect(bare.headers.get('www-authenticate')).toMatch(
      /^Bearer authorization="https:\/\/login\.microsoftonline\.com\/[^"]+", resource="https:\/\/vault\.azure\.net"$/,
    );
    const authed = await fetch(`${vault.url}/secrets/x/?api-version=7.5`, {
      headers: { authorization: `Bearer ${LOCAL_STATIC_TOKEN}` },
    });
    expect(authed.status).toBe(404);
    expect(await authed.json()).toMatchObject({ error: { code: 'SecretNotFound' } });

    const fresh = newStore();
    const s = name();
    expect(await traffic(() => fresh.set(s, cache('c')))).toEqual(['PUT 401', 'PUT 200']);
    expect(vault.counts().writes).toBe(1);
    expect(vault.requests.every((r) => Object.keys(r).sort().join() === 'method,path,status')).toBe(true);
  });

  it('keeps secrets across restarts in a 0600 file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kv-stand-in-'));
    try {
      const persistFile = path.join(dir, 'nested', 'vault.json');
      const first = await startKeyVaultStandIn({ persistFile });
      const s = name();
      await new KeyVaultSecretStore({ vaultUrl: first.url, credential, local: true, retry: RETRY }).set(s, cache('p1'));
      const versions = first.secretVersions(s);
      await first.close();
      expect((await stat(persistFile)).mode & 0o777).toBe(0o600);
      expect(JSON.parse(await readFile(persistFile, 'utf8'))).toMatchObject({ format: 1 });

      const second = await startKeyVaultStandIn({ persistFile });
      try {
        const again = new KeyVaultSecretStore({ vaultUrl: second.url, credential, local: true, retry: RETRY });
        expect(await again.get(s)).toBe(cache('p1'));
        expect(second.secretVersions(s)).toEqual(versions);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
