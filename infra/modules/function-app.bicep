// The Function App: Linux, Node 22, Flex Consumption, running as the one user-assigned identity.
//
// Every app setting is in `appSettingValues` below. test/infra/bicep-drift.test.ts checks that its keys are
// exactly the production settings of src/config/settings.ts plus the host settings of
// src/config/host-settings.ts, and that no value is a key or connection string.

@description('Name of the function app (also the default host name prefix).')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Azure region of the plan and the app.')
param location string

@description('Tags applied to the plan and the app.')
param tags object

@description('Name of the app\'s user-assigned managed identity.')
param identityName string

@description('Name of the storage account used as AzureWebJobsStorage.')
param storageAccountName string

@description('URL of the blob container Flex Consumption deploys the package to.')
param deploymentContainerUrl string

@description('Table service endpoint for TABLES_ENDPOINT.')
param tableEndpoint string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Key Vault URI for KEY_VAULT_URI.')
param keyVaultUri string

@description('Versionless Key Vault URI of the sign-in client secret (not the secret itself).')
param authClientSecretUri string

@description('Fully qualified Service Bus namespace, e.g. sb-abc.servicebus.windows.net.')
param serviceBusFullyQualifiedNamespace string

@description('Authority for sign-in and refresh (AUTH_AUTHORITY).')
param authAuthority string

@description('Application (client) id of the sign-in app registration (AUTH_CLIENT_ID).')
param authClientId string

@description('Application (client) id of the API registration that performs On-Behalf-Of for user processes (API_CLIENT_ID); empty: the sign-in registration.')
param apiClientId string

@description('Comma-separated client ids whose tokens the API accepts (API_ALLOWED_CLIENT_IDS, azp/appid); empty: the admin page and API registrations.')
param allowedClientIds string = ''

@description('How the sign-in registration authenticates (AUTH_CLIENT_CREDENTIAL): managedIdentity (federated credential, no secret) or secret.')
@allowed([
  'managedIdentity'
  'secret'
])
param authClientCredential string

@description('How the API registration authenticates (API_CLIENT_CREDENTIAL): managedIdentity (federated credential, no secret) or secret.')
@allowed([
  'managedIdentity'
  'secret'
])
param apiClientCredential string

@description('Versionless Key Vault URI of the API registration\'s client secret (API_CLIENT_SECRET); used only with apiClientId.')
param apiClientSecretUri string

@description('Space- or comma-separated delegated Graph scopes of user process steps (USER_GRAPH_SCOPES).')
param userGraphScopes string

@description('Space- or comma-separated delegated scopes a connection is authorized for (CONNECTION_SCOPES).')
param connectionScopes string

@description('Issuer template of v2.0 admin tokens; {tenantid} is replaced by the token\'s tid (ADMIN_TOKEN_ISSUER).')
param adminTokenIssuer string

@description('Issuer template of v1.0 admin tokens; {tenantid} is replaced by the token\'s tid (ADMIN_TOKEN_ISSUER_V1).')
param adminTokenIssuerV1 string

@description('Delegated permission of the API an admin token must carry in scp (ADMIN_TOKEN_SCOPE).')
param adminTokenScope string

@description('JWKS URI of the admin token issuer (ADMIN_TOKEN_JWKS_URI).')
param adminTokenJwksUri string

@description('Comma-separated audiences admin tokens must carry (ADMIN_TOKEN_AUDIENCE).')
param adminTokenAudience string

@description('App role admin tokens must carry (ADMIN_ROLE).')
param adminRole string

@description('App role of the sign-in app an account needs to become a connection (CONNECTION_ACCOUNT_ROLE).')
param connectionAccountRole string

@description('Whether connectionAccountRole is required (CONNECTION_ACCOUNT_ROLE_REQUIRED).')
param connectionAccountRoleRequired bool

@description('Sign-ins one administrator may start per minute, per instance (AUTHORIZE_LIMIT_PER_MINUTE).')
param authorizeLimitPerMinute int

@description('Microsoft Graph base URL (GRAPH_BASE_URL).')
param graphBaseUrl string

@description('Max delivery count of the queues (SERVICE_BUS_MAX_DELIVERY_COUNT); the app marks a run failed on the last delivery.')
param serviceBusMaxDeliveryCount int

@description('Seconds one invocation goes on with a run\'s next steps (STEP_BATCH_BUDGET_SECONDS; 0: one step per message). Keep it well under the queues\' lock duration (PT1M).')
param stepBatchBudgetSeconds int

@description('Minutes a step that fails transiently is retried by scheduled messages before its run fails (STEP_RETRY_MAX_TOTAL_MINUTES).')
param stepRetryMaxTotalMinutes int

