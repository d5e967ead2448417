import { z } from 'zod';

/**
 * Every setting the app reads, in one place. Names are the app-setting names (environment variables);
 * `infra/` sets the production ones and a test checks the two do not drift.
 */
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const csv = z.string().transform((v) =>
  v
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean),
);
const httpsUrl = z.url({ protocol: /^https$/ });
const anyUrl = z.url({ protocol: /^https?$/ });
const positiveInt = z.coerce.number().int().positive();

const fields = z.object({
  /** Turns on the local-only parts (local vault credential, Azurite connection string, in-process queue). */
  CONNECTIONS_LOCAL_MODE: bool.default(false),

  /** Microsoft identity platform authority used for sign-in and refresh, e.g. https://login.microsoftonline.com/organizations */
  AUTH_AUTHORITY: httpsUrl.default('https://login.microsoftonline.com/organizations'),
  /** Extra authority hosts MSAL may trust without Microsoft instance discovery (local provider only). */
  AUTH_KNOWN_AUTHORITIES: csv.default([]),
  /** Application (client) id of the sign-in app registration. */
  AUTH_CLIENT_ID: z.string().min(1),
  /**
   * How the sign-in app authenticates to Entra: `managedIdentity` (recommended in Azure: the app's user-assigned identity
   * is a federated identity credential of the registration, so there is no secret to store or rotate) or `secret`.
   */
  AUTH_CLIENT_CREDENTIAL: z.enum(['secret', 'managedIdentity']).default('secret'),
  /** Client secret of the sign-in app registration (a Key Vault reference in Azure); required with AUTH_CLIENT_CREDENTIAL `secret`. */
  AUTH_CLIENT_SECRET: z.string().min(1).optional(),
  /** Absolute URL of GET /api/connections/callback, registered as the redirect URI. */
  AUTH_REDIRECT_URI: anyUrl,
  /** Delegated scopes a connection is authorized for (offline_access, openid and profile are always added). */
  CONNECTION_SCOPES: csv.default(['https://graph.microsoft.com/.default']),

  /** Issuer of v2.0 admin access tokens (`ver` "2.0"); `{tenantid}` is replaced by the token's `tid`. */
  ADMIN_TOKEN_ISSUER: z.string().min(1).default('https://login.microsoftonline.com/{tenantid}/v2.0'),
  /** Issuer of v1.0 admin access tokens (`ver` "1.0"), Entra's default version; `{tenantid}` as above. */
  ADMIN_TOKEN_ISSUER_V1: z.string().min(1).default('https://sts.windows.net/{tenantid}/'),
  /**
   * JWKS of the admin token issuer. Entra signs v1.0 and v2.0 tokens of organizational accounts with the same
   * keys; the v2.0 document is the superset (it adds the Microsoft account keys), so one URI serves both.
   */
  ADMIN_TOKEN_JWKS_URI: httpsUrl.default('https://login.microsoftonline.com/common/discovery/v2.0/keys'),
  /** Audiences admin tokens may carry: the API's App ID URI (v1.0 tokens) and client id (v2.0, and v1.0 asked for by id). */
  ADMIN_TOKEN_AUDIENCE: csv.pipe(z.array(z.string()).min(1)),
  /** The API's delegated permission an admin access token must carry in `scp` (ID tokens carry no `scp`). */
  ADMIN_TOKEN_SCOPE: z
    .string()
    .regex(/^[^\s]+$/, 'must be one permission name, e.g. access_as_user')
    .default('access_as_user'),
  /**
   * The app registration of this API (the `aud` of user and admin tokens) when it is not the sign-in app: it performs
   * the On-Behalf-Of exchange for user processes, since Entra only exchanges a token sent to the client that asks
   * (learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow). Empty: the sign-in app (AUTH_CLIENT_ID)
   * does, which works when one registration serves both (AUTH_CLIENT_ID is then in ADMIN_TOKEN_AUDIENCE).
   */
  API_CLIENT_ID: z.string().trim().min(1).optional(),
  /**
   * Client apps whose tokens this API accepts (`azp` of v2.0 tokens, `appid` of v1.0): a token the sign-in app or a
   * consented third-party app obtained for this API is refused with 403. Empty: the client ids in ADMIN_TOKEN_AUDIENCE
   * (the admin page's registration) and API_CLIENT_ID; add the product front end's client id here.
   */
  API_ALLOWED_CLIENT_IDS: csv.optional(),
  /** How API_CLIENT_ID authenticates to Entra: `managedIdentity` (federated identity credential, recommended) or `secret`. */
  API_CLIENT_CREDENTIAL: z.enum(['secret', 'managedIdentity']).default('secret'),
  /**
   * Client secret of API_CLIENT_ID (a Key Vault reference in Azure) with API_CLIENT_CREDENTIAL `secret`. Missing or
   * unresolved, only the user routes stop (503 with the reason): connections and system processes do not need it.
   */
  API_CLIENT_SECRET: z.string().min(1).optional(),
  /**
   * Client id of the app's user-assigned managed identity: the credential for Tables, Key Vault and Service Bus
   * (ManagedIdentityCredential with this id, never DefaultAzureCredential) and, in `managedIdentity` credential mode, the
   * identity whose token for `api://AzureADTokenExchange` is the app registrations' client assertion.
   */
  AZURE_CLIENT_ID: z.string().trim().min(1).optional(),
  /** Delegated Graph scopes the On-Behalf-Of exchange asks for: what a user process's unelevated steps may do as the user. */
  USER_GRAPH_SCOPES: csv.pipe(z.array(z.string()).min(1)).default(['https://graph.microsoft.com/.default']),
  /** App role an admin token must carry. */
  ADMIN_ROLE: z.string().min(1).default('Connections.Admin'),
  /**
   * App role of the sign-in app (AUTH_CLIENT_ID) that designates a service account: only an account whose ID token
   * carries it can become a connection (an ordinary user's sign-in must not). Assigned per account in Enterprise applications.
   */
  CONNECTION_ACCOUNT_ROLE: z.string().trim().min(1).default('Connections.ServiceAccount'),
  /** Whether CONNECTION_ACCOUNT_ROLE is required; `false` lets any account of the tenant become a connection. */
  CONNECTION_ACCOUNT_ROLE_REQUIRED: bool.default(true),
  /** Sign-ins (authorize and reauthorize) one administrator may start per minute, per instance; more answer 429. */
  AUTHORIZE_LIMIT_PER_MINUTE: positiveInt.max(1000).default(10),

  /** Table service endpoint, e.g. https://<account>.table.core.windows.net (identity-based). */
  TABLES_ENDPOINT: anyUrl.optional(),
  /** Azurite connection string: local mode only. */
  TABLES_CONNECTION_STRING: z.string().min(1).optional(),
  /** Prefix for every table name, so several instances can share one storage account (tests use it). */
  TABLES_PREFIX: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]{0,20}$/)
    .optional(),

  /** Key Vault that holds one token-cache secret per connection, e.g. https://<vault>.vault.azure.net */
  KEY_VAULT_URI: anyUrl,

  /** Microsoft Graph base URL for actions and connection tests. */
  GRAPH_BASE_URL: anyUrl.default('https://graph.microsoft.com/v1.0'),

  /** Service Bus namespace for the app's sender (the triggers read the same setting through the host). */
  ServiceBusConnection__fullyQualifiedNamespace: z.string().min(1).optional(),
  /** Must equal the queues' max delivery count: the last delivery of a step marks its run failed. */
  SERVICE_BUS_MAX_DELIVERY_COUNT: positiveInt.max(2000).default(10),
  /**
   * How long one invocation of the steps queue goes on with a run's next steps (seconds; 0: one step per message).
   * Well under the queues' lock duration (PT1M; the host renews the session lock up to host.json
   * maxAutoLockRenewalDuration, 10 min), and short enough that one long run does not hold one of the host's
   * maxConcurrentSessions (8) for long.
   */
  STEP_BATCH_BUDGET_SECONDS: z.coerce.number().int().min(0).max(300).default(20),
  /** How long a step that fails transiently (token endpoint or Graph down) is retried by scheduled messages before its run fails. */
  STEP_RETRY_MAX_TOTAL_MINUTES: positiveInt.max(1440).default(120),

  /**
   * When a rotated refresh token is written back to Key Vault: `always` (providers that revoke the old
   * one, like the local provider) or `interval` (Entra ID, where old refresh tokens stay valid: at most
   * once per TOKEN_CACHE_WRITE_INTERVAL_SECONDS per connection, to stay under Key Vault's write limits).
   */
  TOKEN_CACHE_WRITE_POLICY: z.enum(['always', 'interval']).default('interval'),
  TOKEN_CACHE_WRITE_INTERVAL_SECONDS: positiveInt.default(6 * 3600),
  /** How long one instance may hold a connection's refresh lease (Table row + ETag). */
  TOKEN_REFRESH_LEASE_SECONDS: positiveInt.max(120).default(15),

  /**
   * The identity provider's refresh-token inactivity window (Entra ID: 90 days, sliding): a refresh token
   * unused this long dies. A connection's `reauthorizeBy` is its last refresh or sign-in plus this.
   */
  REFRESH_TOKEN_INACTIVITY_DAYS: positiveInt.max(3650).default(90),
  /**
   * When the keep-alive timer runs: NCRONTAB with seconds (`{second} {minute} {hour} {day} {month} {day-of-week}`),
   * UTC unless WEBSITE_TIME_ZONE says otherwise. The Functions host reads it (`%KEEPALIVE_SCHEDULE%`); it is
   * here so that it is validated and set in Bicep like every other setting.
   */
  KEEPALIVE_SCHEDULE: z
    .string()
    .trim()
    .regex(/^[\d*,/A-Za-z-]+(\s+[\d*,/A-Za-z-]+){5}$/, 'must be an NCRONTAB expression with six fields, e.g. "0 0 3 * * *"')
    .default('0 0 3 * * *'),
  /** Keep-alive refreshes active connections neither refreshed nor used for this many days. */
  KEEPALIVE_IDLE_DAYS: z.coerce.number().int().min(0).max(3650).default(14),
  /**
   * When the maintenance timer runs (NCRONTAB with seconds, read by the host as `%MAINTENANCE_SCHEDULE%`): it delivers
   * connection notifications a crash left in the outbox and deletes data past its retention, in bounded batches.
   * Every 5 minutes by default: more often than the queues' duplicate detection window (PT10M), so a notification
   * resent after a crash between its send and the outbox cleanup is still dropped as a duplicate.
   */
  MAINTENANCE_SCHEDULE: z
    .string()
    .trim()
    .regex(/^[\d*,/A-Za-z-]+(\s+[\d*,/A-Za-z-]+){5}$/, 'must be an NCRONTAB expression with six fields, e.g. "0 */5 * * * *"')
    .default('0 */5 * * * *'),
  /** Runs (and the received-time rows of their events) are deleted this many days after they were created. */
  RUN_RETENTION_DAYS: positiveInt.max(3650).default(30),
  /** Recorded dead letters (table DeadLetters) are deleted this many days after they were recorded. */
  DEAD_LETTER_RETENTION_DAYS: positiveInt.max(3650).default(14),
  /** Connection audit entries are deleted this many days after the change they record. */
  AUDIT_RETENTION_DAYS: positiveInt.max(3650).default(400),

  /**
   * How long an instance reuses the answer to "is this tenant registered?" (Tenants table): a registration or its
   * removal takes effect within this time. 0 reads the table on every call.
   */
  TENANT_REGISTRATION_CACHE_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
  /** Per-tenant quotas, counted per instance (docs/processes.md "Quotas"): events a tenant may post per minute (POST /api/events). */
  QUOTA_EVENTS_PER_MINUTE: positiveInt.max(100_000).default(600),
  /** Connection `test` calls (each a real token refresh and Graph call) a tenant may make per minute. */
  QUOTA_CONNECTION_TESTS_PER_MINUTE: positiveInt.max(10_000).default(30),
  /** User process calls per minute, each of run starts, form submissions and resumes counted apart: per user (tid + oid)... */
  QUOTA_USER_RUN_CALLS_PER_MINUTE: positiveInt.max(10_000).default(30),
  /** ... and per tenant, all its users together. */
  QUOTA_TENANT_RUN_CALLS_PER_MINUTE: positiveInt.max(100_000).default(600),
  /** Runs one user may have `running` or `waiting` at once (each keeps rows, and a waiting one its form). */
  QUOTA_USER_ACTIVE_RUNS: positiveInt.max(10_000).default(50),
  /** Processes a tenant may have (drafts and published ones count alike). */
  QUOTA_PROCESSES_PER_TENANT: positiveInt.max(100_000).default(200),
});

