import path from 'node:path';
import { createApp, setAppContext, type AppContext, type AppContextOverrides, type AppInternals } from '../app-context';
import { loadSettings } from '../config/settings';
import { startAzurite, type LocalAzurite } from './azurite';
import { connectionsApp } from './connections-app';
import { createLocalHost, type LogSink } from './host';
import {
  LOCAL_API_AUDIENCE,
  LOCAL_API_CLIENT_ID,
  LOCAL_API_CLIENT_SECRET,
  LOCAL_CLIENT_ID,
  LOCAL_CLIENT_SECRET,
  LOCAL_MANAGED_IDENTITY,
  LOCAL_TENANTS,
  type LocalTenant,
} from './identity-provider/directory';
import { startIdentityProvider, type LocalIdentityProvider } from './identity-provider/launch';
import { localSpanRecorder } from './span-recorder';
import { startGraphStandIn, type GraphStandIn } from './graph-stand-in';
import { startKeyVaultStandIn, type KeyVaultStandIn } from './key-vault-stand-in';
import { LocalManagedIdentityCredential, LocalStaticCredential } from './local-credential';
import type { LocalApp } from './local-functions';
import { createTableBusStore } from './local-bus-store';
import { createLocalServiceBus, openLocalServiceBus, type LocalServiceBus } from './local-service-bus';
import { createPortalListener, localPortalConfig, portalRedirectUri, type PortalConfig } from './portal';

export interface LocalStackOptions {
  /** The functions to host; defaults to this app's (functions/definitions.ts). */
  app?: LocalApp;
  /** Port of the local Functions host; 0 picks a free one. */
  port?: number;
  /** Keeps Tables and the vault on disk under this folder; in memory when omitted. */
  dataDir?: string;
  tablesPrefix?: string;
  identityProvider?: { port?: number; accessTokenTtlSeconds?: number; rotateRefreshTokens?: boolean; apiAccessTokenVersion?: 1 | 2 };
  log?: LogSink;
  /** Extra settings (e.g. GRAPH_BASE_URL of a test's Graph stand-in). */
  env?: Record<string, string>;
  /**
   * How the sign-in and API registrations authenticate: `secret` (default) or `managedIdentity` (the local managed
   * identity's token as a client assertion, as in Azure with a federated identity credential; no client secret is set).
   */
  credentialMode?: 'secret' | 'managedIdentity';
  /** Serve the Connections page (dist/portal) at `/` and register it with the identity provider. */
  portal?: boolean;
  /** Tenants registered at start, as the vendor's operator registers customers in Azure; both local tenants by default. */
  registerTenants?: readonly LocalTenant[];
  /** The queues' lock duration (default PT1M, as infra sets it): how long a message a crashed process held stays locked. */
  busLockDurationMs?: number;
  /**
   * false: the bus keeps its messages in memory only (lost with the process). For the bench alone, whose
   * step_overhead is about the engine's own cost: the Azurite writes of the durable bus stand for work Service Bus
   * does in Azure. `npm start` and the tests keep the durable bus (the default).
   */
  durableBus?: boolean;
  /**
   * A simulated clock for the step runner and the bus's scheduled messages (fault tests of long outages); call
   * `bus.clockChanged()` after moving it. The system clock otherwise.
   */
  now?: () => Date;
}

export interface LocalStack {
  baseUrl: string;
  /** The Connections page, when the stack was started with `portal: true`. */
  portalUrl?: string;
  env: Record<string, string>;
  context: AppContext;
  /** The parts the services are built from (tables, vault, broker, ...), for tests that reach below the services. */
  internals: AppInternals;
  /** What the stack built its context with (the stand-in vault's credential, the in-process bus): for a second context. */
  overrides: AppContextOverrides;
  azurite: LocalAzurite;
  identityProvider: LocalIdentityProvider;
  vault: KeyVaultStandIn;
  graph: GraphStandIn;
  bus: LocalServiceBus;
  stop(): Promise<void>;
}

