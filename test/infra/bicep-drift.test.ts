/**
 * Drift between the app and its infrastructure, checked without a Bicep compiler or Azure: the .bicep files are
 * read as text (see bicep-text.ts) and compared with what the code declares it needs.
 *
 *  - app settings: exactly the production settings of src/config/settings.ts plus the host settings of
 *    src/config/host-settings.ts; none local-only, none forbidden, none a key or connection string;
 *  - queues: exactly src/config/queues.ts, sessions where `queuesWithSessions` says;
 *  - every data-plane resource has its built-in role(s) for the app's user-assigned identity, scoped to it;
 *  - keyless switches: storage shared keys, Service Bus SAS, App Insights local auth all off; Key Vault RBAC +
 *    purge protection on;
 *  - host.json matches what the code expects; Bicep idioms (descriptions, @secure, one abbreviations map).
 *
 * Every failure names the setting, queue, role or file at fault.
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
  arrayObjects,
  bodyAfter,
  objectEntries,
  outputs,
  params,
  readBicep,
  readRepoFile,
  repoRoot,
  resources,
  type BicepResource,
} from './bicep-text';

const FUNCTION_APP = 'infra/modules/function-app.bicep';
const SERVICE_BUS = 'infra/modules/service-bus.bicep';
const ROLES = 'infra/modules/role-assignments.bicep';
const MAIN = 'infra/main.bicep';
/** Where the settings table lives (update if the section moves into the root README). */
const SETTINGS_DOC = 'README.md';

/** Fails with a message that names every offender, instead of a bare array diff. */
function expectNone(offenders: readonly string[], problem: string): void {
  if (offenders.length > 0) {
    throw new Error(`${problem}: ${offenders.join(', ')}`);
  }
}

function bicepFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(repoRoot, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.bicep')) files.push(rel);
    }
  };
  walk('infra');
  return files.sort();
}

const appSettings = objectEntries(
  bodyAfter(readBicep(FUNCTION_APP), /^var appSettingValues\s*=\s*/m, `${FUNCTION_APP} appSettingValues`),
);
const appSettingKeys = [...appSettings.keys()];
const localOnly = new Set<string>(localOnlySettingNames);
const known = new Set<string>([...settingNames, ...hostSettingNames]);