export const settingsSchema = fields.superRefine((s, ctx) => {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (s.KEEPALIVE_IDLE_DAYS >= s.REFRESH_TOKEN_INACTIVITY_DAYS) {
    // Otherwise refresh tokens would die of inactivity before the keep-alive ever touched them.
    issue('KEEPALIVE_IDLE_DAYS', 'must be less than REFRESH_TOKEN_INACTIVITY_DAYS');
  }
  // The API registration's credential is checked where it is used (tokens/user-tokens.ts onBehalfOfClient): a missing
  // or wrong one stops the user routes only, never sign-ins, refreshes or system processes.
  if (s.AUTH_CLIENT_CREDENTIAL === 'secret' && !s.AUTH_CLIENT_SECRET) {
    issue('AUTH_CLIENT_SECRET', 'is required with AUTH_CLIENT_CREDENTIAL "secret" (or use "managedIdentity")');
  }
  if ((s.AUTH_CLIENT_CREDENTIAL === 'managedIdentity' || s.API_CLIENT_CREDENTIAL === 'managedIdentity') && !s.AZURE_CLIENT_ID) {
    issue(
      'AZURE_CLIENT_ID',
      'is required with the "managedIdentity" credential: the client id of the identity the app registration trusts',
    );
  }
  if (!s.TABLES_ENDPOINT && !s.TABLES_CONNECTION_STRING) {
    issue('TABLES_ENDPOINT', 'TABLES_ENDPOINT is required');
  }
  if (s.CONNECTIONS_LOCAL_MODE) return;
  if (!s.ServiceBusConnection__fullyQualifiedNamespace) {
    issue('ServiceBusConnection__fullyQualifiedNamespace', 'is required outside local mode (the in-process bus is local only)');
  }
  if (s.TABLES_CONNECTION_STRING) {
    issue('TABLES_CONNECTION_STRING', 'connection strings are for the local instance only; use TABLES_ENDPOINT with a managed identity');
  }
  if (!s.KEY_VAULT_URI.startsWith('https://')) {
    issue('KEY_VAULT_URI', 'must be https outside local mode');
  }
  if (!s.GRAPH_BASE_URL.startsWith('https://')) {
    issue('GRAPH_BASE_URL', 'must be https outside local mode');
  }
  if (!s.AZURE_CLIENT_ID) {
    issue('AZURE_CLIENT_ID', "is required outside local mode: the client id of the app's user-assigned managed identity");
  }
  if (s.AUTH_KNOWN_AUTHORITIES.length > 0) {
    issue('AUTH_KNOWN_AUTHORITIES', 'a non-Microsoft authority is for the local identity provider only');
  }
});

