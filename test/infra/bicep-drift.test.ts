/**
 * Drift between the app and its infrastructure, checked on what Azure Resource Manager would receive: infra/main.bicep
 * compiled to an ARM template by the real Bicep compiler (see arm.ts), compared with what the code declares it needs.
 *
 *  - the Bicep compiles and lints without a warning;
 *  - app settings: exactly the production settings of src/config/settings.ts plus the host settings of
 *    src/config/host-settings.ts; none local-only, none forbidden, none a key or connection string;
 *  - queues: exactly src/config/queues.ts, sessions where `queuesWithSessions` says;
 *  - every data-plane resource has its built-in role(s) for the app's user-assigned identity, scoped to it; the
 *    Service Bus queues the app is triggered by get Data Owner (the scale controller reads their length);
 *  - keyless switches: storage shared keys, Service Bus SAS, App Insights local auth all off; Key Vault RBAC +
 *    purge protection on; Node 22 on Flex Consumption;
 *  - host.json matches what the code expects; Bicep idioms (descriptions, @secure, one abbreviations map).
 *
 * Every failure names the setting, queue, role or module at fault.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { settingNames } from '../../src/config/settings';
import {
  forbiddenSettingNames,
  hostSettingNames,
  hostSettings,
  localOnlySettingNames,
} from '../../src/config/host-settings';
import { queueNames, queuesWithSessions } from '../../src/config/queues';
import type { FunctionDefinition } from '../../functions/registry';
import {
  checkBicep,
  compileMain,
  expressionOf,
  moduleNamed,
  modulesOf,
  onlyResource,
  readRepoFile,
  referencePattern,
  repoRoot,
  resourceIdPattern,
  resourcesOf,
  type ArmResource,
  type ArmTemplate,
} from './arm';

/** Where the settings table lives (docs/settings.md, linked from README.md). */
const SETTINGS_DOC = 'docs/settings.md';

/** Fails with a message that names every offender, instead of a bare array diff. */
function expectNone(offenders: readonly string[], problem: string): void {
  if (offenders.length > 0) {
    throw new Error(`${problem}: ${offenders.join(', ')}`);
  }
}

/** Loaded lazily, so that a broken function module fails only the tests that need it. */
function functionDefinitions(): FunctionDefinition[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../../functions/definitions') as { functionDefinitions: FunctionDefinition[] }).functionDefinitions;
}

const main: ArmTemplate = compileMain();
const modules = modulesOf(main);
const functionApp = moduleNamed(main, 'function-app');
const serviceBus = moduleNamed(main, 'service-bus');
const roles = moduleNamed(main, 'role-assignments');

const identityId = resourceIdPattern('Microsoft.ManagedIdentity/userAssignedIdentities', 'identityName');
const identityReference = referencePattern('Microsoft.ManagedIdentity/userAssignedIdentities', 'identityName');

describe('the real Bicep compiler', () => {
  test('infra/main.bicep compiles and every .bicep file lints without a warning', () => {
    const { status, output } = checkBicep();
    if (status !== 0) throw new Error(output);
  });

  test('each module of main.bicep is a file of infra/modules, and each file there is used', () => {
    const files = readdirSync(path.join(repoRoot, 'infra', 'modules')).filter((f) => f.endsWith('.bicep'));
    expectNone(
      modules.filter((m) => !existsSync(path.join(repoRoot, m.file))).map((m) => `${m.name} (no ${m.file})`),
      'module deployments of main.bicep not named like their file in infra/modules',
    );
    expectNone(
      files.filter((f) => !modules.some((m) => m.file === `infra/modules/${f}`)),
      'files in infra/modules that main.bicep does not deploy',
    );
  });
});

const appSettingsResource = resourcesOf(functionApp.template).find(
  (r) => r.type === 'Microsoft.Web/sites/config' && r.name.endsWith("'appsettings')]"),
);
const appSettings = new Map<string, unknown>(Object.entries(appSettingsResource?.properties ?? {}));
const appSettingKeys = [...appSettings.keys()];
const localOnly = new Set<string>(localOnlySettingNames);
const known = new Set<string>([...settingNames, ...hostSettingNames]);
const site = onlyResource(functionApp, 'Microsoft.Web/sites');

