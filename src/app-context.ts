import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { createTableFactory, type TableFactory } from './adapters/tables';
import { KeyVaultSecretStore } from './adapters/key-vault-secret-store';
import type { SecretStore } from './adapters/secret-store';
import { createAdminAuthenticator, type AuthenticateAdmin } from './http/admin-auth';
import { loadSettings, tableNames, type Settings } from './config/settings';
import { ConnectionAuditLog } from './connections/connection-audit';
import { ConnectionLifecycle } from './connections/connection-lifecycle';
import { ConnectionRepository } from './connections/connection-repository';
import { ConnectionService } from './connections/connection-service';
import { isKeepAliveRefresh, KeepAlive } from './connections/keep-alive';
import { SignInStateStore } from './connections/sign-in-state';
import { VaultSignInStateKeys, type SignInStateKeys } from './connections/sign-in-state-key';
import { LocalStaticCredential } from './local/local-credential';
import type { MessageSender } from './adapters/message-queue';
import { ServiceBusMessageSender } from './adapters/service-bus-sender';
import { actionNames, getAction, validateActionInputs } from './actions';
import { ProcessRepository } from './processes/process-repository';
import { ProcessService } from './processes/process-service';
import { DeadLetterLog } from './runs/dead-letters';
import { EventProcessor } from './runs/event-processor';
import { RunRepository } from './runs/run-repository';
import { StepRunner } from './runs/step-runner';
import { ApplicationCredentialsAlert } from './tokens/application-credentials-alert';
import { MsalClients } from './tokens/msal-clients';
import { TokenBroker } from './tokens/token-broker';

/** Everything a function needs, built once per process from the settings. */
export interface AppContext {
  settings: Settings;
  authenticate: AuthenticateAdmin;
  tables: TableFactory;
  secrets: SecretStore;
  /** Key material of sign-in states (a Key Vault secret of its own, not the client secret). */
  signInStateKeys: SignInStateKeys;
  connectionRepository: ConnectionRepository;
  connections: ConnectionService;
  /** Audit + `ConnectionStatusChanged` notifications of connection changes. */
  connectionLifecycle: ConnectionLifecycle;
  keepAlive: KeepAlive;
  broker: TokenBroker;
  processes: ProcessService;
  runs: RunRepository;
  sender: MessageSender;
  events: EventProcessor;
  steps: StepRunner;
  deadLetters: DeadLetterLog;
}

export interface AppContextOverrides {
  /** The local instance's in-process bus; Service Bus otherwise. */
  sender?: MessageSender;
  /** Error-level lines that belong to no invocation (the app's credentials failing); console.error otherwise. */
  logError?: (message: string) => void;
}

export function createAppContext(settings: Settings, overrides: AppContextOverrides = {}): AppContext {
  // Locally the vault is the stand-in, which must never see a real credential's tokens.
  const credential: TokenCredential = settings.CONNECTIONS_LOCAL_MODE ? new LocalStaticCredential() : new DefaultAzureCredential();
  const names = tableNames(settings);
  const tables = createTableFactory(settings, credential);
  const secrets = new KeyVaultSecretStore({ vaultUrl: settings.KEY_VAULT_URI, credential, local: settings.CONNECTIONS_LOCAL_MODE });
  const connectionRepository = new ConnectionRepository(tables, names.connections);
  const sender = overrides.sender ?? new ServiceBusMessageSender(serviceBusNamespace(settings), credential);
  const connectionAudit = new ConnectionAuditLog(tables, names.connectionAudit);
  const connectionLifecycle = new ConnectionLifecycle({ connections: connectionRepository, audit: connectionAudit, sender });
  const msal = new MsalClients(settings);
  const credentialsAlert = new ApplicationCredentialsAlert({
    sender,
    clientId: settings.AUTH_CLIENT_ID,
    logError: overrides.logError ?? ((message) => console.error(message)),
  });
  const broker = new TokenBroker({
    secrets,
    msal,
    leaseTable: () => tables(names.tokenLeases),
    settings,
    events: {
      refreshed: (ref, at) => connectionRepository.patch(ref.tenantId, ref.id, { lastRefreshedAt: at.toISOString() }).then(() => undefined),
      // Conditional on the stored status, so the change is audited and announced once across instances.
      grantDead: (ref, reason) => connectionLifecycle.markNeedsReauth(ref, reason).then(() => undefined),
      used: (ref, at) =>
        isKeepAliveRefresh() ? undefined : connectionRepository.patch(ref.tenantId, ref.id, { lastUsedAt: at.toISOString() }).then(() => undefined),
      // One ApplicationCredentialsInvalid message per app and period; no connection changes status.
      applicationCredentialsInvalid: (failure) => credentialsAlert.raise(failure.reason, failure.code),
    },
  });
  const signInStateKeys = new VaultSignInStateKeys(secrets);
  const signInStates = new SignInStateStore(tables, names.signInStates, signInStateKeys);
  const processRepository = new ProcessRepository(tables, names.processes);
  const runs = new RunRepository(tables, names.runs);
  return {
    settings,
    authenticate: createAdminAuthenticator(settings),
    tables,
    secrets,
    signInStateKeys,
    connectionRepository,
    connections: new ConnectionService({
      connections: connectionRepository,
      signInStates,
      msal,
      broker,
      secrets,
      processes: processRepository,
      lifecycle: connectionLifecycle,
      audit: connectionAudit,
    }),
    connectionLifecycle,
    keepAlive: new KeepAlive({
      connections: connectionRepository,
      broker,
      lifecycle: connectionLifecycle,
      idleDays: settings.KEEPALIVE_IDLE_DAYS,
    }),
    broker,
    processes: new ProcessService(processRepository, connectionRepository, { names: actionNames, validateInputs: validateActionInputs }),
    runs,
    sender,
    events: new EventProcessor({ processes: processRepository, runs, connections: connectionRepository, sender }),
    steps: new StepRunner({
      runs,
      processes: processRepository,
      connections: connectionRepository,
      broker,
      sender,
      getAction,
      graphBaseUrl: settings.GRAPH_BASE_URL,
    }),
    deadLetters: new DeadLetterLog(tables, names.deadLetters),
  };
}

function serviceBusNamespace(settings: Settings): string {
  const namespace = settings.ServiceBusConnection__fullyQualifiedNamespace;
  if (!namespace) throw new Error('ServiceBusConnection__fullyQualifiedNamespace is required outside local mode');
  return namespace;
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
