// Diagnostic settings: the platform logs an operator needs, sent to the Log Analytics workspace (resource-specific
// tables, "Dedicated"). Category names from learn.microsoft.com/azure/azure-monitor/reference/supported-logs/
// (microsoft-keyvault-vaults-logs, microsoft-servicebus-namespaces-logs, microsoft-web-sites-logs,
// microsoft-storage-storageaccounts-tableservices-logs):
//  - Key Vault `AuditEvent`: who read, wrote, deleted or recovered which `conn-*` secret (token caches) and when;
//  - Service Bus `OperationalLogs`: queue create/update/delete on the namespace;
//  - the function app's `FunctionAppLogs`: the host's and the worker's log lines, also when Application Insights
//    ingestion fails (it needs an Entra token, see monitoring.bicep);
//  - Storage table service `StorageWrite` and `StorageDelete`: writes to the app's tables (runs, connections,
//    outbox, audit) by caller identity. Reads are left out: every step reads, and they would dominate the bill.

@description('Name of the Log Analytics workspace that receives the logs.')
param logAnalyticsName string

@description('Name of the Key Vault holding token caches and the client secret.')
param keyVaultName string

@description('Name of the Service Bus namespace.')
param serviceBusNamespaceName string

@description('Name of the function app.')
param functionAppName string

@description('Name of the storage account holding the app\'s tables.')
param storageAccountName string

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource keyVaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: keyVault
  properties: {
    workspaceId: workspace.id
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
  }
}

resource serviceBusDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: serviceBus
  properties: {
    workspaceId: workspace.id
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        category: 'OperationalLogs'
        enabled: true
      }
    ]
  }
}

resource functionAppDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: functionApp
  properties: {
    workspaceId: workspace.id
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        category: 'FunctionAppLogs'
        enabled: true
      }
    ]
  }
}

resource tableDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: tableService
  properties: {
    workspaceId: workspace.id
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
  }
}