describe('app settings in Bicep match the settings the app and host read', () => {
  test('the function app has one appsettings resource', () => {
    expect(appSettingsResource).toBeDefined();
  });

  test('the local-only list names real settings', () => {
    expectNone(
      localOnlySettingNames.filter((n) => !(settingNames as readonly string[]).includes(n)),
      'localOnlySettingNames lists settings that src/config/settings.ts no longer has',
    );
  });

  test('every production setting of settings.ts is set by the function app Bicep', () => {
    expectNone(
      settingNames.filter((n) => !localOnly.has(n) && !appSettings.has(n)),
      `settings the app reads in production but ${functionApp.file} does not set (add them to appSettingValues, or to localOnlySettingNames if they are local-only)`,
    );
  });

  test('every host setting is set by the function app Bicep', () => {
    expectNone(
      hostSettingNames.filter((n) => !appSettings.has(n)),
      `host settings (src/config/host-settings.ts) that ${functionApp.file} does not set`,
    );
  });

  test('every app setting in Bicep is known to the app', () => {
    expectNone(
      appSettingKeys.filter((n) => !known.has(n)),
      `app settings in ${functionApp.file} that neither src/config/settings.ts nor src/config/host-settings.ts declares`,
    );
  });

  test('no local-only or plan-forbidden setting is set in Azure', () => {
    expectNone(
      appSettingKeys.filter((n) => localOnly.has(n)),
      `local/test-only settings set in ${functionApp.file}`,
    );
    expectNone(
      appSettingKeys.filter((n) => forbiddenSettingNames.includes(n)),
      `settings Flex Consumption rejects, or key-based connection settings, set in ${functionApp.file}`,
    );
  });

  test('no app setting value carries a key or a connection string', () => {
    const credentialLike = /listKeys\(|listConnectionStrings|AccountKey=|SharedAccessKey|primaryKey|secondaryKey|connectionString/i;
    expectNone(
      [...appSettings]
        // The App Insights connection string is a locator, not a credential: asserted below that local auth is off.
        .filter(([name]) => name !== 'APPLICATIONINSIGHTS_CONNECTION_STRING')
        .filter(([, value]) => credentialLike.test(JSON.stringify(value)))
        .map(([name, value]) => `${name} = ${JSON.stringify(value)}`),
      'app settings whose value looks like a key or connection string',
    );
    expect(expressionOf(appSettings.get('APPLICATIONINSIGHTS_CONNECTION_STRING'))).toMatch(
      new RegExp(`^${referencePattern('Microsoft.Insights/components', 'applicationInsightsName')}\\.ConnectionString$`),
    );
    const component = onlyResource(moduleNamed(main, 'monitoring'), 'Microsoft.Insights/components');
    expect(component.properties?.DisableLocalAuth).toBe(true);
  });

  test('identity-based settings use the user-assigned identity', () => {
    const identitySettings = appSettingKeys.filter((n) => /__credential$/.test(n));
    expectNone(
      identitySettings.filter((n) => appSettings.get(n) !== 'managedidentity'),
      "__credential settings not set to 'managedidentity'",
    );
    const clientIds = appSettingKeys.filter((n) => /__clientId$/.test(n) || n === 'AZURE_CLIENT_ID');
    const clientIdOfIdentity = new RegExp(`^${identityReference}\\.clientId$`);
    expectNone(
      clientIds.filter((n) => !clientIdOfIdentity.test(expressionOf(appSettings.get(n)) ?? '')),
      'client id settings not taken from the app identity',
    );
    expect(expressionOf(appSettings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING'))).toMatch(
      new RegExp(`^format\\('ClientId=\\{0\\};Authorization=AAD', ${identityReference}\\.clientId\\)$`),
    );
    // Every identity-based connection prefix has its credential and client id.
    const prefixes = new Set(appSettingKeys.filter((n) => n.includes('__')).map((n) => n.split('__')[0]));
    for (const prefix of prefixes) {
      expectNone(
        ['credential', 'clientId'].map((p) => `${prefix}__${p}`).filter((n) => !appSettings.has(n)),
        `identity-based connection ${prefix} lacks`,
      );
    }
  });

  test('AUTH_CLIENT_SECRET is a Key Vault reference resolved with the app identity, and only in secret credential mode', () => {
    expect(appSettings.get('AUTH_CLIENT_SECRET')).toBe(
      "[if(equals(parameters('authClientCredential'), 'secret'), format('@Microsoft.KeyVault(SecretUri={0})', parameters('authClientSecretUri')), '')]",
    );
    expect(appSettings.get('API_CLIENT_SECRET')).toBe(
      "[if(and(not(empty(parameters('apiClientId'))), equals(parameters('apiClientCredential'), 'secret')), format('@Microsoft.KeyVault(SecretUri={0})', parameters('apiClientSecretUri')), '')]",
    );
    // The recommended path: without AUTH_CLIENT_CREDENTIAL / API_CLIENT_CREDENTIAL in the azd environment (azd passes ''),
    // both registrations use the managed identity, so the vault holds no client secret.
    for (const [param, setting] of [
      ['authClientCredential', 'AUTH_CLIENT_CREDENTIAL'],
      ['apiClientCredential', 'API_CLIENT_CREDENTIAL'],
    ]) {
      expect(main.parameters?.[param]).toMatchObject({ defaultValue: '' });
      expect(appSettings.get(setting)).toBe(`[parameters('${param}')]`);
      expect(functionApp.parameters[param] as unknown).toBe(
        `[if(equals(parameters('${param}'), 'secret'), createObject('value', 'secret'), createObject('value', 'managedIdentity'))]`,
      );
    }
    expect(expressionOf(site.properties?.keyVaultReferenceIdentity)).toMatch(new RegExp(`^${identityId}$`));
    // The URI is the Key Vault module's versionless secret URI (rotation needs no app-setting change).
    expect(functionApp.parameters.authClientSecretUri.value).toMatch(/'key-vault'\), '[\w-]+'\)\.outputs\.authClientSecretUri\.value\]$/);
    expect(moduleNamed(main, 'key-vault').template.outputs?.authClientSecretUri.value).toMatch(
      /^\[format\('\{0\}secrets\/\{1\}', reference\(resourceId\('Microsoft\.KeyVault\/vaults', parameters\('name'\)\), '[\w-]+'\)\.vaultUri, parameters\('authClientSecretName'\)\)\]$/,
    );
  });

  test("AUTH_REDIRECT_URI is the app's callback route", () => {
    const hostName = `if\\(empty\\(parameters\\('publicHostName'\\)\\), ${referencePattern('Microsoft.Web/sites', 'name')}\\.defaultHostName, parameters\\('publicHostName'\\)\\)`;
    expect(expressionOf(appSettings.get('AUTH_REDIRECT_URI'))).toMatch(
      new RegExp(`^format\\('https://\\{0\\}/api/connections/callback', ${hostName}\\)$`),
    );
    // The output azd prints for registering the redirect URI is the same value.
    expect(functionApp.template.outputs?.callbackUrl.value).toBe(appSettings.get('AUTH_REDIRECT_URI'));
    const host = JSON.parse(readRepoFile('host.json'));
    expect(host.extensions?.http?.routePrefix ?? 'api').toBe('api');
  });

  test('the callback route the Bicep registers is a function the app defines', () => {
    const routes = functionDefinitions()
      .filter((f) => f.kind === 'http')
      .map((f) => `${f.methods.join('|')} ${f.route}`);
    expect(routes).toContain('GET connections/callback');
  });

  test('the settings table documents every setting', () => {
    const doc = readRepoFile(SETTINGS_DOC);
    expectNone(
      [...settingNames, ...hostSettingNames].filter((n) => !doc.includes(`\`${n}\``)),
      `settings missing from the table in ${SETTINGS_DOC}`,
    );
    expect(hostSettings.every((s) => s.description.length > 0)).toBe(true);
  });
});

