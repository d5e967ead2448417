/**
 * App settings read by the Azure Functions host and the Azure SDK rather than by `settings.ts`.
 * `infra/modules/function-app.bicep` sets them, docs/settings.md documents them, and
 * test/infra/bicep-drift.test.ts checks that the Bicep app settings are exactly
 * (settingNames - localOnlySettingNames) ∪ hostSettingNames.
 */
import type { Settings } from './settings';

export interface HostSetting {
  readonly name: string;
  /** What reads it and why it has the value Bicep gives it. */
  readonly description: string;
}

export const hostSettings: readonly HostSetting[] = [
  {
    name: 'AzureWebJobsStorage__accountName',
    description: 'Functions host storage (leases, timers, keys), identity-based: the storage account name instead of a connection string.',
  },
  {
    name: 'AzureWebJobsStorage__credential',
    description: '`managedidentity`: the host authenticates to its storage with a managed identity.',
  },
  {
    name: 'AzureWebJobsStorage__clientId',
    description: 'Client id of the user-assigned identity the host uses for its storage.',
  },
  {
    name: 'ServiceBusConnection__fullyQualifiedNamespace',
    description:
      "`<namespace>.servicebus.windows.net`, for triggers declared with `connection: 'ServiceBusConnection'` and the app's sender.",
  },
  {
    name: 'ServiceBusConnection__credential',
    description: '`managedidentity`: Service Bus triggers authenticate with a managed identity.',
  },
  {
    name: 'ServiceBusConnection__clientId',
    description: 'Client id of the user-assigned identity for Service Bus triggers.',
  },
  {
    name: 'AZURE_CLIENT_ID',
    description:
      "Client id of the app's user-assigned identity, read by the app's ManagedIdentityCredential (src/config/settings.ts) for Tables, Key Vault and Service Bus, and by the host's identity-based connections.",
  },
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING',
    description:
      'Where telemetry goes. Not a secret here: the component has local auth disabled, so ingestion also needs the Entra token below.',
  },
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
    description: '`ClientId=<identity client id>;Authorization=AAD`: telemetry is sent with the managed identity.',
  },
];

export const hostSettingNames: readonly string[] = hostSettings.map((s) => s.name);

/**
 * Settings in `settings.ts` that exist for the local instance and tests only. They must never be set in Azure
 * (configuration validation refuses some of them outside local mode), so the Bicep must not set them.
 */
export const localOnlySettingNames = [
  'CONNECTIONS_LOCAL_MODE',
  'TABLES_CONNECTION_STRING',
  'AUTH_KNOWN_AUTHORITIES',
  'TABLES_PREFIX',
] as const satisfies readonly (keyof Settings)[];

/**
 * Settings the Flex Consumption plan rejects or ignores (it takes runtime and version from `functionAppConfig`,
 * and deploys from a blob container instead of a content share), plus the key-based forms of the identity
 * settings above. The Bicep must set none of them.
 */
export const forbiddenSettingNames: readonly string[] = [
  'FUNCTIONS_EXTENSION_VERSION',
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_WORKER_RUNTIME_VERSION',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'ENABLE_ORYX_BUILD',
  'AzureWebJobsStorage',
  'ServiceBusConnection',
  'APPINSIGHTS_INSTRUMENTATIONKEY',
];