@description('Minimum seconds between two write-backs of a rotated token cache per connection (TOKEN_CACHE_WRITE_INTERVAL_SECONDS). Entra ID keeps old refresh tokens valid, so writing every rotation would only spend Key Vault write quota.')
param tokenCacheWriteIntervalSeconds int

@description('NCRONTAB schedule of the connection keep-alive timer (KEEPALIVE_SCHEDULE).')
param keepAliveSchedule string

@description('Days without refresh or use after which the keep-alive refreshes a connection (KEEPALIVE_IDLE_DAYS).')
param keepAliveIdleDays int

@description('NCRONTAB schedule of the maintenance timer: outbox delivery and retention (MAINTENANCE_SCHEDULE).')
param maintenanceSchedule string

@description('Days a run is kept (RUN_RETENTION_DAYS).')
param runRetentionDays int

@description('Days a recorded dead letter is kept (DEAD_LETTER_RETENTION_DAYS).')
param deadLetterRetentionDays int

@description('Days a connection audit entry is kept (AUDIT_RETENTION_DAYS).')
param auditRetentionDays int

@description('Events a tenant may post per minute through POST /api/events, per instance (QUOTA_EVENTS_PER_MINUTE).')
param quotaEventsPerMinute int

@description('Connection tests a tenant may run per minute, per instance (QUOTA_CONNECTION_TESTS_PER_MINUTE).')
param quotaConnectionTestsPerMinute int

@description('Processes a tenant may have (QUOTA_PROCESSES_PER_TENANT).')
param quotaProcessesPerTenant int

@description('Host name users reach the API on, if not the default *.azurewebsites.net one (custom domain or front door). Empty: the default host name.')
param publicHostName string

@description('Origins allowed to call the API from a browser (the admin portal). Empty: no CORS.')
param corsAllowedOrigins array

@description('Upper bound on instances Flex Consumption scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Always-ready instances for the HTTP trigger group (0 = scale to zero; 1+ removes cold starts for the portal, billed while idle).')
@minValue(0)
param alwaysReadyHttpInstances int

@description('Integration subnet (delegated to Microsoft.App/environments, with the NAT gateway of the static outbound IP); empty: no VNet integration.')
param virtualNetworkSubnetId string

resource appIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: identityName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// azd finds the app to deploy the `api` service (azure.yaml) to by this tag.
var azdServiceTag = {
  'azd-service-name': 'api'
}