interface DeclaredQueue {
  name: string;
  requiresSession: unknown;
  trigger: unknown;
}

describe('Service Bus queues in Bicep match src/config/queues.ts', () => {
  const declared = (serviceBus.template.variables?.queues ?? []) as DeclaredQueue[];
  const declaredNames = declared.map((q) => q.name);
  const codeNames: string[] = Object.values(queueNames);

  test('every queue the code uses is declared, and no other', () => {
    expectNone(
      codeNames.filter((n) => !declaredNames.includes(n)),
      `queues in src/config/queues.ts not declared in ${serviceBus.file}`,
    );
    expectNone(
      declaredNames.filter((n) => !codeNames.includes(n)),
      `queues declared in ${serviceBus.file} that src/config/queues.ts does not use`,
    );
  });

  test('sessions are enabled exactly where the code expects them', () => {
    const withSessions = new Set<string>(queuesWithSessions);
    expectNone(
      declared
        .filter((q) => q.requiresSession !== withSessions.has(q.name))
        .map((q) => `${q.name} (requiresSession: ${String(q.requiresSession)}, code expects ${withSessions.has(q.name)})`),
      'queues whose sessions setting differs from queuesWithSessions',
    );
    expect(queuesWithSessions).toEqual([queueNames.steps]);
  });

  test('queues flagged `trigger` are exactly those a Service Bus function is triggered by', () => {
    const triggered = new Set(
      functionDefinitions().flatMap((f) => (f.kind === 'serviceBus' ? [f.queueName] : [])),
    );
    expectNone(
      declared
        .filter((q) => q.trigger !== triggered.has(q.name))
        .map((q) => `${q.name} (trigger: ${String(q.trigger)}, functions/ ${triggered.has(q.name) ? 'has' : 'has no'} trigger on it)`),
      `queues in ${serviceBus.file} whose trigger flag differs from the functions' Service Bus triggers`,
    );
  });

  test('queues dead-letter on expiry, detect duplicates and take max delivery count from a parameter', () => {
    const queue = onlyResource(serviceBus, 'Microsoft.ServiceBus/namespaces/queues');
    expect(queue.copy?.count).toBe("[length(variables('queues'))]");
    expect(queue.properties?.requiresSession).toBe("[variables('queues')[copyIndex()].requiresSession]");
    expect(queue.properties?.deadLetteringOnMessageExpiration).toBe(true);
    expect(queue.properties?.requiresDuplicateDetection).toBe(true);
    expect(queue.properties?.maxDeliveryCount).toBe("[parameters('maxDeliveryCount')]");
    expect(serviceBus.parameters.maxDeliveryCount.value).toBe("[parameters('serviceBusMaxDeliveryCount')]");
  });

  test('the namespace is Standard with local (SAS) auth disabled', () => {
    const ns = onlyResource(serviceBus, 'Microsoft.ServiceBus/namespaces');
    expect(ns.properties?.disableLocalAuth).toBe(true);
    expect(ns.sku?.name).toBe('Standard');
  });
});

