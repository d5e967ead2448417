// Connections: everything `azd up` provisions. Subscription scope so that it can create the resource group.
//
// Identity-based and keyless: the app runs as one user-assigned managed identity with data-plane roles on each
// resource it touches (modules/role-assignments.bicep); storage shared keys, Service Bus SAS and
// Application Insights instrumentation-key ingestion are all disabled; the only secret (the sign-in client
// secret) lives in Key Vault and reaches the app as a Key Vault reference.
targetScope = 'subscription'

// ---------------------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('azd environment name; used in the resource group name and to derive unique resource names.')
param environmentName string

@minLength(1)
@description('Azure region for every resource. It must offer the Flex Consumption plan.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create or reuse. Empty: rg-<environmentName>.')
param resourceGroupName string = ''

// ---------------------------------------------------------------------------------------------------------
// Sign-in (the app registration connections sign in through) and admin API
// ---------------------------------------------------------------------------------------------------------
// Microsoft Entra endpoints come from environment() (https://login.microsoftonline.com/ in the public cloud), so
// a sovereign cloud deployment gets its own login host (the linter's no-hardcoded-env-urls rule).

@minLength(1)
@description('Application (client) id of the sign-in app registration.')
param authClientId string

@description('How the sign-in registration authenticates to Entra (empty: managedIdentity): managedIdentity (recommended: the app identity is a federated identity credential of the registration; no secret is stored) or secret.')
@allowed([
  ''
  'managedIdentity'
  'secret'
])
param authClientCredential string = ''

@secure()
@description('Client secret of the sign-in app registration, stored in Key Vault; only with authClientCredential secret. Required on the first such deployment; empty afterwards leaves the stored secret as it is.')
param authClientSecret string = ''

@description('Application (client) id of the API app registration when it is not the sign-in registration: it exchanges user tokens for Graph (On-Behalf-Of) for user processes. Empty: the sign-in registration does (it must then be the API too).')
param apiClientId string = ''

@description('Comma-separated client ids whose tokens the API accepts (azp/appid): the admin page and the product front end. Empty: the client ids in adminTokenAudience and apiClientId.')
param allowedClientIds string = ''

@description('How the API registration (apiClientId) authenticates to Entra for On-Behalf-Of (empty: managedIdentity): managedIdentity (recommended, federated identity credential) or secret.')
@allowed([
  ''
  'managedIdentity'
  'secret'
])
param apiClientCredential string = ''

@secure()
@description('Client secret of the API app registration (apiClientId), stored in Key Vault; only with apiClientCredential secret. Needed once; empty afterwards leaves the stored secret as it is.')
param apiClientSecret string = ''

@description('Space- or comma-separated delegated Graph scopes user process steps get on behalf of the user (USER_GRAPH_SCOPES).')
param userGraphScopes string = 'https://graph.microsoft.com/.default'

@description('Microsoft identity platform authority for sign-in and refresh. /organizations lets admins of any tenant connect accounts of their tenant.')
param authAuthority string = '${environment().authentication.loginEndpoint}organizations'

@description('Space- or comma-separated delegated scopes a connection is authorized for (offline_access, openid and profile are always added). /.default asks for the Graph permissions configured on the app registration.')
param connectionScopes string = 'https://graph.microsoft.com/.default'

@description('Comma-separated audiences admin tokens must carry: the admin API registration\'s application id URI and client id (v1 tokens carry the id URI, v2 tokens the client id). Empty: api://<authClientId>,<authClientId>, for a deployment whose sign-in registration also exposes the admin API; with the two registrations README recommends, set it.')
param adminTokenAudience string = ''

@description('Issuer of v2.0 admin tokens; {tenantid} is replaced by the token\'s tid.')
param adminTokenIssuer string = '${environment().authentication.loginEndpoint}{tenantid}/v2.0'

@description('Issuer of v1.0 admin tokens (Entra\'s default access token version); {tenantid} is replaced by the token\'s tid.')
param adminTokenIssuerV1 string = 'https://sts.windows.net/{tenantid}/'

@description('Delegated permission (scope) of the admin API that admin tokens must carry in scp.')
param adminTokenScope string = 'access_as_user'

@description('JWKS URI of the admin token issuer.')
param adminTokenJwksUri string = '${environment().authentication.loginEndpoint}common/discovery/v2.0/keys'

@description('App role an admin token must carry.')
param adminRole string = 'Connections.Admin'

@description('App role of the sign-in app that designates a service account: only accounts with it become connections.')
param connectionAccountRole string = 'Connections.ServiceAccount'

@description('Whether an account needs connectionAccountRole to become a connection (false: any account of the tenant).')
param connectionAccountRoleRequired bool = true

@description('Sign-ins (authorize, reauthorize) one administrator may start per minute, per instance; more answer 429.')
@minValue(1)
@maxValue(1000)
param authorizeLimitPerMinute int = 10