// Always-ready instances of the HTTP trigger group, so the admin portal does not wait for a cold start.
var alwaysReady = alwaysReadyHttpInstances > 0 ? [
  {
    name: 'http'
    instanceCount: alwaysReadyHttpInstances
  }
] : []

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    // Linux.
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, azdServiceTag)
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${appIdentity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Resolve @Microsoft.KeyVault(...) app settings with the user-assigned identity (the default would be a
    // system-assigned identity, which this app does not have).
    keyVaultReferenceIdentity: appIdentity.id
    // Outgoing calls through the subnet and its NAT gateway: one static IP for Conditional Access named locations.
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      cors: {
        allowedOrigins: corsAllowedOrigins
        supportCredentials: false
      }
    }
    functionAppConfig: {
      // Flex Consumption runs the package from this container, read with the app identity (no SAS URL).
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: appIdentity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: alwaysReady
      }
      // Runtime and version live here on Flex Consumption, not in FUNCTIONS_WORKER_RUNTIME /
      // FUNCTIONS_EXTENSION_VERSION app settings (which the plan rejects). Node 20 reached end of life on
      // 2026-04-30; 22 is a Flex Consumption Node version (`az functionapp list-flexconsumption-runtimes`,
      // Get-AzFunctionAppFlexConsumptionRuntime). The code keeps running on Node 20 too, which development uses.
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// No publishing user names and passwords: azd and CI deploy with Entra ID tokens.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

var hostName = empty(publicHostName) ? functionApp.properties.defaultHostName : publicHostName

// Must match the callback route in functions/ and the redirect URI registered on the app registration.
var callbackUrl = 'https://${hostName}/api/connections/callback'

// The complete set of app settings (this resource replaces whatever was there). Values are names, URLs, client
// ids and Key Vault references only: no key, password or connection string with a credential.
var appSettingValues = {
  // --- Read by the app: src/config/settings.ts ---
  AUTH_AUTHORITY: authAuthority
  AUTH_CLIENT_ID: authClientId
  AUTH_CLIENT_CREDENTIAL: authClientCredential
  // Resolved by the platform with keyVaultReferenceIdentity; the app sees the plain value. With the managed identity
  // credential there is no secret, and no reference (an unresolvable one would stop the app).
  AUTH_CLIENT_SECRET: authClientCredential == 'secret' ? '@Microsoft.KeyVault(SecretUri=${authClientSecretUri})' : ''
  AUTH_REDIRECT_URI: callbackUrl
  CONNECTION_SCOPES: connectionScopes
  // Empty (the sign-in registration performs On-Behalf-Of) unless a separate API registration is named; the reference
  // is set only then, since an unresolvable one would stop the app at start (loadSettings refuses it).
  API_CLIENT_ID: apiClientId
  API_ALLOWED_CLIENT_IDS: allowedClientIds
  API_CLIENT_CREDENTIAL: apiClientCredential
  API_CLIENT_SECRET: !empty(apiClientId) && apiClientCredential == 'secret' ? '@Microsoft.KeyVault(SecretUri=${apiClientSecretUri})' : ''
  USER_GRAPH_SCOPES: userGraphScopes
  ADMIN_TOKEN_ISSUER: adminTokenIssuer
  ADMIN_TOKEN_ISSUER_V1: adminTokenIssuerV1
  ADMIN_TOKEN_JWKS_URI: adminTokenJwksUri
  ADMIN_TOKEN_AUDIENCE: adminTokenAudience
  ADMIN_TOKEN_SCOPE: adminTokenScope
  ADMIN_ROLE: adminRole
  CONNECTION_ACCOUNT_ROLE: connectionAccountRole
  CONNECTION_ACCOUNT_ROLE_REQUIRED: string(connectionAccountRoleRequired)
  AUTHORIZE_LIMIT_PER_MINUTE: string(authorizeLimitPerMinute)
  TABLES_ENDPOINT: tableEndpoint
  KEY_VAULT_URI: keyVaultUri
  GRAPH_BASE_URL: graphBaseUrl
  SERVICE_BUS_MAX_DELIVERY_COUNT: string(serviceBusMaxDeliveryCount)
  STEP_BATCH_BUDGET_SECONDS: string(stepBatchBudgetSeconds)
  STEP_RETRY_MAX_TOTAL_MINUTES: string(stepRetryMaxTotalMinutes)
  // Entra ID keeps a rotated-out refresh token valid, so a throttled write-back loses nothing.
  TOKEN_CACHE_WRITE_POLICY: 'interval'
  TOKEN_CACHE_WRITE_INTERVAL_SECONDS: string(tokenCacheWriteIntervalSeconds)
  TOKEN_REFRESH_LEASE_SECONDS: '15'
  // Entra ID's refresh-token inactivity window (sliding); drives each connection's reauthorizeBy.
  REFRESH_TOKEN_INACTIVITY_DAYS: '90'
  // Also read by the host: the keep-alive timer's schedule is '%KEEPALIVE_SCHEDULE%', so it must always be set.
  KEEPALIVE_SCHEDULE: keepAliveSchedule
  KEEPALIVE_IDLE_DAYS: string(keepAliveIdleDays)
  // Also read by the host: the maintenance timer's schedule is '%MAINTENANCE_SCHEDULE%', so it must always be set.
  MAINTENANCE_SCHEDULE: maintenanceSchedule
  RUN_RETENTION_DAYS: string(runRetentionDays)
  DEAD_LETTER_RETENTION_DAYS: string(deadLetterRetentionDays)
  AUDIT_RETENTION_DAYS: string(auditRetentionDays)
  // A registration (npm run tenant) or its removal takes effect on every instance within this time.
  TENANT_REGISTRATION_CACHE_SECONDS: '60'
  QUOTA_EVENTS_PER_MINUTE: string(quotaEventsPerMinute)
  QUOTA_CONNECTION_TESTS_PER_MINUTE: string(quotaConnectionTestsPerMinute)
  QUOTA_PROCESSES_PER_TENANT: string(quotaProcessesPerTenant)
  QUOTA_USER_RUN_CALLS_PER_MINUTE: '30'
  QUOTA_TENANT_RUN_CALLS_PER_MINUTE: '600'
  QUOTA_USER_ACTIVE_RUNS: '50'

  // --- Read by the Functions host and the Azure SDK: src/config/host-settings.ts ---
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: appIdentity.properties.clientId
  ServiceBusConnection__fullyQualifiedNamespace: serviceBusFullyQualifiedNamespace
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: appIdentity.properties.clientId
  AZURE_CLIENT_ID: appIdentity.properties.clientId
  // Not a credential: the component has local auth disabled, so ingestion also needs the Entra token below.
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${appIdentity.properties.clientId};Authorization=AAD'
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: appSettingValues
}

@description('Name of the function app.')
output name string = functionApp.name

@description('Base URL of the function app.')
output url string = 'https://${hostName}'

@description('Redirect URI to register on the sign-in app registration.')
output callbackUrl string = callbackUrl
