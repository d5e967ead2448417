import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { createTableFactory, type TableFactory } from './adapters/tables';
import { KeyVaultSecretStore } from './adapters/key-vault-secret-store';
import type { SecretStore } from './adapters/secret-store';
import type { MessageSender } from './adapters/message-queue';
import { ServiceBusMessageSender } from './adapters/service-bus-sender';
import { actionNames, getAction, validateActionInputs } from './actions';
import { revokeSignInSessions } from './actions/revoke-sign-in-sessions';
import { loadSettings, tableNames, type Settings } from './config/settings';
import { ConnectionAuditLog } from './connections/connection-audit';
import { ConnectionLifecycle } from './connections/connection-lifecycle';
import { ConnectionOutbox } from './connections/connection-outbox';
import { ConnectionRepository } from './connections/connection-repository';
import { ConnectionService } from './connections/connection-service';
import { KeepAlive } from './connections/keep-alive';
import { SignInFlow } from './connections/sign-in-flow';
import { SignInStateStore } from './connections/sign-in-state';
import { tenantAppRefusalBookkeeping } from './connections/tenant-app-refusal';
import { safeMessage } from './shared/errors';
import { logLine } from './shared/log-line';
import type { TraceReader } from './shared/recorded-spans';
import { RateLimiter } from './shared/rate-limit';
import { VaultSignInStateKeys, type SignInStateKeys } from './connections/sign-in-state-key';
import { connectionBookkeeping } from './connections/token-bookkeeping';
import { createAdminAuthenticator, createCallerAuthenticator, type AuthenticateAdmin, type AuthenticateCaller } from './http/admin-auth';
import { ConnectionNotifier } from './notifications/connection-notifier';
import { NotificationSettingsService, NotificationStore } from './notifications/notification-settings';
import { sendReauthorizeWarnings } from './notifications/reauthorize-warnings';
import { ProcessRepository } from './processes/process-repository';
import { ProcessService } from './processes/process-service';
import { DeadLetterLog } from './runs/dead-letters';
import { EventProcessor } from './runs/event-processor';
import { Retention } from './runs/retention';
import { RunRepository } from './runs/run-repository';
import { StepRunner } from './runs/step-runner';
import { UserRuns } from './runs/user-runs';
import { TenantAccess } from './tenants/tenant-access';
import { TenantQuotas } from './tenants/tenant-quotas';
import { TenantRegistry } from './tenants/tenant-registry';
import { ApplicationCredentialsAlert } from './tokens/application-credentials-alert';
import { MsalClients } from './tokens/msal-clients';
import { TokenBroker } from './tokens/token-broker';
import { UserSessionStore, VaultUserSessionKeys } from './tokens/user-session-store';
import { UserTokens } from './tokens/user-tokens';

/** `@azure/identity`, loaded on first use (docs/performance.md, "SDKs on first use", says why this way). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadSdk = (): typeof import('@azure/identity') => require('@azure/identity');

/** The services the functions use, built once per process from the settings. */
export interface AppContext {
  settings: Settings;
  /** Verifies an admin API caller's access token. */
  authenticate: AuthenticateAdmin;
  /** Verifies a user API caller's access token (any user of the tenant; `isAdmin` with the admin role). */
  authenticateCaller: AuthenticateCaller;
  /** Whether the vendor serves a tenant (registered by an operator); every admin route, event and callback asks. */
  tenants: TenantAccess;
  /** Per-tenant rate quotas (events posted, connection tests). */
  quotas: TenantQuotas;
  /** Listing, changing, testing and deleting a tenant's connections. */
  connections: ConnectionService;
  /** Authorizing a connection: start a sign-in, complete it at the callback. */
  signIn: SignInFlow;
  keepAlive: KeepAlive;
  /** Connection notifications a crash or a failed send left in the outbox (the maintenance timer delivers them). */
  connectionOutbox: ConnectionOutbox;
  /** Deletes runs, dead letters and audit entries past their retention (the maintenance timer). */
  retention: Retention;
  processes: ProcessService;
  runs: RunRepository;
  /** Starting user processes, submitting their forms, resuming them, reading one's own runs. */
  userRuns: UserRuns;
  /** Sends messages to the queues (Service Bus; the in-process bus locally). */
  messageSender: MessageSender;
  eventProcessor: EventProcessor;
  stepRunner: StepRunner;
  deadLetters: DeadLetterLog;
  /** Mails a tenant's admins about its connections (queue `connection-events`). */
  notifier: ConnectionNotifier;
  /** `GET|PUT settings/notifications`. */
  notificationSettings: NotificationSettingsService;
  /** The spans of a run's trace, where this instance records them (the local instance); Azure: Application Insights. */
  traces?: TraceReader;
  /** Sends the re-authorize-by warnings due (the keep-alive timer); resolves to how many. */
  sendReauthorizeWarnings: () => Promise<number>;
}

