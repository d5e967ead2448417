/**
 * The environment of a deployed instance, for loading the deploy package the way the worker does: the app settings
 * function-app.bicep writes, with values of the shape Bicep computes (test/deploy/package.test.ts; the bench's
 * cold_import times the first answer of a fresh process with it).
 */
import { bicepAppSettings } from './bicep-app-settings';

// Stand-ins for the values Bicep computes, in the shape it writes them. A Key Vault reference (AUTH_CLIENT_SECRET in secret mode) is what the platform puts
// in place of the @Microsoft.KeyVault(...) reference once it resolves it.
const identityClientId = '0b6a7c1e-52d4-4f3c-9b1e-3f0c2f6d7a11';
export const computedSettingValues: Record<string, string> = {
  AUTH_AUTHORITY: 'https://login.microsoftonline.com/organizations',
  AUTH_CLIENT_ID: '6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b',
  // The recommended credential: the managed identity as a federated credential, so no secret and no reference.
  AUTH_CLIENT_CREDENTIAL: 'managedIdentity',
  AUTH_CLIENT_SECRET: '',
  AUTH_REDIRECT_URI: 'https://func-connections-abc123.azurewebsites.net/api/connections/callback',
  CONNECTION_SCOPES: 'https://graph.microsoft.com/.default',
  ADMIN_TOKEN_ISSUER: 'https://login.microsoftonline.com/{tenantid}/v2.0',
  ADMIN_TOKEN_JWKS_URI: 'https://login.microsoftonline.com/common/discovery/v2.0/keys',
  ADMIN_TOKEN_AUDIENCE: 'api://6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b,6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b',
  ADMIN_TOKEN_ISSUER_V1: 'https://sts.windows.net/{tenantid}/',
  ADMIN_TOKEN_SCOPE: 'access_as_user',
  ADMIN_ROLE: 'Connections.Admin',
  API_ALLOWED_CLIENT_IDS: '',
  CONNECTION_ACCOUNT_ROLE: 'Connections.ServiceAccount',
  CONNECTION_ACCOUNT_ROLE_REQUIRED: 'true',
  AUTHORIZE_LIMIT_PER_MINUTE: '10',
  TABLES_ENDPOINT: 'https://stconnectionsabc123.table.core.windows.net',
  KEY_VAULT_URI: 'https://kv-connections-abc123.vault.azure.net/',
  GRAPH_BASE_URL: 'https://graph.microsoft.com/v1.0',
  SERVICE_BUS_MAX_DELIVERY_COUNT: '10',
  STEP_BATCH_BUDGET_SECONDS: '20',
  STEP_RETRY_MAX_TOTAL_MINUTES: '120',
  TOKEN_CACHE_WRITE_INTERVAL_SECONDS: '21600',
  KEEPALIVE_SCHEDULE: '0 0 3 * * *',
  KEEPALIVE_IDLE_DAYS: '14',
  MAINTENANCE_SCHEDULE: '0 */5 * * * *',
  RUN_RETENTION_DAYS: '30',
  DEAD_LETTER_RETENTION_DAYS: '14',
  AUDIT_RETENTION_DAYS: '400',
  QUOTA_EVENTS_PER_MINUTE: '600',
  QUOTA_CONNECTION_TESTS_PER_MINUTE: '30',
  QUOTA_PROCESSES_PER_TENANT: '200',
  // The default deployment: no separate API registration, so no reference to its secret.
  API_CLIENT_ID: '',
  API_CLIENT_CREDENTIAL: 'managedIdentity',
  API_CLIENT_SECRET: '',
  USER_GRAPH_SCOPES: 'https://graph.microsoft.com/.default',
  AzureWebJobsStorage__accountName: 'stconnectionsabc123',
  AzureWebJobsStorage__clientId: identityClientId,
  ServiceBusConnection__fullyQualifiedNamespace: 'sb-connections-abc123.servicebus.windows.net',
  ServiceBusConnection__clientId: identityClientId,
  AZURE_CLIENT_ID: identityClientId,
  APPLICATIONINSIGHTS_CONNECTION_STRING:
    'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `ClientId=${identityClientId};Authorization=AAD`,
};

/** The environment of an instance: the Bicep app settings and nothing from this machine but PATH. */
export function bicepEnvironment(bicepFile?: string): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
  const missing: string[] = [];
  for (const [name, literal] of bicepAppSettings(bicepFile)) {
    const value = literal ?? computedSettingValues[name];
    if (value === undefined) missing.push(name);
    else env[name] = value;
  }
  if (missing.length > 0)
    throw new Error(
      `function-app.bicep sets ${missing.join(', ')}: give test/support/deploy-environment.ts a value of the shape Bicep writes`,
    );
  return env;
}
