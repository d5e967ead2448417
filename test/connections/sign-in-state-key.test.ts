/**
 * The sign-in state key against the Key Vault stand-in through the real SDK: created on first use, shared by
 * instances, and every version stays usable, so neither two instances creating it at once nor a rotation of the
 * key breaks a sign-in in progress.
 */
import { KeyVaultSecretStore } from '../../src/adapters/key-vault-secret-store';
import { SIGN_IN_STATE_KEY_SECRET, VaultSignInStateKeys } from '../../src/connections/sign-in-state-key';
import { derive } from '../../src/connections/sign-in-state';
import { startKeyVaultStandIn, type KeyVaultStandIn } from '../../src/local/key-vault-stand-in';
import { LocalStaticCredential } from '../../src/local/local-credential';

let vault: KeyVaultStandIn;
const store = () =>
  new KeyVaultSecretStore({
    vaultUrl: vault.url,
    credential: new LocalStaticCredential(),
    local: true,
    retry: { maxRetries: 0, retryDelayInMs: 1, maxRetryDelayInMs: 1 },
  });

beforeEach(async () => {
  vault = await startKeyVaultStandIn();
});
afterEach(() => vault.close());

test('the first use creates the key in the vault; another instance then uses the same key', async () => {
  const first = await new VaultSignInStateKeys(store()).current();
  expect(first.version).toMatch(/^[0-9a-f]{32}$/);
  expect(first.key).toHaveLength(32);
  expect(vault.secretVersions(SIGN_IN_STATE_KEY_SECRET)).toEqual([first.version]);
  const second = await new VaultSignInStateKeys(store()).current();
  expect(second).toEqual(first);
  expect(vault.secretVersions(SIGN_IN_STATE_KEY_SECRET)).toHaveLength(1);
});

test("two instances creating the key at once each keep a usable version: each verifies the other's states", async () => {
  // Both read "no key" before either writes: each waits for the other's read to finish.
  let release!: () => void;
  const bothRead = new Promise<void>((resolve) => (release = resolve));
  let reads = 0;
  const racing = () => {
    const s = store();
    return Object.assign(Object.create(s) as KeyVaultSecretStore, {
      getVersion: async (name: string, version?: string) => {
        const found = await s.getVersion(name, version);
        if (version === undefined && ++reads === 2) release();
        if (version === undefined) await bothRead;
        return found;
      },
      setVersion: s.setVersion.bind(s),
    });
  };
  const [a, b] = [new VaultSignInStateKeys(racing()), new VaultSignInStateKeys(racing())];
  const [ka, kb] = await Promise.all([a.current(), b.current()]);
  // Both found no key and wrote one: two versions, neither lost.
  expect(vault.secretVersions(SIGN_IN_STATE_KEY_SECRET)).toHaveLength(2);
  expect(ka.version).not.toBe(kb.version);
  expect(await b.byVersion(ka.version)).toEqual(ka.key);
  expect(await a.byVersion(kb.version)).toEqual(kb.key);
});

test('after a rotation of the key, states started with the old version still derive the same verifier', async () => {
  const keys = new VaultSignInStateKeys(store());
  const old = await keys.current();
  const random = 'r'.repeat(43);
  const before = derive(old.key, random);
  // An operator (or a later instance) writes a new version.
  await store().setVersion(SIGN_IN_STATE_KEY_SECRET, Buffer.alloc(32, 7).toString('base64url'));
  const fresh = new VaultSignInStateKeys(store());
  expect((await fresh.current()).version).not.toBe(old.version);
  expect(derive((await fresh.byVersion(old.version))!, random)).toEqual(before);
});

test('an unknown or malformed version finds no key', async () => {
  const keys = new VaultSignInStateKeys(store());
  await keys.current();
  expect(await keys.byVersion('0'.repeat(32))).toBeUndefined();
  expect(await keys.byVersion('../x')).toBeUndefined();
});