/** The parts the services are built from, for tests and tools that reach below the services; no function uses them. */
export interface AppInternals {
  tables: TableFactory;
  secrets: SecretStore;
  /** Key material of sign-in states (a Key Vault secret of its own, not the client secret). */
  signInStateKeys: SignInStateKeys;
  connectionRepository: ConnectionRepository;
  /** Audit + `ConnectionStatusChanged` notifications of connection changes. */
  connectionLifecycle: ConnectionLifecycle;
  broker: TokenBroker;
  /** The registered tenants (the operator command writes them; the app only reads them). */
  tenantRegistry: TenantRegistry;
  /** The encrypted user tokens of user runs (one row per run). */
  userSessions: UserSessionStore;
  userTokens: UserTokens;
}

export interface AppContextOverrides {
  /**
   * The Azure credential for Key Vault, Tables and Service Bus; otherwise ManagedIdentityCredential with AZURE_CLIENT_ID
   * (the local stack passes its vault stand-in's).
   */
  credential?: TokenCredential;
  /**
   * The managed identity whose token for api://AzureADTokenExchange is the app registrations' client assertion in
   * `managedIdentity` credential mode; otherwise ManagedIdentityCredential with AZURE_CLIENT_ID (the local stack passes
   * one that asks the local identity provider's managed identity endpoint).
   */
  managedIdentity?: TokenCredential;
  /** Where recorded spans are read back (the local instance's recorder); none in Azure. */
  traces?: TraceReader;
  /** The local instance's in-process bus; Service Bus otherwise. */
  sender?: MessageSender;
  /** Error-level lines that belong to no invocation (the app's credentials failing); console.error otherwise. */
  logError?: (message: string) => void;
  /** The clock of the step runner (step times, scheduled retries): a simulated one in fault tests; the system clock otherwise. */
  now?: () => Date;
}