@description('Microsoft Graph base URL for actions and connection tests.')
param graphBaseUrl string = 'https://graph.microsoft.com/v1.0'

@description('Minimum seconds between two Key Vault write-backs of a connection\'s rotated token cache.')
@minValue(60)
param tokenCacheWriteIntervalSeconds int = 21600

@description('When the connection keep-alive runs: NCRONTAB with seconds, UTC (daily at 03:00 by default).')
param keepAliveSchedule string = '0 0 3 * * *'

@description('The keep-alive refreshes connections neither refreshed nor used for this many days. Must stay well below the provider\'s 90-day refresh-token inactivity window.')
@minValue(0)
@maxValue(60)
param keepAliveIdleDays int = 14

@description('When the maintenance timer runs (outbox of connection notifications, retention): NCRONTAB with seconds, UTC. Keep it more often than the queues\' 10-minute duplicate detection window.')
param maintenanceSchedule string = '0 */5 * * * *'

@description('Runs are deleted this many days after they were created.')
@minValue(1)
@maxValue(3650)
param runRetentionDays int = 30

@description('Recorded dead letters (table DeadLetters) are deleted this many days after they were recorded.')
@minValue(1)
@maxValue(3650)
param deadLetterRetentionDays int = 14

@description('Connection audit entries are deleted this many days after the change they record.')
@minValue(1)
@maxValue(3650)
param auditRetentionDays int = 400

@description('Per-tenant quota, counted per instance: events a tenant may post per minute through POST /api/events.')
@minValue(1)
param quotaEventsPerMinute int = 600

@description('Per-tenant quota, counted per instance: connection tests (each a token refresh and a Graph call) per minute.')
@minValue(1)
param quotaConnectionTestsPerMinute int = 30

@description('Per-tenant quota: processes a tenant may have.')
@minValue(1)
param quotaProcessesPerTenant int = 200

// ---------------------------------------------------------------------------------------------------------
// Hosting
// ---------------------------------------------------------------------------------------------------------

@description('Host name users reach the API on when it is not the default *.azurewebsites.net one (custom domain, Front Door). Empty: the default host name. Determines the callback URL.')
param publicHostName string = ''

@description('Browser origins allowed to call the API, e.g. the admin portal\'s https://portal.example.com. Empty: no CORS.')
param corsAllowedOrigins array = []

@description('Upper bound on Flex Consumption instances.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory per Flex Consumption instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Always-ready instances for HTTP triggers (0 = scale to zero).')
@minValue(0)
param alwaysReadyHttpInstances int = 0