describe('data-plane role assignments for the app identity', () => {
  /** Built-in role ids, checked against Microsoft's built-in roles list. */
  const builtInRoles = {
    keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
    serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39',
    serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419',
    storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
    storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
    storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
    monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
  } as const;
  type Role = keyof typeof builtInRoles;

  /**
   * Each data-plane resource type the app touches, with exactly the roles its identity gets on it. Service Bus:
   * Sender on the namespace (the app sends to every queue); Data Owner, which includes receive, on each triggered
   * queue only, because the scale controller needs the Manage claim to read queue length (README, "Service Bus
   * roles and scaling").
   */
  const required: Record<string, Role[]> = {
    'Microsoft.KeyVault/vaults': ['keyVaultSecretsOfficer'],
    'Microsoft.ServiceBus/namespaces': ['serviceBusDataSender'],
    'Microsoft.ServiceBus/namespaces/queues': ['serviceBusDataOwner'],
    'Microsoft.Storage/storageAccounts': [
      'storageTableDataContributor',
      'storageBlobDataOwner',
      'storageQueueDataContributor',
    ],
    'Microsoft.Insights/components': ['monitoringMetricsPublisher'],
  };

  const roleIds = (roles.template.variables?.roleDefinitionIds ?? {}) as Record<string, unknown>;
  const assignments = resourcesOf(roles.template).filter((r) => r.type === 'Microsoft.Authorization/roleAssignments');

  interface Grant {
    /** `resourceId(...)` expression of the scope, as the compiler writes it. */
    scope: string;
    type: string;
    roles: Set<string>;
    copyCount?: string;
  }
  const grants: Grant[] = assignments.map((a) => {
    const scope = expressionOf(a.scope);
    const type = scope && /^resourceId\('([^']+)'/.exec(scope)?.[1];
    if (!scope || !type) throw new Error(`${roles.file}: role assignment ${a.name} is not scoped to a resource`);
    const roleNames = [...String(a.properties?.roleDefinitionId).matchAll(/variables\('roleDefinitionIds'\)\.(\w+)/g)].map((m) => m[1]);
    return { scope, type, roles: new Set(roleNames), copyCount: a.copy?.count };
  });

  test('role definition ids are the built-in ones', () => {
    expectNone(
      (Object.keys(builtInRoles) as Role[])
        .filter((role) => roleIds[role] !== builtInRoles[role])
        .map((role) => `${role} (Bicep: ${String(roleIds[role] ?? 'missing')}, built-in: ${builtInRoles[role]})`),
      `wrong or missing role definition ids in ${roles.file}`,
    );
    expectNone(
      Object.keys(roleIds).filter((k) => !(k in builtInRoles)),
      `role ids in ${roles.file} this test does not know (add them to builtInRoles after checking the GUID)`,
    );
  });

  test("every assignment is to the app's user-assigned identity, as a service principal, by built-in role id", () => {
    for (const a of assignments) {
      expect({ assignment: a.name, principalId: expressionOf(a.properties?.principalId) }).toEqual({
        assignment: a.name,
        principalId: expect.stringMatching(new RegExp(`^${identityReference}\\.principalId$`)),
      });
      expect({ assignment: a.name, principalType: a.properties?.principalType }).toEqual({
        assignment: a.name,
        principalType: 'ServicePrincipal',
      });
      expect(a.properties?.roleDefinitionId).toMatch(
        /^\[subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions', .*variables\('roleDefinitionIds'\)\.\w+/,
      );
    }
    // The identity with the roles is the one the function app runs as.
    const identityOutput = /'identity'\), '[\w-]+'\)\.outputs\.name\.value\]$/;
    expect(roles.parameters.identityName.value).toMatch(identityOutput);
    expect(functionApp.parameters.identityName.value).toBe(roles.parameters.identityName.value);
    expect(Object.keys(site.identity?.userAssignedIdentities as object)).toEqual([
      expect.stringMatching(new RegExp(`^\\[format\\('\\{0\\}', ${identityId}\\)\\]$`)),
    ]);
  });

  test('each data-plane resource type gets exactly its roles, scoped to resources of that type', () => {
    const problems: string[] = [];
    for (const [type, expected] of Object.entries(required)) {
      const scoped = grants.filter((g) => g.type === type);
      if (scoped.length === 0) problems.push(`${type}: no role assignment scoped to it`);
      const granted = new Set(scoped.flatMap((g) => [...g.roles]));
      for (const role of expected) if (!granted.has(role)) problems.push(`${type}: ${role} missing`);
      for (const role of granted) if (!expected.includes(role as Role)) problems.push(`${type}: ${role} not expected`);
    }
    for (const g of grants) if (!(g.type in required)) problems.push(`${g.type}: roles granted on a type this test does not know`);
    expectNone(problems, `role assignments in ${roles.file}`);
  });

  test('Data Owner is granted on each triggered queue, and on nothing wider', () => {
    const owner = grants.filter((g) => g.roles.has('serviceBusDataOwner'));
    expect(owner).toHaveLength(1);
    const [grant] = owner;
    // One assignment per name in the parameter, each scoped to that queue of the namespace.
    expect(grant.scope).toBe(
      "resourceId('Microsoft.ServiceBus/namespaces/queues', parameters('serviceBusNamespaceName'), parameters('serviceBusTriggerQueueNames')[copyIndex()])",
    );
    expect(grant.copyCount).toBe("[length(parameters('serviceBusTriggerQueueNames'))]");
    // main.bicep passes the names the Service Bus module flags as triggered (flags checked against functions/ above).
    expect(roles.parameters.serviceBusTriggerQueueNames.value).toMatch(/'service-bus'\), '[\w-]+'\)\.outputs\.triggerQueueNames\.value\]$/);
    expect(roles.parameters.serviceBusNamespaceName.value).toMatch(/'service-bus'\), '[\w-]+'\)\.outputs\.name\.value\]$/);
    expect(serviceBus.template.outputs?.triggerQueueNames.value).toBe(
      "[map(filter(variables('queues'), lambda('q', lambdaVariables('q').trigger)), lambda('q', lambdaVariables('q').name))]",
    );
  });

  test('every data-plane resource declared in infra/ is covered', () => {
    const declaredElsewhere = modules
      .filter((m) => m.name !== roles.name)
      .flatMap((m) => resourcesOf(m.template))
      // Queues are covered by the triggered-queue test above: only the triggered ones get a role of their own.
      .filter((r) => r.type in required && r.type !== 'Microsoft.ServiceBus/namespaces/queues');
    const coveredCount = (type: string) => new Set(grants.filter((g) => g.type === type).map((g) => g.scope)).size;
    expectNone(
      Object.keys(required)
        .filter((type) => declaredElsewhere.filter((r) => r.type === type).length > coveredCount(type))
        .map((type) => `${type} (${declaredElsewhere.filter((r) => r.type === type).length} declared, ${coveredCount(type)} with roles)`),
      'data-plane resources declared without role assignments for the app identity',
    );
  });
});