/** The composition root: every service and the parts it is built from. */
export function createApp(settings: Settings, overrides: AppContextOverrides = {}): { context: AppContext; internals: AppInternals } {
  const identity = settings.AZURE_CLIENT_ID ? managedIdentityCredential(settings.AZURE_CLIENT_ID) : undefined;
  const credential = overrides.credential ?? identity ?? missingIdentity();
  const names = tableNames(settings);
  const tables = createTableFactory(settings, credential);
  const secrets = new KeyVaultSecretStore({ vaultUrl: settings.KEY_VAULT_URI, credential, local: settings.CONNECTIONS_LOCAL_MODE });
  const connectionRepository = new ConnectionRepository(tables, names.connections);
  const messageSender = overrides.sender ?? new ServiceBusMessageSender(serviceBusNamespace(settings), credential);
  const connectionAudit = new ConnectionAuditLog(tables, names.connectionAudit);
  const logError = overrides.logError ?? ((message: string) => console.error(message));
  const connectionOutbox = new ConnectionOutbox({ tables, tableName: names.connections, audit: connectionAudit, sender: messageSender });
  const connectionLifecycle = new ConnectionLifecycle({
    connections: connectionRepository,
    outbox: connectionOutbox,
    deliveryFailed: (tenantId, e) =>
      logError(
        logLine('Connection notifications left in the outbox (delivered by the next change or timer run)', {
          tenantId,
          error: safeMessage(e),
        }),
      ),
  });
  const msal = new MsalClients(settings, overrides.managedIdentity ?? identity);
  const credentialsAlert = new ApplicationCredentialsAlert({
    sender: messageSender,
    clientId: settings.AUTH_CLIENT_ID,
    logError,
  });
  const tenantRegistry = new TenantRegistry(tables, names.tenants);
  const bookkeeping = connectionBookkeeping({ connections: connectionRepository, lifecycle: connectionLifecycle });
  const broker = new TokenBroker({
    secrets,
    msal,
    leaseTable: () => tables(names.tokenLeases),
    settings,
    events: {
      ...bookkeeping,
      // A tenant that removed or disabled the app: its consent state and all its connections, never the vendor alert.
      grantDead: tenantAppRefusalBookkeeping({
        registry: tenantRegistry,
        connections: connectionRepository,
        lifecycle: connectionLifecycle,
        grantDead: bookkeeping.grantDead,
      }),
      // One ApplicationCredentialsInvalid message per app and period; no connection changes status.
      applicationCredentialsInvalid: (failure) => credentialsAlert.raise(failure.reason, failure.code),
    },
  });
  const signInStateKeys = new VaultSignInStateKeys(secrets);
  const signInStates = new SignInStateStore(tables, names.signInStates, signInStateKeys);
  const processRepository = new ProcessRepository(tables, names.processes);
  const runs = new RunRepository(tables, names.runs);
  const tenants = new TenantAccess(tenantRegistry, { cacheSeconds: settings.TENANT_REGISTRATION_CACHE_SECONDS });
  const userSessions = new UserSessionStore(tables, names.userSessions, new VaultUserSessionKeys(secrets));
  // The exchanging registration's own alert: a refused API credential names API_CLIENT_ID, not the sign-in app.
  const apiCredentialsAlert = settings.API_CLIENT_ID
    ? new ApplicationCredentialsAlert({ sender: messageSender, clientId: settings.API_CLIENT_ID, setting: 'API_CLIENT_ID', logError })
    : credentialsAlert;
  const userTokens = new UserTokens(settings, msal, undefined, undefined, (failure) =>
    apiCredentialsAlert.raise(failure.reason, failure.code),
  );
  const notificationStore = new NotificationStore(tables, names.notifications);
  const context: AppContext = {
    settings,
    authenticate: createAdminAuthenticator(settings),
    authenticateCaller: createCallerAuthenticator(settings),
    tenants,
    quotas: new TenantQuotas(settings),
    connections: new ConnectionService({
      connections: connectionRepository,
      broker,
      secrets,
      processes: processRepository,
      lifecycle: connectionLifecycle,
      audit: connectionAudit,
      revokeSignInSessions: (accessToken, idempotencyKey) => revokeSignInSessions(settings.GRAPH_BASE_URL, accessToken, idempotencyKey),
    }),
    signIn: new SignInFlow({
      connections: connectionRepository,
      signInStates,
      msal,
      broker,
      lifecycle: connectionLifecycle,
      policy: {
        requiredRole: settings.CONNECTION_ACCOUNT_ROLE_REQUIRED ? settings.CONNECTION_ACCOUNT_ROLE : undefined,
        signInAppId: settings.AUTH_CLIENT_ID,
      },
      startLimit: new RateLimiter({ limit: settings.AUTHORIZE_LIMIT_PER_MINUTE, windowMs: 60_000 }),
      tenants,
    }),
    keepAlive: new KeepAlive({
      connections: connectionRepository,
      broker,
      lifecycle: connectionLifecycle,
      signInStates,
      tenants,
      idleDays: settings.KEEPALIVE_IDLE_DAYS,
    }),
    processes: new ProcessService(
      processRepository,
      connectionRepository,
      { names: actionNames, validateInputs: validateActionInputs },
      settings.QUOTA_PROCESSES_PER_TENANT,
    ),
    connectionOutbox,
    retention: new Retention({
      tables,
      rules: [
        { name: 'runs', table: names.runs, timeProperties: ['createdAt', 'receivedAt'], days: settings.RUN_RETENTION_DAYS },
        { name: 'deadLetters', table: names.deadLetters, timeProperties: ['at'], days: settings.DEAD_LETTER_RETENTION_DAYS },
        { name: 'audit', table: names.connectionAudit, timeProperties: ['at'], days: settings.AUDIT_RETENTION_DAYS },
        // A run deletes its user session when it finishes, fails or waits; one dead-lettered or cut off mid-step leaves
        // it behind. Past its assertion's expiry it is useless (steps wait for the user), so it goes a day later.
        { name: 'userSessions', table: names.userSessions, timeProperties: ['expiresAt'], days: 1 },
      ],
    }),
    runs,
    userRuns: new UserRuns({
      processes: processRepository,
      runs,
      sessions: userSessions,
      userTokens,
      sender: messageSender,
      graphBaseUrl: settings.GRAPH_BASE_URL,
      maxActiveRuns: settings.QUOTA_USER_ACTIVE_RUNS,
    }),
    messageSender,
    eventProcessor: new EventProcessor({ processes: processRepository, runs, connections: connectionRepository, sender: messageSender }),
    stepRunner: new StepRunner({
      runs,
      processes: processRepository,
      connections: connectionRepository,
      broker,
      userTokens,
      sessions: userSessions,
      sender: messageSender,
      getAction,
      graphBaseUrl: settings.GRAPH_BASE_URL,
      tenants,
      batchBudgetMs: settings.STEP_BATCH_BUDGET_SECONDS * 1000,
      stepRetry: { maxTotalMs: settings.STEP_RETRY_MAX_TOTAL_MINUTES * 60_000 },
      ...(overrides.now ? { now: overrides.now } : {}),
    }),
    deadLetters: new DeadLetterLog(tables, names.deadLetters),
    notifier: new ConnectionNotifier({
      store: notificationStore,
      connections: connectionRepository,
      broker,
      graphBaseUrl: settings.GRAPH_BASE_URL,
    }),
    notificationSettings: new NotificationSettingsService(notificationStore, connectionRepository),
    ...(overrides.traces ? { traces: overrides.traces } : {}),
    sendReauthorizeWarnings: () =>
      sendReauthorizeWarnings({
        connections: connectionRepository,
        sender: messageSender,
        refreshTokenInactivityDays: settings.REFRESH_TOKEN_INACTIVITY_DAYS,
      }),
  };
  return {
    context,
    internals: {
      tables,
      secrets,
      signInStateKeys,
      connectionRepository,
      connectionLifecycle,
      broker,
      tenantRegistry,
      userSessions,
      userTokens,
    },
  };
}

export function createAppContext(settings: Settings, overrides: AppContextOverrides = {}): AppContext {
  return createApp(settings, overrides).context;
}

/**
 * ManagedIdentityCredential of the app's user-assigned identity, created on the first token request: @azure/identity
 * (with its MSAL copy) is the largest part of the bundle that a cold instance would otherwise load before its first
 * answer (npm run bench, cold_import). Never DefaultAzureCredential: in Azure it would try environment and workload
 * identity credentials first, and a stray AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE would silently win.
 */
function managedIdentityCredential(clientId: string): TokenCredential {
  let credential: TokenCredential | undefined;
  return {
    getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
      credential ??= new (loadSdk().ManagedIdentityCredential)({ clientId });
      return credential.getToken(scopes, options);
    },
  };
}

/** Local mode without a stand-in credential: settings validation requires AZURE_CLIENT_ID everywhere else. */
function missingIdentity(): TokenCredential {
  return {
    getToken: () => Promise.reject(new Error('No Azure credential: set AZURE_CLIENT_ID to the client id of the app identity')),
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