@description('Replication of the storage account that holds the app\'s tables. Prefer Standard_ZRS where the region has zones.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSkuName string = 'Standard_LRS'

@description('Days Log Analytics keeps logs and telemetry.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Deliveries of a Service Bus message before it is dead-lettered.')
@minValue(1)
@maxValue(2000)
param serviceBusMaxDeliveryCount int = 10

@description('Seconds one invocation goes on with a run\'s next steps (STEP_BATCH_BUDGET_SECONDS; 0: one step per message). Well under the queues\' lock duration (PT1M).')
@minValue(0)
@maxValue(300)
param stepBatchBudgetSeconds int = 20

@description('Minutes a step that fails transiently is retried by scheduled messages before its run fails (STEP_RETRY_MAX_TOTAL_MINUTES).')
@minValue(1)
@maxValue(1440)
param stepRetryMaxTotalMinutes int = 120

@description('Time to live of an unconsumed Service Bus message before it is dead-lettered (ISO 8601).')
param serviceBusMessageTimeToLive string = 'P14D'

@description('Give the app a static outbound IP: VNet integration with a NAT gateway (modules/network.bicep), for customer tenants whose Conditional Access policies trust named locations. Off: Flex Consumption\'s outbound IPs are shared and change.')
param enableStaticEgressIp bool = false

@description('Address space of the virtual network created with enableStaticEgressIp.')
param vnetAddressPrefix string = '10.40.0.0/16'

@description('Integration subnet of the Function App (with enableStaticEgressIp); Flex Consumption needs /27 or larger.')
param appSubnetPrefix string = '10.40.0.0/24'

@description('Recover a soft-deleted Key Vault of the same name (needed when re-creating an environment within 90 days of deleting it: purge protection keeps the name).')
param keyVaultRecoverSoftDeleted bool = false

// ---------------------------------------------------------------------------------------------------------
// Monitoring, alerts and the product's Service Bus access (docs/deploy.md, "Monitoring and alerts")
// ---------------------------------------------------------------------------------------------------------

@description('E-mail addresses told when an alert fires. Empty: alerts still fire and show in the Azure portal.')
param alertEmails array = []

@description('Active messages on connection-events (30-minute average) above which the backlog alert fires.')
@minValue(1)
param connectionEventsBacklogThreshold int = 20

@description('"Step failed unexpectedly" log lines within 15 minutes from which the repeated-failure alert fires.')
@minValue(1)
param unexpectedStepFailureThreshold int = 3

@description('Percentage of failed function invocations within 15 minutes above which the failure-rate alert fires.')
@minValue(1)
@maxValue(100)
param functionFailureRatePercent int = 10

@description('Object ids of the product identities that send events to workpoint-events (Azure Service Bus Data Sender on that queue only).')
param eventSenderPrincipalIds array = []

@description('Object ids of identities that read connection-events (Azure Service Bus Data Receiver on that queue only).')
param connectionEventReaderPrincipalIds array = []

// ---------------------------------------------------------------------------------------------------------
// Names: one abbreviations map, one token per subscription + environment + region
// ---------------------------------------------------------------------------------------------------------

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'connections'
}
var names = {
  resourceGroup: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  identity: '${abbrs.managedIdentityUserAssignedIdentities}connections-${resourceToken}'
  logAnalytics: '${abbrs.operationalInsightsWorkspaces}connections-${resourceToken}'
  applicationInsights: '${abbrs.insightsComponents}connections-${resourceToken}'
  storage: '${abbrs.storageStorageAccounts}${resourceToken}'
  keyVault: '${abbrs.keyVaultVaults}${resourceToken}'
  serviceBus: '${abbrs.serviceBusNamespaces}connections-${resourceToken}'
  plan: '${abbrs.webServerFarms}connections-${resourceToken}'
  functionApp: '${abbrs.webSitesFunctions}connections-${resourceToken}'
  vnet: '${abbrs.networkVirtualNetworks}connections-${resourceToken}'
  actionGroup: '${abbrs.insightsActionGroups}connections-${resourceToken}'
}
// Flex Consumption keeps each deployment package here.
var deploymentContainerName = 'app-package-${resourceToken}'
var authClientSecretName = 'auth-client-secret'
var apiClientSecretName = 'api-client-secret'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: names.resourceGroup
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: names.identity
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: names.logAnalytics
    applicationInsightsName: names.applicationInsights
    location: location
    tags: tags
    retentionInDays: logRetentionInDays
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: names.storage
    location: location
    tags: tags
    skuName: storageSkuName
    deploymentContainerName: deploymentContainerName
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  scope: rg
  params: {
    name: names.keyVault
    location: location
    tags: tags
    recoverSoftDeleted: keyVaultRecoverSoftDeleted
    authClientSecretName: authClientSecretName
    authClientSecret: authClientSecret
    apiClientSecretName: apiClientSecretName
    apiClientSecret: apiClientSecret
  }
}

module serviceBus 'modules/service-bus.bicep' = {
  name: 'service-bus'
  scope: rg
  params: {
    name: names.serviceBus
    location: location
    tags: tags
    maxDeliveryCount: serviceBusMaxDeliveryCount
    messageTimeToLive: serviceBusMessageTimeToLive
  }
}