describe('app settings in Bicep match the settings the app and host read', () => {
  test('the local-only list names real settings', () => {
    expectNone(
      localOnlySettingNames.filter((n) => !(settingNames as readonly string[]).includes(n)),
      'localOnlySettingNames lists settings that src/config/settings.ts no longer has',
    );
  });

  test('every production setting of settings.ts is set by the function app Bicep', () => {
    expectNone(
      settingNames.filter((n) => !localOnly.has(n) && !appSettings.has(n)),
      `settings the app reads in production but ${FUNCTION_APP} does not set (add them to appSettingValues, or to localOnlySettingNames if they are local-only)`,
    );
  });

  test('every host setting is set by the function app Bicep', () => {
    expectNone(
      hostSettingNames.filter((n) => !appSettings.has(n)),
      `host settings (src/config/host-settings.ts) that ${FUNCTION_APP} does not set`,
    );
  });

  test('every app setting in Bicep is known to the app', () => {
    expectNone(
      appSettingKeys.filter((n) => !known.has(n)),
      `app settings in ${FUNCTION_APP} that neither src/config/settings.ts nor src/config/host-settings.ts declares`,
    );
  });

  test('no local-only or plan-forbidden setting is set in Azure', () => {
    expectNone(
      appSettingKeys.filter((n) => localOnly.has(n)),
      `local/test-only settings set in ${FUNCTION_APP}`,
    );
    expectNone(
      appSettingKeys.filter((n) => forbiddenSettingNames.includes(n)),
      `settings Flex Consumption rejects, or key-based connection settings, set in ${FUNCTION_APP}`,
    );
  });

  test('no app setting value carries a key or a connection string', () => {
    const credentialLike = /listKeys\(|listConnectionStrings|AccountKey=|SharedAccessKey|primaryKey|secondaryKey|connectionString/i;
    expectNone(
      [...appSettings]
        // The App Insights connection string is a locator, not a credential: asserted below that local auth is off.
        .filter(([name]) => name !== 'APPLICATIONINSIGHTS_CONNECTION_STRING')
        .filter(([, value]) => credentialLike.test(value))
        .map(([name, value]) => `${name} = ${value}`),
      'app settings whose value looks like a key or connection string',
    );
    expect(appSettings.get('APPLICATIONINSIGHTS_CONNECTION_STRING')).toBe(
      'applicationInsights.properties.ConnectionString',
    );
    expect(readBicep('infra/modules/monitoring.bicep')).toMatch(/DisableLocalAuth:\s*true/);
  });

  test('identity-based settings use the user-assigned identity', () => {
    const identitySettings = appSettingKeys.filter((n) => /__credential$/.test(n));
    expectNone(
      identitySettings.filter((n) => appSettings.get(n) !== "'managedidentity'"),
      "__credential settings not set to 'managedidentity'",
    );
    const clientIds = appSettingKeys.filter((n) => /__clientId$/.test(n) || n === 'AZURE_CLIENT_ID');
    expectNone(
      clientIds.filter((n) => appSettings.get(n) !== 'appIdentity.properties.clientId'),
      'client id settings not taken from the app identity',
    );
    expect(appSettings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toBe(
      "'ClientId=${appIdentity.properties.clientId};Authorization=AAD'",
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

  test('AUTH_CLIENT_SECRET is a Key Vault reference resolved with the app identity', () => {
    expect(appSettings.get('AUTH_CLIENT_SECRET')).toMatch(/^'@Microsoft\.KeyVault\(SecretUri=\$\{\w+\}\)'$/);
    const site = resources(readBicep(FUNCTION_APP)).find((r) => r.type === 'Microsoft.Web/sites');
    expect(site?.body).toMatch(/keyVaultReferenceIdentity:\s*appIdentity\.id/);
  });

  test('AUTH_REDIRECT_URI is the app\'s callback route', () => {
    const text = readBicep(FUNCTION_APP);
    expect(appSettings.get('AUTH_REDIRECT_URI')).toBe('callbackUrl');
    expect(text).toMatch(/^var callbackUrl = 'https:\/\/\$\{hostName\}\/api\/connections\/callback'$/m);
    const host = JSON.parse(readRepoFile('host.json'));
    expect(host.extensions?.http?.routePrefix ?? 'api').toBe('api');
  });

  test('the callback route the Bicep registers is a function the app defines', () => {
    // Loaded here, not at the top, so that a broken function module fails this test only.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { functionDefinitions } = require('../../functions/definitions') as { functionDefinitions: FunctionDefinition[] };
    const routes = functionDefinitions.filter((f) => f.kind === 'http').map((f) => `${f.methods.join('|')} ${f.route}`);
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

describe('Service Bus queues in Bicep match src/config/queues.ts', () => {
  const text = readBicep(SERVICE_BUS);
  const declared = arrayObjects(bodyAfter(text, /^var queues\s*=\s*/m, `${SERVICE_BUS} queues`)).map((body) => {
    const entries = objectEntries(body);
    return {
      name: (entries.get('name') ?? '').replace(/^'|'$/g, ''),
      requiresSession: entries.get('requiresSession'),
    };
  });
  const declaredNames = declared.map((q) => q.name);
  const codeNames: string[] = Object.values(queueNames);

  test('every queue the code uses is declared, and no other', () => {
    expectNone(
      codeNames.filter((n) => !declaredNames.includes(n)),
      `queues in src/config/queues.ts not declared in ${SERVICE_BUS}`,
    );
    expectNone(
      declaredNames.filter((n) => !codeNames.includes(n)),
      `queues declared in ${SERVICE_BUS} that src/config/queues.ts does not use`,
    );
  });

  test('sessions are enabled exactly where the code expects them', () => {
    const withSessions = new Set<string>(queuesWithSessions);
    expectNone(
      declared
        .filter((q) => q.requiresSession !== String(withSessions.has(q.name)))
        .map((q) => `${q.name} (requiresSession: ${q.requiresSession}, code expects ${withSessions.has(q.name)})`),
      'queues whose sessions setting differs from queuesWithSessions',
    );
    expect(queuesWithSessions).toEqual([queueNames.steps]);
  });

  test('queues dead-letter on expiry, detect duplicates and take max delivery count from a parameter', () => {
    const queue = resources(text).find((r) => r.type === 'Microsoft.ServiceBus/namespaces/queues');
    expect(queue).toBeDefined();
    const body = queue!.body;
    expect(body).toMatch(/requiresSession:\s*q\.requiresSession/);
    expect(body).toMatch(/deadLetteringOnMessageExpiration:\s*true/);
    expect(body).toMatch(/requiresDuplicateDetection:\s*true/);
    expect(body).toMatch(/maxDeliveryCount:\s*maxDeliveryCount/);
    expect(params(text).map((p) => p.name)).toContain('maxDeliveryCount');
  });

  test('the namespace is Standard with local (SAS) auth disabled', () => {
    const ns = resources(text).find((r) => r.type === 'Microsoft.ServiceBus/namespaces' && !r.existing);
    expect(ns?.body).toMatch(/disableLocalAuth:\s*true/);
    expect(ns?.body).toMatch(/name:\s*'Standard'/);
  });
});

describe('data-plane role assignments for the app identity', () => {
  /** Built-in role ids, checked against Microsoft's built-in roles list. */
  const builtInRoles = {
    keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
    serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39',
    serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0',
    storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
    storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
    storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
    monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
  } as const;
  type Role = keyof typeof builtInRoles;

  /** Each data-plane resource type the app touches, with the roles its identity needs on it. */
  const required: Record<string, Role[]> = {
    'Microsoft.KeyVault/vaults': ['keyVaultSecretsOfficer'],
    'Microsoft.ServiceBus/namespaces': ['serviceBusDataSender', 'serviceBusDataReceiver'],
    'Microsoft.Storage/storageAccounts': [
      'storageTableDataContributor',
      'storageBlobDataOwner',
      'storageQueueDataContributor',
    ],
    'Microsoft.Insights/components': ['monitoringMetricsPublisher'],
  };

  const text = readBicep(ROLES);
  const roleIds = objectEntries(bodyAfter(text, /^var roleDefinitionIds\s*=\s*/m, `${ROLES} roleDefinitionIds`));
  const declared = resources(text);
  const bySymbol = new Map(declared.map((r) => [r.symbol, r]));
  const assignments = declared.filter((r) => r.type === 'Microsoft.Authorization/roleAssignments');

  /** role names granted per scope symbol, after checking each assignment's principal. */
  const granted = new Map<string, Set<string>>();
  for (const a of assignments) {
    const scope = /scope:\s*(\w+)/.exec(a.body)?.[1];
    if (!scope) throw new Error(`${ROLES}: role assignment ${a.symbol} has no scope`);
    const set = granted.get(scope) ?? new Set<string>();
    for (const m of a.body.matchAll(/roleDefinitionIds\.(\w+)/g)) set.add(m[1]);
    granted.set(scope, set);
  }

  test('role definition ids are the built-in ones', () => {
    expectNone(
      (Object.keys(builtInRoles) as Role[])
        .filter((role) => roleIds.get(role) !== `'${builtInRoles[role]}'`)
        .map((role) => `${role} (Bicep: ${roleIds.get(role) ?? 'missing'}, built-in: ${builtInRoles[role]})`),
      `wrong or missing role definition ids in ${ROLES}`,
    );
    expectNone(
      [...roleIds.keys()].filter((k) => !(k in builtInRoles)),
      `role ids in ${ROLES} this test does not know (add them to builtInRoles after checking the GUID)`,
    );
  });

  test('every assignment is to the app\'s user-assigned identity, as a service principal, at resource scope', () => {
    for (const a of assignments) {
      const principal = /principalId:\s*(\w+)\.properties\.principalId/.exec(a.body)?.[1];
      expect({ assignment: a.symbol, principalType: bySymbol.get(principal ?? '')?.type }).toEqual({
        assignment: a.symbol,
        principalType: 'Microsoft.ManagedIdentity/userAssignedIdentities',
      });
      expect({ assignment: a.symbol, servicePrincipal: /principalType:\s*'ServicePrincipal'/.test(a.body) }).toEqual({
        assignment: a.symbol,
        servicePrincipal: true,
      });
      expect(a.body).toMatch(/subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions',\s*roleId\)/);
    }
    // The identity with the roles is the one the function app runs as.
    const main = readBicep(MAIN);
    expect(main.match(/identityName:\s*identity\.outputs\.name/g)?.length).toBe(2);
  });

  test('every data-plane resource type has its roles, scoped to an existing reference of that type', () => {
    const missing: string[] = [];
    for (const [type, roles] of Object.entries(required)) {
      const scopes = [...granted.keys()].filter((s) => {
        const r = bySymbol.get(s);
        return r?.type === type && r.existing;
      });
      if (scopes.length === 0) {
        missing.push(`${type}: no role assignment scoped to it`);
        continue;
      }
      for (const scope of scopes) {
        for (const role of roles) {
          if (!granted.get(scope)!.has(role)) missing.push(`${type} (${scope}): ${role}`);
        }
      }
    }
    expectNone(missing, `missing role assignments in ${ROLES}`);
  });

  test('every data-plane resource declared in infra/ is covered', () => {
    const declaredElsewhere: BicepResource[] = bicepFiles()
      .filter((f) => f !== ROLES)
      .flatMap((f) => resources(readBicep(f)))
      .filter((r) => !r.existing && r.type in required);
    const coveredCount = (type: string) =>
      [...granted.keys()].filter((s) => bySymbol.get(s)?.type === type).length;
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
    const body = resources(readBicep('infra/modules/storage.bicep')).find(
      (r) => r.type === 'Microsoft.Storage/storageAccounts' && !r.existing,
    )?.body;
    expect(body).toMatch(/allowSharedKeyAccess:\s*false/);
    expect(body).toMatch(/allowBlobPublicAccess:\s*false/);
  });

  test('Key Vault uses RBAC, soft delete and purge protection', () => {
    const body = resources(readBicep('infra/modules/key-vault.bicep')).find(
      (r) => r.type === 'Microsoft.KeyVault/vaults' && !r.existing,
    )?.body;
    expect(body).toMatch(/enableRbacAuthorization:\s*true/);
    expect(body).toMatch(/enableSoftDelete:\s*true/);
    expect(body).toMatch(/enablePurgeProtection:\s*true/);
  });

  test('no key listing anywhere in infra/', () => {
    expectNone(
      bicepFiles().filter((f) => /listKeys\(|listConnectionStrings\(|listKeyValue|AccountKey=/i.test(readBicep(f))),
      'Bicep files that read keys or build key-based connection strings',
    );
  });

  test('the client secret is a secure parameter and never an output', () => {
    const offenders: string[] = [];
    for (const f of bicepFiles()) {
      const text = readBicep(f);
      for (const p of params(text)) {
        if (/(secret|password)$/i.test(p.name) && !p.decorators.includes('@secure()')) {
          offenders.push(`${f}: param ${p.name} lacks @secure()`);
        }
      }
      for (const [name, value] of outputs(text)) {
        if (/authClientSecret(?!Uri|Name)\b/.test(value) || /secret$/i.test(name)) {
          offenders.push(`${f}: output ${name} exposes the secret`);
        }
      }
    }
    expectNone(offenders, 'secret handling problems');
  });
});

describe('Bicep idioms', () => {
  test('every parameter has a @description', () => {
    const offenders = bicepFiles().flatMap((f) =>
      params(readBicep(f))
        .filter((p) => !p.decorators.includes('@description('))
        .map((p) => `${f}: ${p.name}`),
    );
    expectNone(offenders, 'parameters without @description');
  });

  test('names come from the one abbreviations map, and every entry is used', () => {
    const abbreviations = JSON.parse(readRepoFile('infra/abbreviations.json')) as Record<string, string>;
    const main = readBicep(MAIN);
    expect(main).toMatch(/^var abbrs = loadJsonContent\('abbreviations\.json'\)$/m);
    const used = [...main.matchAll(/abbrs\.(\w+)/g)].map((m) => m[1]);
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
      bicepFiles()
        .filter((f) => f !== MAIN)
        .filter((f) => /loadJsonContent\(|uniqueString\(/.test(readBicep(f))),
      'modules that derive their own names',
    );
  });

  test('every module main.bicep uses exists', () => {
    const main = readBicep(MAIN);
    const modules = [...main.matchAll(/^module\s+\w+\s+'([^']+)'/gm)].map((m) => m[1]);
    expect(modules.length).toBeGreaterThan(0);
    expectNone(
      modules.filter((m) => !existsSync(path.join(repoRoot, 'infra', m))),
      'modules referenced by main.bicep that do not exist',
    );
  });

  test('main.parameters.json maps known parameters to azd environment variables', () => {
    const file = JSON.parse(readRepoFile('infra/main.parameters.json')) as {
      parameters: Record<string, { value: unknown }>;
    };
    const mainParams = params(readBicep(MAIN));
    const names = mainParams.map((p) => p.name);
    expectNone(
      Object.keys(file.parameters).filter((n) => !names.includes(n)),
      'main.parameters.json sets parameters main.bicep does not have',
    );
    expectNone(
      Object.entries(file.parameters)
        .filter(([, v]) => typeof v.value !== 'string' || !/^\$\{[A-Z_][A-Z0-9_]*\}$/.test(v.value))
        .map(([n]) => n),
      'main.parameters.json values that are not ${AZD_VARIABLE} placeholders',
    );
    // Parameters without a default must come from the environment, or azd would have to prompt for them.
    const mainText = readBicep(MAIN);
    const required = names.filter((n) => new RegExp(`^param ${n} \\w+\\s*$`, 'm').test(mainText));
    expectNone(
      required.filter((n) => !(n in file.parameters)),
      'required main.bicep parameters missing from main.parameters.json',
    );
    expect(file.parameters.environmentName?.value).toBe('${AZURE_ENV_NAME}');
  });

  test('azure.yaml deploys the api service as a function app', () => {
    const yaml = readRepoFile('azure.yaml');
    expect(yaml).toMatch(/^services:\s*\n\s+api:\s*\n(?:\s+.*\n)*?\s+language:\s*js\s*$/m);
    expect(yaml).toMatch(/^\s+host:\s*function\s*$/m);
    const text = readBicep(FUNCTION_APP);
    expect(objectEntries(bodyAfter(text, /^var azdServiceTag\s*=\s*/m, 'azdServiceTag')).get('azd-service-name')).toBe("'api'");
    const site = resources(text).find((r) => r.type === 'Microsoft.Web/sites');
    expect(site?.body).toMatch(/tags:\s*union\(tags,\s*azdServiceTag\)/);
  });

  test('the function app runs Node 20 on Flex Consumption', () => {
    const text = readBicep(FUNCTION_APP);
    const plan = resources(text).find((r) => r.type === 'Microsoft.Web/serverfarms');
    expect(plan?.body).toMatch(/tier:\s*'FlexConsumption'/);
    const site = resources(text).find((r) => r.type === 'Microsoft.Web/sites');
    expect(site?.body).toMatch(/runtime:\s*\{\s*name:\s*'node'\s*version:\s*'20'\s*\}/);
    expect(site?.body).toMatch(/kind:\s*'functionapp,linux'/);
    expect(site?.body).toMatch(/httpsOnly:\s*true/);
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