describe('keyless and hardened resources', () => {
  test('storage refuses shared keys', () => {
    const account = onlyResource(moduleNamed(main, 'storage'), 'Microsoft.Storage/storageAccounts');
    expect(account.properties?.allowSharedKeyAccess).toBe(false);
    expect(account.properties?.allowBlobPublicAccess).toBe(false);
  });

  test('Key Vault uses RBAC, soft delete and purge protection', () => {
    const vault = onlyResource(moduleNamed(main, 'key-vault'), 'Microsoft.KeyVault/vaults');
    expect(vault.properties?.enableRbacAuthorization).toBe(true);
    expect(vault.properties?.enableSoftDelete).toBe(true);
    expect(vault.properties?.enablePurgeProtection).toBe(true);
  });

  test('no key listing anywhere in infra/', () => {
    const own: ArmTemplate = { ...main, resources: resourcesOf(main).filter((r) => r.type !== 'Microsoft.Resources/deployments') };
    expectNone(
      [{ file: 'infra/main.bicep', template: own }, ...modules]
        .filter((m) => /listKeys\(|listConnectionStrings\(|listKeyValue|listSecrets\(|AccountKey=/i.test(JSON.stringify(m.template)))
        .map((m) => m.file),
      'Bicep files that read keys or build key-based connection strings',
    );
  });

  test('the client secret is a secure parameter and never an output', () => {
    const offenders: string[] = [];
    for (const { file, template } of [{ file: 'infra/main.bicep', template: main }, ...modules]) {
      const parameters = Object.entries(template.parameters ?? {});
      for (const [name, p] of parameters) {
        if (/(secret|password)$/i.test(name) && p.type !== 'securestring') offenders.push(`${file}: param ${name} lacks @secure()`);
      }
      const secure = parameters.filter(([, p]) => p.type === 'securestring').map(([name]) => name);
      for (const [name, output] of Object.entries(template.outputs ?? {})) {
        const value = JSON.stringify(output.value);
        if (/secret$/i.test(name) || secure.some((p) => value.includes(`parameters('${p}')`))) {
          offenders.push(`${file}: output ${name} exposes a secret`);
        }
      }
    }
    expectNone(offenders, 'secret handling problems');
  });
});

describe('Bicep idioms', () => {
  const templates: { file: string; template: ArmTemplate }[] = [{ file: 'infra/main.bicep', template: main }, ...modules];

  test('every parameter has a @description', () => {
    expectNone(
      templates.flatMap(({ file, template }) =>
        Object.entries(template.parameters ?? {})
          .filter(([, p]) => !p.metadata?.description)
          .map(([name]) => `${file}: ${name}`),
      ),
      'parameters without @description',
    );
  });

  test('names come from the one abbreviations map, and every entry is used', () => {
    const abbreviations = JSON.parse(readRepoFile('infra/abbreviations.json')) as Record<string, string>;
    // loadJsonContent('abbreviations.json') compiles to a variable holding the file's content.
    const loaded = /^variables\('([^']+)'\)$/.exec(expressionOf(main.variables?.abbrs) ?? '')?.[1];
    expect(loaded && main.variables?.[loaded]).toEqual(abbreviations);
    const used = [...JSON.stringify(main.variables).matchAll(/variables\('abbrs'\)\.(\w+)/g)].map((m) => m[1]);
    expectNone(
      used.filter((k) => !(k in abbreviations)),
      'abbreviations used in main.bicep but missing from infra/abbreviations.json',
    );
    expectNone(
      Object.keys(abbreviations).filter((k) => !used.includes(k)),
      'unused entries in infra/abbreviations.json',
    );
    // Resource names are decided in main.bicep only: modules take them as parameters.
    expectNone(
      modules.filter((m) => /uniqueString\(/.test(JSON.stringify(m.template))).map((m) => m.file),
      'modules that derive their own names',
    );
  });

  test('main.parameters.json maps known parameters to azd environment variables', () => {
    const file = JSON.parse(readRepoFile('infra/main.parameters.json')) as {
      parameters: Record<string, { value: unknown }>;
    };
    const mainParams = main.parameters ?? {};
    expectNone(
      Object.keys(file.parameters).filter((n) => !(n in mainParams)),
      'main.parameters.json sets parameters main.bicep does not have',
    );
    expectNone(
      Object.entries(file.parameters)
        .filter(([, v]) => typeof v.value !== 'string' || !/^\$\{[A-Z_][A-Z0-9_]*\}$/.test(v.value))
        .map(([n]) => n),
      'main.parameters.json values that are not ${AZD_VARIABLE} placeholders',
    );
    // Parameters without a default must come from the environment, or azd would have to prompt for them.
    expectNone(
      Object.entries(mainParams)
        .filter(([n, p]) => !('defaultValue' in p) && !(n in file.parameters))
        .map(([n]) => n),
      'required main.bicep parameters missing from main.parameters.json',
    );
    expect(file.parameters.environmentName?.value).toBe('${AZURE_ENV_NAME}');
  });

  test('azure.yaml deploys the api service as a function app', () => {
    const yaml = readRepoFile('azure.yaml');
    expect(yaml).toMatch(/^services:\s*\n\s+api:\s*\n(?:\s+.*\n)*?\s+language:\s*js\s*$/m);
    expect(yaml).toMatch(/^\s+host:\s*function\s*$/m);
    expect(functionApp.template.variables?.azdServiceTag).toEqual({ 'azd-service-name': 'api' });
    expect(site.tags).toBe("[union(parameters('tags'), variables('azdServiceTag'))]");
  });

  test('the function app runs Node 22 on Flex Consumption', () => {
    const plan = onlyResource(functionApp, 'Microsoft.Web/serverfarms');
    expect(plan.sku).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
    // Node 20 reached end of life on 2026-04-30; '22' is a Flex Consumption runtime version.
    expect(site.properties?.functionAppConfig?.runtime).toEqual({ name: 'node', version: '22' });
    expect(site.kind).toBe('functionapp,linux');
    expect(site.properties?.httpsOnly).toBe(true);
  });
});

describe('host.json', () => {
  const host = JSON.parse(readRepoFile('host.json'));
  const seconds = (span: string) => {
    const m = /^(\d{2}):(\d{2}):(\d{2})$/.exec(span);
    if (!m) throw new Error(`not an hh:mm:ss span: ${span}`);
    return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  };

  test('version 2.0 with extension bundle v4', () => {
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle).toEqual({
      id: 'Microsoft.Azure.Functions.ExtensionBundle',
      version: '[4.*, 5.0.0)',
    });
  });

  test('Service Bus settles the way the code expects', () => {
    const sb = host.extensions?.serviceBus;
    // The code completes by returning normally and abandons by throwing.
    expect(sb?.autoCompleteMessages).toBe(true);
    expect(Number.isInteger(sb?.maxConcurrentCalls)).toBe(true);
    expect(Number.isInteger(sb?.maxConcurrentSessions)).toBe(true);
    // Message (and session) locks must outlive the longest execution, or a slow step runs twice.
    expect(seconds(sb.maxAutoLockRenewalDuration)).toBeGreaterThanOrEqual(seconds(host.functionTimeout));
  });

  test('a bounded function timeout and Information logging', () => {
    expect(seconds(host.functionTimeout)).toBeGreaterThan(0);
    expect(seconds(host.functionTimeout)).toBeLessThanOrEqual(30 * 60);
    expect(host.logging?.logLevel?.default).toBe('Information');
  });
});


describe('a static outbound IP for Conditional Access (optional)', () => {
  const network = moduleNamed(main, 'network');
  const deployment = resourcesOf(main).find((r) => r.type === 'Microsoft.Resources/deployments' && r.name === 'network') as
    | (ArmResource & { condition?: unknown })
    | undefined;

  test('off by default: no network is deployed and the app has no VNet integration', () => {
    expect(main.parameters?.enableStaticEgressIp).toMatchObject({ type: 'bool', defaultValue: false });
    expect(deployment?.condition).toBe("[parameters('enableStaticEgressIp')]");
    expect(functionApp.parameters.virtualNetworkSubnetId as unknown).toMatch(/^\[if\(parameters\('enableStaticEgressIp'\), createObject\('value', reference\(/);
    expect(site.properties?.virtualNetworkSubnetId).toBe(
      "[if(empty(parameters('virtualNetworkSubnetId')), null(), parameters('virtualNetworkSubnetId'))]",
    );
  });

  test('on: the integration subnet is delegated to Flex Consumption and leaves through a NAT gateway with one static IP', () => {
    const vnet = onlyResource(network, 'Microsoft.Network/virtualNetworks');
    const subnets = vnet.properties?.subnets as { name: string; properties: Record<string, unknown> }[];
    expect(subnets).toHaveLength(1);
    expect(subnets[0].properties.delegations).toEqual([{ name: 'flex-consumption', properties: { serviceName: 'Microsoft.App/environments' } }]);
    expect(JSON.stringify(subnets[0].properties.natGateway)).toContain('Microsoft.Network/natGateways');
    const ip = onlyResource(network, 'Microsoft.Network/publicIPAddresses');
    expect(ip.sku).toEqual({ name: 'Standard' });
    expect(ip.properties?.publicIPAllocationMethod).toBe('Static');
    expect(JSON.stringify(onlyResource(network, 'Microsoft.Network/natGateways').properties?.publicIpAddresses)).toContain(
      'Microsoft.Network/publicIPAddresses',
    );
    expect(main.outputs?.STATIC_EGRESS_IP.value).toMatch(/^\[if\(parameters\('enableStaticEgressIp'\), reference\(/);
  });
});

describe('what docs/deploy.md reads from the deployment exists', () => {
  /** Set by azd itself, not by an output. */
  const azdVariables = new Set(['AZURE_ENV_NAME', 'AZURE_LOCATION', 'AZURE_SUBSCRIPTION_ID', 'AZURE_TENANT_ID']);

  test('every `azd env get-value X` and $X of an output in the walk-through is an output of main.bicep', () => {
    const doc = readRepoFile('docs/deploy.md');
    const read = [...doc.matchAll(/azd env get-value ([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]);
    expect(read.length).toBeGreaterThan(5);
    expectNone(
      [...new Set(read)].filter((name) => !azdVariables.has(name) && !(name in (main.outputs ?? {}))),
      'docs/deploy.md reads values main.bicep does not output',
    );
  });

  test('the outputs an operator needs: storage account, tables endpoint, the identity as federated credential subject', () => {
    for (const name of [
      'AZURE_STORAGE_ACCOUNT_NAME',
      'TABLES_ENDPOINT',
      'AZURE_APP_IDENTITY_CLIENT_ID',
      'AZURE_APP_IDENTITY_PRINCIPAL_ID',
      'MANAGED_IDENTITY_FEDERATION_ISSUER',
      'STATIC_EGRESS_IP',
    ]) {
      expect(main.outputs?.[name]).toBeDefined();
    }
    expect(main.outputs?.TABLES_ENDPOINT.value).toMatch(/'storage'\), '[\w-]+'\)\.outputs\.tableEndpoint\.value\]$/);
    expect(main.outputs?.AZURE_APP_IDENTITY_PRINCIPAL_ID.value).toMatch(/'identity'\), '[\w-]+'\)\.outputs\.principalId\.value\]$/);
  });
});