module roleAssignments 'modules/role-assignments.bicep' = {
  name: 'role-assignments'
  scope: rg
  params: {
    identityName: identity.outputs.name
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    serviceBusTriggerQueueNames: serviceBus.outputs.triggerQueueNames
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module network 'modules/network.bicep' = if (enableStaticEgressIp) {
  name: 'network'
  scope: rg
  params: {
    name: names.vnet
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
    appSubnetPrefix: appSubnetPrefix
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  // The host reads its storage, Key Vault reference and Service Bus as soon as the app starts: grant first.
  dependsOn: [
    roleAssignments
  ]
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: tags
    identityName: identity.outputs.name
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    tableEndpoint: storage.outputs.tableEndpoint
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultUri: keyVault.outputs.uri
    authClientSecretUri: keyVault.outputs.authClientSecretUri
    apiClientSecretUri: keyVault.outputs.apiClientSecretUri
    apiClientId: apiClientId
    allowedClientIds: allowedClientIds
    // Empty (azd passes an unset variable as '') means the recommended managedIdentity.
    authClientCredential: authClientCredential == 'secret' ? 'secret' : 'managedIdentity'
    apiClientCredential: apiClientCredential == 'secret' ? 'secret' : 'managedIdentity'
    userGraphScopes: userGraphScopes
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    authAuthority: authAuthority
    authClientId: authClientId
    connectionScopes: connectionScopes
    adminTokenIssuer: adminTokenIssuer
    adminTokenIssuerV1: adminTokenIssuerV1
    adminTokenScope: adminTokenScope
    adminTokenJwksUri: adminTokenJwksUri
    adminTokenAudience: !empty(adminTokenAudience) ? adminTokenAudience : 'api://${authClientId},${authClientId}'
    adminRole: adminRole
    connectionAccountRole: connectionAccountRole
    connectionAccountRoleRequired: connectionAccountRoleRequired
    authorizeLimitPerMinute: authorizeLimitPerMinute
    graphBaseUrl: graphBaseUrl
    serviceBusMaxDeliveryCount: serviceBusMaxDeliveryCount
    stepBatchBudgetSeconds: stepBatchBudgetSeconds
    stepRetryMaxTotalMinutes: stepRetryMaxTotalMinutes
    tokenCacheWriteIntervalSeconds: tokenCacheWriteIntervalSeconds
    keepAliveSchedule: keepAliveSchedule
    keepAliveIdleDays: keepAliveIdleDays
    maintenanceSchedule: maintenanceSchedule
    runRetentionDays: runRetentionDays
    deadLetterRetentionDays: deadLetterRetentionDays
    auditRetentionDays: auditRetentionDays
    quotaEventsPerMinute: quotaEventsPerMinute
    quotaConnectionTestsPerMinute: quotaConnectionTestsPerMinute
    quotaProcessesPerTenant: quotaProcessesPerTenant
    publicHostName: publicHostName
    corsAllowedOrigins: corsAllowedOrigins
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    alwaysReadyHttpInstances: alwaysReadyHttpInstances
    virtualNetworkSubnetId: enableStaticEgressIp ? network!.outputs.appSubnetId : ''
  }
}

module diagnostics 'modules/diagnostics.bicep' = {
  name: 'diagnostics'
  scope: rg
  params: {
    logAnalyticsName: monitoring.outputs.logAnalyticsName
    keyVaultName: keyVault.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    functionAppName: functionApp.outputs.name
    storageAccountName: storage.outputs.name
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    actionGroupName: names.actionGroup
    alertEmails: alertEmails
    logAnalyticsName: monitoring.outputs.logAnalyticsName
    serviceBusNamespaceName: serviceBus.outputs.name
    queueNames: serviceBus.outputs.queueNames
    connectionEventsQueueName: 'connection-events'
    connectionEventsBacklogThreshold: connectionEventsBacklogThreshold
    unexpectedStepFailureThreshold: unexpectedStepFailureThreshold
    functionFailureRatePercent: functionFailureRatePercent
  }
}

module serviceBusAccess 'modules/service-bus-access.bicep' = {
  name: 'service-bus-access'
  scope: rg
  params: {
    serviceBusNamespaceName: serviceBus.outputs.name
    eventsQueueName: 'workpoint-events'
    connectionEventsQueueName: 'connection-events'
    eventSenderPrincipalIds: eventSenderPrincipalIds
    connectionEventReaderPrincipalIds: connectionEventReaderPrincipalIds
  }
}

// ---------------------------------------------------------------------------------------------------------
// Outputs (azd writes them to .azure/<env>/.env). None carries a secret.
// ---------------------------------------------------------------------------------------------------------

@description('Resource group holding everything.')
output AZURE_RESOURCE_GROUP string = rg.name

@description('Name of the function app.')
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name

@description('Base URL of the API; the admin portal calls <url>/api/...')
output FUNCTION_APP_URL string = functionApp.outputs.url

@description('Redirect URI to register (platform: Web) on the sign-in app registration.')
output AUTH_CALLBACK_URL string = functionApp.outputs.callbackUrl

@description('Key Vault URI (token caches and the client secret).')
output KEY_VAULT_URI string = keyVault.outputs.uri

@description('Name of the Key Vault, for rotating the client secret.')
output KEY_VAULT_NAME string = keyVault.outputs.name

@description('Fully qualified Service Bus namespace.')
output SERVICE_BUS_NAMESPACE_FQDN string = serviceBus.outputs.fullyQualifiedNamespace

@description('Client id of the app\'s managed identity.')
output AZURE_APP_IDENTITY_CLIENT_ID string = identity.outputs.clientId

@description('Object (principal) id of the app\'s managed identity: the subject of the federated credential on each app registration (managedIdentity credential mode).')
output AZURE_APP_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId

@description('Issuer of the managed identity\'s tokens: the issuer of that federated credential.')
output MANAGED_IDENTITY_FEDERATION_ISSUER string = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'

@description('Name of the storage account (app tables and host storage), for granting the operator Storage Table Data Contributor.')
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name

@description('Table service endpoint: what `npm run tenant` needs as TABLES_ENDPOINT.')
output TABLES_ENDPOINT string = storage.outputs.tableEndpoint

@description('The static outbound IP (enableStaticEgressIp), to trust as a named location in customer tenants\' Conditional Access; empty without it.')
output STATIC_EGRESS_IP string = enableStaticEgressIp ? network!.outputs.egressIpAddress : ''