export type Settings = z.infer<typeof settingsSchema>;

/** Names of every setting, for docs and the infra drift test. */
export const settingNames = Object.keys(fields.shape) as (keyof Settings)[];

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'SettingsError';
  }
}

/**
 * When App Service cannot resolve a Key Vault reference, the setting keeps the reference's literal text
 * (https://learn.microsoft.com/azure/app-service/app-service-key-vault-references#troubleshoot-key-vault-references ("If a reference isn't resolved properly, the reference string is used instead")),
 * which would otherwise pass as a client secret. Matched at the start only, case-insensitively, as the platform does.
 */
const unresolvedKeyVaultReference = /^\s*@Microsoft\.KeyVault\(/i;

export const isUnresolvedKeyVaultReference = (value: string | undefined): boolean => unresolvedKeyVaultReference.test(value ?? '');

/** Settings whose unresolved reference stops one feature only (its users get the reason), not the whole app. */
const referencesCheckedWhereUsed: readonly string[] = ['API_CLIENT_SECRET'];

export const unresolvedReferenceMessage =
  'is an unresolved Key Vault reference (@Microsoft.KeyVault(...)): the platform could not read the secret. ' +
  "Likely causes: the app's managed identity lacks the Key Vault Secrets User role (or a role that includes it) on the vault, " +
  'or the role assignment has not propagated yet; the secret (or the version named) does not exist or is disabled; ' +
  'or the vault is not reachable from the app (network rules, private endpoint, firewall). ' +
  'Function App > Settings > Environment variables shows the reference status.';

export function loadSettings(env: Record<string, string | undefined> = process.env): Settings {
  const input = Object.fromEntries(settingNames.map((n) => [n, env[n] === '' ? undefined : env[n]]));
  // Values are never echoed: AUTH_CLIENT_SECRET may be among them.
  const unresolved = settingNames.filter((n) => !referencesCheckedWhereUsed.includes(n) && isUnresolvedKeyVaultReference(input[n]));
  if (unresolved.length) throw new SettingsError(unresolved.map((n) => `${n}: ${unresolvedReferenceMessage}`));
  const parsed = settingsSchema.safeParse(input);
  if (!parsed.success) {
    throw new SettingsError(parsed.error.issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`));
  }
  return parsed.data;
}

/** Names of the tables the app uses, with the optional prefix. */
export function tableNames(s: Pick<Settings, 'TABLES_PREFIX'>) {
  const p = s.TABLES_PREFIX ?? '';
  return {
    connections: `${p}Connections`,
    signInStates: `${p}SignInStates`,
    processes: `${p}Processes`,
    runs: `${p}Runs`,
    tokenLeases: `${p}TokenLeases`,
    deadLetters: `${p}DeadLetters`,
    connectionAudit: `${p}ConnectionAudit`,
    tenants: `${p}Tenants`,
    userSessions: `${p}UserSessions`,
    notifications: `${p}Notifications`,
  } as const;
}
