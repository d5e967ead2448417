// Alerts an operator acts on, and the action group that tells them. docs/deploy.md ("Monitoring and alerts") says
// what each one means and what to do when it fires; test/infra/monitoring.test.ts checks each query or metric here.
//
// Metric alerts read Service Bus platform metrics per queue (`DeadletteredMessages`, `ActiveMessages`, dimension
// `EntityName`: learn.microsoft.com/azure/service-bus-messaging/monitor-service-bus-reference). Log alerts read the
// workspace-based Application Insights tables in the workspace (`AppTraces` = the app's log lines, `AppRequests` =
// one row per function invocation); the log lines they match are the app's own fixed messages (functions/
// queue-handlers.ts "Step failed unexpectedly", src/tokens/application-credentials-alert.ts
// "ApplicationCredentialsInvalid").

@description('Azure region of the log alert rules (metric alerts and action groups are global).')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the action group.')
param actionGroupName string

@description('E-mail addresses the action group notifies. Empty: alerts fire and show in the portal, nobody is mailed.')
param alertEmails array

@description('Name of the Log Analytics workspace the log alerts query.')
param logAnalyticsName string

@description('Name of the Service Bus namespace.')
param serviceBusNamespaceName string

@description('Every queue of the namespace: each gets a dead-letter alert.')
param queueNames array

@description('Queue of connection events, watched for a backlog.')
param connectionEventsQueueName string

@description('Active messages on the connection-events queue, averaged over 30 minutes, above which the backlog alert fires.')
@minValue(1)
param connectionEventsBacklogThreshold int

@description('"Step failed unexpectedly" lines within 15 minutes from which the repeated-failure alert fires.')
@minValue(1)
param unexpectedStepFailureThreshold int

@description('Percentage of failed function invocations within 15 minutes (at least 10 invocations) above which the failure-rate alert fires.')
@minValue(1)
@maxValue(100)
param functionFailureRatePercent int

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    // At most 12 characters: shown as the sender of the e-mails.
    groupShortName: 'connections'
    enabled: true
    emailReceivers: [
      for (email, i) in alertEmails: {
        name: 'email-${i}'
        emailAddress: email
        useCommonAlertSchema: true
      }
    ]
  }
}

var actions = {
  actionGroups: [
    actionGroup.id
  ]
}

resource deadLetterAlerts 'Microsoft.Insights/metricAlerts@2018-03-01' = [
  for queueName in queueNames: {
    name: 'dead-lettered-${queueName}'
    location: 'global'
    tags: tags
    properties: {
      description: 'Messages in the dead-letter queue of ${queueName}: each is an event, step or connection change the app gave up on.'
      severity: 2
      enabled: true
      scopes: [
        serviceBus.id
      ]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT5M'
      criteria: {
        'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
        allOf: [
          {
            criterionType: 'StaticThresholdCriterion'
            name: 'dead-lettered'
            metricNamespace: 'Microsoft.ServiceBus/namespaces'
            metricName: 'DeadletteredMessages'
            dimensions: [
              {
                name: 'EntityName'
                operator: 'Include'
                values: [
                  queueName
                ]
              }
            ]
            operator: 'GreaterThan'
            threshold: 0
            timeAggregation: 'Maximum'
          }
        ]
      }
      autoMitigate: true
      actions: [
        {
          actionGroupId: actionGroup.id
        }
      ]
    }
  }
]

resource connectionEventsBacklog 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'backlog-${connectionEventsQueueName}'
  location: 'global'
  tags: tags
  properties: {
    description: 'Connection events are not being consumed: admins are not told about connections that need them.'
    severity: 2
    enabled: true
    scopes: [
      serviceBus.id
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT30M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'backlog'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'ActiveMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                connectionEventsQueueName
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: connectionEventsBacklogThreshold
          timeAggregation: 'Average'
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

var logAlerts = [
  {
    name: 'application-credentials-invalid'
    description: 'The sign-in app registration\'s own credential (client secret or federated credential) is refused: no connection can refresh until it is fixed.'
    severity: 1
    query: 'AppTraces | where Message startswith "ApplicationCredentialsInvalid"'
    threshold: 0
  }
  {
    name: 'steps-failing-unexpectedly'
    description: 'Steps fail with errors the app does not expect (a defect or an outage of a dependency), repeatedly.'
    severity: 2
    query: 'AppTraces | where Message startswith "Step failed unexpectedly"'
    threshold: unexpectedStepFailureThreshold - 1
  }
  {
    name: 'function-failure-rate'
    description: 'More than ${functionFailureRatePercent}% of function invocations failed.'
    severity: 2
    query: 'AppRequests | summarize total = count(), failed = countif(Success == false) | where total >= 10 and 100.0 * failed / total > ${functionFailureRatePercent}'
    threshold: 0
  }
]

resource logAlertRules 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [
  for alert in logAlerts: {
    name: alert.name
    location: location
    tags: tags
    properties: {
      description: alert.description
      severity: alert.severity
      enabled: true
      scopes: [
        workspace.id
      ]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT15M'
      criteria: {
        allOf: [
          {
            query: alert.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: alert.threshold
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: true
      actions: actions
    }
  }
]

@description('Resource id of the action group (other alerts can use it).')
output actionGroupId string = actionGroup.id
