import { loadSettings, SettingsError, settingNames } from '../../src/config/settings';

/** The smallest valid Azure-mode settings (what Bicep writes, minus the defaults). */
const azure = (): Record<string, string> => ({
  AUTH_CLIENT_ID: '11111111-2222-4333-8444-555555555555',
  AUTH_CLIENT_SECRET: 'a-resolved-secret-value',
  AUTH_REDIRECT_URI: 'https://app.example.com/api/connections/callback',
  ADMIN_TOKEN_AUDIENCE: 'api://11111111-2222-4333-8444-555555555555,11111111-2222-4333-8444-555555555555',
  TABLES_ENDPOINT: 'https://st.table.core.windows.net',
  KEY_VAULT_URI: 'https://kv.vault.azure.net/',
  ServiceBusConnection__fullyQualifiedNamespace: 'sb.servicebus.windows.net',
  AZURE_CLIENT_ID: '0b6a7c1e-52d4-4f3c-9b1e-3f0c2f6d7a11',
});

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadSettings(env);
  } catch (e) {
    if (e instanceof SettingsError) return e.problems;
    throw e;
  }
  return [];
}

test('the baseline is valid, so each refusal below is due to its one difference', () => {
  expect(problemsOf(azure())).toEqual([]);
});

describe('an unresolved Key Vault reference', () => {
  // App Service leaves the literal reference text in the setting when it cannot resolve it
  // (https://learn.microsoft.com/azure/app-service/app-service-key-vault-references#troubleshoot-key-vault-references ("If a reference isn't resolved properly, the reference string is used instead")).
  const reference = '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/auth-client-secret)';

  test.each(['AUTH_CLIENT_SECRET', 'AUTH_CLIENT_ID', 'KEY_VAULT_URI', 'ADMIN_TOKEN_AUDIENCE'])(
    'in %s is refused with the setting name and the likely causes, never the value',
    (name) => {
      const problems = problemsOf({ ...azure(), [name]: reference });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(new RegExp(`^${name}: `));
      expect(problems[0]).toMatch(/unresolved Key Vault reference/);
      expect(problems[0]).toMatch(/Key Vault Secrets User/);
      expect(problems[0]).toMatch(/does not exist/);
      expect(problems[0]).toMatch(/network/);
      expect(problems[0]).not.toContain('kv.vault.azure.net/secrets');
      expect(problems[0]).not.toContain('SecretUri');
    },
  );

  test('in the VaultName/SecretName form, with other casing or leading blanks, is refused too', () => {
    for (const value of [
      '@Microsoft.KeyVault(VaultName=kv;SecretName=auth-client-secret)',
      '@microsoft.keyvault(SecretUri=https://kv.vault.azure.net/secrets/x)',
      '  @Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/x)',
    ]) {
      expect(problemsOf({ ...azure(), AUTH_CLIENT_SECRET: value })).toEqual([
        expect.stringMatching(/^AUTH_CLIENT_SECRET: .*unresolved Key Vault reference/),
      ]);
    }
  });

  test('is refused in local mode as well (the check does not depend on the mode)', () => {
    const problems = problemsOf({ ...azure(), CONNECTIONS_LOCAL_MODE: 'true', AUTH_CLIENT_SECRET: reference });
    expect(problems).toEqual([expect.stringMatching(/^AUTH_CLIENT_SECRET: /)]);
  });

  test('a value that merely contains the text later on is an ordinary value', () => {
    expect(problemsOf({ ...azure(), AUTH_CLIENT_SECRET: `x${reference}` })).toEqual([]);
  });

  test('every setting is checked', () => {
    const checked = settingNames.filter((name) =>
      problemsOf({ ...azure(), [name]: reference }).some((p) => p.startsWith(`${name}: `) && /Key Vault reference/.test(p)),
    );
    // API_CLIENT_SECRET's is checked where it is used: it stops the user routes only (next block).
    expect(checked).toEqual(settingNames.filter((n) => n !== 'API_CLIENT_SECRET'));
  });
});

describe('credential modes', () => {
  test('managedIdentity needs no client secret, only the identity', () => {
    const { AUTH_CLIENT_SECRET: _secret, ...noSecret } = azure();
    expect(problemsOf({ ...noSecret, AUTH_CLIENT_CREDENTIAL: 'managedIdentity' })).toEqual([]);
    const { AZURE_CLIENT_ID: _id, ...noIdentity } = noSecret;
    expect(problemsOf({ ...noIdentity, AUTH_CLIENT_CREDENTIAL: 'managedIdentity', CONNECTIONS_LOCAL_MODE: 'true' })).toEqual([
      expect.stringMatching(/^AZURE_CLIENT_ID: is required with the "managedIdentity" credential/),
    ]);
  });

  test('secret mode (the default) needs AUTH_CLIENT_SECRET', () => {
    const { AUTH_CLIENT_SECRET: _secret, ...noSecret } = azure();
    expect(problemsOf(noSecret)).toEqual([expect.stringMatching(/^AUTH_CLIENT_SECRET: is required with AUTH_CLIENT_CREDENTIAL "secret"/)]);
  });

  test('production never runs without the identity: ManagedIdentityCredential needs its client id', () => {
    const { AZURE_CLIENT_ID: _id, ...noIdentity } = azure();
    expect(problemsOf(noIdentity)).toEqual([expect.stringMatching(/^AZURE_CLIENT_ID: is required outside local mode/)]);
  });

  test('a missing, unresolved or mismatched API registration credential does not stop the app (only the user routes, with the reason)', () => {
    const api = '99999999-2222-4333-8444-555555555555';
    const base = { ...azure(), API_CLIENT_ID: api, ADMIN_TOKEN_AUDIENCE: `api://${api},${api}` };
    for (const env of [
      base,
      { ...base, API_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/api-client-secret)' },
      { ...base, ADMIN_TOKEN_AUDIENCE: 'api://other,other', API_CLIENT_SECRET: 'x' },
    ]) {
      expect(problemsOf(env)).toEqual([]);
    }
  });
});