/**
 * The whole product on one machine with no cloud: Azurite for Tables, the local identity provider
 * in place of Microsoft sign-in, the Key Vault and Graph stand-ins, an in-process bus with Service
 * Bus semantics, and the local Functions host. The app is
 * configured through the same settings as in Azure (plus local mode), so its production code runs.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const stoppers: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stoppers.reverse()) await s().catch(() => undefined);
    setAppContext(undefined);
  };
  const app = options.app ?? connectionsApp;
  try {
    let portalConfig: PortalConfig | undefined;
    const fallback = options.portal ? createPortalListener(() => portalConfig) : undefined;
    const host = createLocalHost(app.functions, { log: options.log, ...(fallback ? { fallback } : {}) });
    const baseUrl = await host.listen(options.port ?? 0);
    stoppers.push(host.close);
    const redirectUri = `${baseUrl}/api/connections/callback`;

    const [azurite, identityProvider, vault] = await Promise.all([
      startAzurite(options.dataDir ? { location: path.join(options.dataDir, 'azurite') } : {}),
      startIdentityProvider({
        redirectUris: [redirectUri],
        ...(options.portal ? { portalRedirectUris: [portalRedirectUri(baseUrl)] } : {}),
        ...options.identityProvider,
      }),
      startKeyVaultStandIn(options.dataDir ? { persistFile: path.join(options.dataDir, 'vault.json') } : {}),
    ]);
    stoppers.push(azurite.stop, identityProvider.stop, vault.close);
    const graph = await startGraphStandIn({ jwksUri: identityProvider.jwksUri, issuer: identityProvider.issuer });
    stoppers.push(graph.close);

    const env: Record<string, string> = {
      CONNECTIONS_LOCAL_MODE: 'true',
      AUTH_AUTHORITY: identityProvider.authority,
      AUTH_KNOWN_AUTHORITIES: new URL(identityProvider.url).host,
      AUTH_CLIENT_ID: LOCAL_CLIENT_ID,
      AZURE_CLIENT_ID: LOCAL_MANAGED_IDENTITY.clientId,
      ...(options.credentialMode === 'managedIdentity'
        ? { AUTH_CLIENT_CREDENTIAL: 'managedIdentity', API_CLIENT_CREDENTIAL: 'managedIdentity' }
        : { AUTH_CLIENT_SECRET: LOCAL_CLIENT_SECRET, API_CLIENT_SECRET: LOCAL_API_CLIENT_SECRET }),
      AUTH_REDIRECT_URI: redirectUri,
      ADMIN_TOKEN_ISSUER: identityProvider.issuer,
      ADMIN_TOKEN_ISSUER_V1: identityProvider.v1IssuerTemplate,
      ADMIN_TOKEN_JWKS_URI: identityProvider.jwksUri,
      // Both forms, as in Azure: v1.0 tokens carry the App ID URI, v2.0 tokens the API's client id.
      ADMIN_TOKEN_AUDIENCE: `${LOCAL_API_AUDIENCE},${LOCAL_API_CLIENT_ID}`,
      // User tokens are issued for the API registration, so it (not the sign-in app) exchanges them On-Behalf-Of.
      API_CLIENT_ID: LOCAL_API_CLIENT_ID,
      TABLES_CONNECTION_STRING: azurite.connectionString,
      KEY_VAULT_URI: vault.url,
      GRAPH_BASE_URL: graph.url,
      // The local provider revokes rotated-out refresh tokens, so every rotation must be kept.
      TOKEN_CACHE_WRITE_POLICY: 'always',
      ...(options.tablesPrefix ? { TABLES_PREFIX: options.tablesPrefix } : {}),
      ...options.env,
    };
    const settings = loadSettings(env);
    // The bus keeps its messages in Azurite (on disk with a dataDir): a message accepted before a crash is delivered
    // after the restart, as Service Bus keeps it in Azure. Deliveries start once the app context is set (resume below).
    const busOptions = {
      maxDeliveryCount: settings.SERVICE_BUS_MAX_DELIVERY_COUNT,
      serviceBusConnection: app.serviceBusConnection,
      log: options.log,
      ...(options.busLockDurationMs !== undefined ? { queueLockDurationMs: options.busLockDurationMs } : {}),
      ...(options.now ? { now: () => options.now!().getTime() } : {}),
    };
    const bus =
      options.durableBus === false
        ? createLocalServiceBus(app.functions, busOptions)
        : await openLocalServiceBus(app.functions, {
            ...busOptions,
            store: await createTableBusStore(azurite.connectionString, `${settings.TABLES_PREFIX ?? ''}LocalServiceBus`),
          });
    stoppers.push(bus.close);
    const overrides: AppContextOverrides = {
      // The vault stand-in must never see a real credential's tokens.
      credential: new LocalStaticCredential(),
      managedIdentity: new LocalManagedIdentityCredential(
        identityProvider.url,
        settings.AZURE_CLIENT_ID ?? LOCAL_MANAGED_IDENTITY.clientId,
      ),
      sender: bus,
      traces: localSpanRecorder(),
      ...(options.now ? { now: options.now } : {}),
      ...(options.log ? { logError: (message: string) => options.log!('error', 'app', message) } : {}),
    };
    const { context, internals } = createApp(settings, overrides);
    for (const tenant of options.registerTenants ?? LOCAL_TENANTS) {
      await internals.tenantRegistry.register({
        tenantId: tenant.id,
        displayName: tenant.name,
        by: 'local instance',
        consentState: 'granted',
      });
    }
    setAppContext(context);
    bus.resume();
    if (options.portal) portalConfig = localPortalConfig(baseUrl, identityProvider.issuer);
    return {
      baseUrl,
      ...(options.portal ? { portalUrl: portalRedirectUri(baseUrl) } : {}),
      env,
      context,
      internals,
      overrides,
      azurite,
      identityProvider,
      vault,
      graph,
      bus,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
