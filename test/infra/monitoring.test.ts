/**
 * What an operator gets in Azure, read from the compiled ARM (the real Bicep compiler, see arm.ts):
 *  - diagnostic settings send Key Vault AuditEvent, Service Bus OperationalLogs, the function app's logs and the
 *    table service's writes to the Log Analytics workspace main.bicep creates;
 *  - an action group mails the `alertEmails` parameter, and every alert notifies it;
 *  - a dead-letter alert per queue of src/config/queues.ts, a backlog alert on connection-events, and log alerts whose
 *    queries match log lines the app really writes (the literal is looked up in the source that logs it);
 *  - the product's Service Bus principals get Data Sender on workpoint-events only and Data Receiver on
 *    connection-events only;
 *  - docs/deploy.md says what to do when each alert fires; host.json never samples log lines away.
 */
import { queueNames } from '../../src/config/queues';
import { compileMain, moduleNamed, readRepoFile, resourcesOf, type ArmModule, type ArmResource } from './arm';

const main = compileMain();
const diagnostics = moduleNamed(main, 'diagnostics');
const alerts = moduleNamed(main, 'alerts');
const access = moduleNamed(main, 'service-bus-access');
const serviceBus = moduleNamed(main, 'service-bus');

const ofType = (module: ArmModule, type: string): ArmResource[] => resourcesOf(module.template).filter((r) => r.type === type);
const workspaceId = "[resourceId('Microsoft.OperationalInsights/workspaces', parameters('logAnalyticsName'))]";
const moduleOutput = (module: string, output: string) => new RegExp(`'${module}'\\), '[\\w-]+'\\)\\.outputs\\.${output}\\.value\\]$`);

describe('diagnostic settings', () => {
  const settings = ofType(diagnostics, 'Microsoft.Insights/diagnosticSettings');
  const categoriesAt = (scope: string) =>
    settings
      .filter((s) => s.scope === scope)
      .flatMap((s) => (s.properties.logs as { category: string; enabled: boolean }[]).filter((l) => l.enabled).map((l) => l.category));

  test('each resource sends the logs an operator needs to the workspace', () => {
    expect({
      keyVault: categoriesAt("[resourceId('Microsoft.KeyVault/vaults', parameters('keyVaultName'))]"),
      serviceBus: categoriesAt("[resourceId('Microsoft.ServiceBus/namespaces', parameters('serviceBusNamespaceName'))]"),
      functionApp: categoriesAt("[resourceId('Microsoft.Web/sites', parameters('functionAppName'))]"),
      tables: categoriesAt("[resourceId('Microsoft.Storage/storageAccounts/tableServices', parameters('storageAccountName'), 'default')]"),
    }).toEqual({
      keyVault: ['AuditEvent'],
      serviceBus: ['OperationalLogs'],
      functionApp: ['FunctionAppLogs'],
      tables: expect.arrayContaining(['StorageWrite']),
    });
    for (const s of settings) expect({ scope: s.scope, workspace: s.properties.workspaceId }).toEqual({ scope: s.scope, workspace: workspaceId });
  });

  test('the workspace and resources are the ones main.bicep deploys', () => {
    expect(diagnostics.parameters.logAnalyticsName.value).toMatch(moduleOutput('monitoring', 'logAnalyticsName'));
    expect(diagnostics.parameters.keyVaultName.value).toMatch(moduleOutput('key-vault', 'name'));
    expect(diagnostics.parameters.serviceBusNamespaceName.value).toMatch(moduleOutput('service-bus', 'name'));
    expect(diagnostics.parameters.functionAppName.value).toMatch(moduleOutput('function-app', 'name'));
    expect(diagnostics.parameters.storageAccountName.value).toMatch(moduleOutput('storage', 'name'));
  });
});

