import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { createTableFactory, type TableFactory } from './adapters/tables';
import { KeyVaultSecretStore } from './adapters/key-vault-secret-store';
import type { SecretStore } from './adapters/secret-store';
import { createAdminAuthenticator, type AuthenticateAdmin } from './auth/admin-auth';
import { loadSettings, tableNames, type Settings } from './config/settings';
import { ConnectionRepository } from './connections/connection-repository';
import { ConnectionService } from './connections/connection-service';
import { SignInStateStore } from './connections/sign-in-state';
import { LocalStaticCredential } from './local/local-credential';
import { MsalClients } from './tokens/msal-clients';
import { TokenBroker } from './tokens/token-broker';

/** Everything a function needs, built once per process from the settings. */
export interface AppContext {
  settings: Settings;
  authenticate: AuthenticateAdmin;
  tables: TableFactory;
  secrets: SecretStore;
  connectionRepository: ConnectionRepository;
  connections: ConnectionService;
  broker: TokenBroker;
}

export function createAppContext(settings: Settings): AppContext {
  // Locally the vault is the stand-in, which must never see a real credential's tokens.
  const credential: TokenCredential = settings.CONNECTIONS_LOCAL_MODE ? new LocalStaticCredential() : new DefaultAzureCredential();
  const names = tableNames(settings);
  const tables = createTableFactory(settings, credential);
  const secrets = new KeyVaultSecretStore({ vaultUrl: settings.KEY_VAULT_URI, credential, local: settings.CONNECTIONS_LOCAL_MODE });
  const connectionRepository = new ConnectionRepository(tables, names.connections);
  const msal = new MsalClients(settings);
  const broker = new TokenBroker(secrets, msal, {
    refreshed: (ref, at) => connectionRepository.patch(ref.tenantId, ref.id, { lastRefreshedAt: at.toISOString() }).then(() => undefined),
    grantDead: (ref, reason) =>
      connectionRepository
        .patch(ref.tenantId, ref.id, { status: 'needs_reauth', statusReason: reason, statusChangedAt: new Date().toISOString() })
        .then(() => undefined),
  });
  const signInStates = new SignInStateStore(tables, names.signInStates, settings.AUTH_CLIENT_SECRET);
  return {
    settings,
    authenticate: createAdminAuthenticator(settings),
    tables,
    secrets,
    connectionRepository,
    connections: new ConnectionService({ connections: connectionRepository, signInStates, msal, broker, secrets }),
    broker,
  };
}

let current: Promise<AppContext> | undefined;

/** The process-wide context; configuration errors surface on the first call, not at import time. */
export function appContext(): Promise<AppContext> {
  current ??= Promise.resolve().then(() => createAppContext(loadSettings()));
  current.catch(() => (current = undefined));
  return current;
}

/** For tests and the local host, which build settings themselves. */
export function setAppContext(context: AppContext | undefined): void {
  current = context && Promise.resolve(context);
}