describe('action group and alerts', () => {
  const [group] = ofType(alerts, 'Microsoft.Insights/actionGroups');
  const metricAlerts = ofType(alerts, 'Microsoft.Insights/metricAlerts');
  const logAlerts = ofType(alerts, 'Microsoft.Insights/scheduledQueryRules');
  const logAlertList = alerts.template.variables?.logAlerts as { name: string; query: string; threshold: unknown }[];

  test('the action group mails the alertEmails parameter, which may be empty', () => {
    expect(group.properties.copy).toEqual([
      expect.objectContaining({ name: 'emailReceivers', count: "[length(parameters('alertEmails'))]" }),
    ]);
    expect(group.properties.copy[0].input.emailAddress).toBe("[parameters('alertEmails')[copyIndex('emailReceivers')]]");
    expect(main.parameters?.alertEmails).toEqual(expect.objectContaining({ type: 'array', defaultValue: [] }));
    expect(alerts.parameters.alertEmails.value).toBe("[parameters('alertEmails')]");
  });

  test('every alert notifies the action group', () => {
    const groupId = "[resourceId('Microsoft.Insights/actionGroups', parameters('actionGroupName'))]";
    for (const a of metricAlerts) expect({ alert: a.name, actions: a.properties.actions }).toEqual({ alert: a.name, actions: [{ actionGroupId: groupId }] });
    expect(alerts.template.variables?.actions).toEqual({ actionGroups: [groupId] });
    for (const a of logAlerts) expect({ alert: a.name, actions: a.properties.actions }).toEqual({ alert: a.name, actions: "[variables('actions')]" });
  });

  test('a dead-letter alert fires on more than 0 dead-lettered messages of each queue the app uses', () => {
    const [deadLetter] = metricAlerts.filter((a) => a.name.includes('dead-lettered'));
    expect(deadLetter.copy?.count).toBe("[length(parameters('queueNames'))]");
    const [criterion] = deadLetter.properties.criteria.allOf;
    expect(criterion).toEqual(
      expect.objectContaining({
        metricNamespace: 'Microsoft.ServiceBus/namespaces',
        metricName: 'DeadletteredMessages',
        operator: 'GreaterThan',
        threshold: 0,
        dimensions: [{ name: 'EntityName', operator: 'Include', values: ["[parameters('queueNames')[copyIndex()]]"] }],
      }),
    );
    // The queue list is the Service Bus module's, which bicep-drift.test.ts holds equal to src/config/queues.ts.
    expect(alerts.parameters.queueNames.value).toMatch(moduleOutput('service-bus', 'queueNames'));
    expect(serviceBus.template.outputs?.queueNames.value).toBe("[map(variables('queues'), lambda('q', lambdaVariables('q').name))]");
  });

  test('a backlog on connection-events fires an alert', () => {
    const [backlog] = metricAlerts.filter((a) => a.name.includes('backlog'));
    const [criterion] = backlog.properties.criteria.allOf;
    expect(criterion).toEqual(
      expect.objectContaining({
        metricName: 'ActiveMessages',
        operator: 'GreaterThan',
        threshold: "[parameters('connectionEventsBacklogThreshold')]",
        dimensions: [{ name: 'EntityName', operator: 'Include', values: ["[parameters('connectionEventsQueueName')]"] }],
      }),
    );
    expect(alerts.parameters.connectionEventsQueueName.value).toBe(queueNames.connectionEvents);
  });

  test('log alerts match lines the app really logs, and the failure rate of invocations', () => {
    const byName = Object.fromEntries(logAlertList.map((a) => [a.name, a.query]));
    const logged = (query: string, file: string) => {
      const literal = /startswith "([^"]+)"/.exec(query)?.[1];
      expect({ query, foundInSource: literal !== undefined && readRepoFile(file).includes(literal) }).toEqual({ query, foundInSource: true });
    };
    logged(byName['application-credentials-invalid'], 'src/tokens/application-credentials-alert.ts');
    logged(byName['steps-failing-unexpectedly'], 'functions/queue-handlers.ts');
    // Compiled as a format() with the threshold parameter.
    expect(byName['function-failure-rate']).toMatch(/^\[format\('AppRequests \| summarize .*countif\(Success == false\).*\{0\}', parameters\('functionFailureRatePercent'\)\)\]$/);
    expect(logAlerts).toHaveLength(1);
    expect(logAlerts[0].copy?.count).toBe(`[length(variables('logAlerts'))]`);
    expect(logAlerts[0].properties.scopes).toEqual([workspaceId]);
  });

  test('docs/deploy.md says what to do when each alert fires', () => {
    const docs = readRepoFile('docs/deploy.md');
    const section = docs.slice(docs.indexOf('## Monitoring and alerts'));
    expect(docs).toContain('## Monitoring and alerts');
    const names = [...logAlertList.map((a) => a.name), 'dead-lettered-<queue>', 'backlog-connection-events'];
    expect(names.filter((n) => !section.includes(`\`${n}\``))).toEqual([]);
  });
});

describe("the product's Service Bus identities", () => {
  const assignments = ofType(access, 'Microsoft.Authorization/roleAssignments');
  const roleIds = access.template.variables?.roleDefinitionIds as Record<string, string>;

  test('event senders get Data Sender on workpoint-events only, connection-event readers Data Receiver on connection-events only', () => {
    expect(roleIds).toEqual({
      // Built-in: Azure Service Bus Data Sender / Data Receiver.
      serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39',
      serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0',
    });
    const grants = assignments.map((a) => ({
      scope: a.scope,
      role: /roleDefinitionIds'\)\.(\w+)/.exec(a.properties.roleDefinitionId)?.[1],
      principals: a.copy?.count,
    }));
    const queue = (param: string) => `[resourceId('Microsoft.ServiceBus/namespaces/queues', parameters('serviceBusNamespaceName'), parameters('${param}'))]`;
    expect(grants).toEqual([
      { scope: queue('eventsQueueName'), role: 'serviceBusDataSender', principals: "[length(parameters('eventSenderPrincipalIds'))]" },
      { scope: queue('connectionEventsQueueName'), role: 'serviceBusDataReceiver', principals: "[length(parameters('connectionEventReaderPrincipalIds'))]" },
    ]);
    expect(access.parameters.eventsQueueName.value).toBe(queueNames.events);
    expect(access.parameters.connectionEventsQueueName.value).toBe(queueNames.connectionEvents);
    expect(main.parameters?.eventSenderPrincipalIds).toEqual(expect.objectContaining({ type: 'array', defaultValue: [] }));
    expect(main.parameters?.connectionEventReaderPrincipalIds).toEqual(expect.objectContaining({ type: 'array', defaultValue: [] }));
  });
});

test('host.json samples no log line away (Trace excluded from sampling)', () => {
  const host = JSON.parse(readRepoFile('host.json'));
  expect(String(host.logging.applicationInsights.samplingSettings.excludedTypes).split(';')).toEqual(
    expect.arrayContaining(['Request', 'Exception', 'Trace']),
  );
});
