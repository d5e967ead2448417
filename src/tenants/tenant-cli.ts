// `npm run tenant -- <command>`: the vendor's operator registers the tenants the app serves (docs/deploy.md "Onboarding a
// customer tenant"). Writes the `Tenants` table directly: with TABLES_ENDPOINT and DefaultAzureCredential in Azure
// (the operator's `az login`, with Storage Table Data Contributor on the account), with TABLES_CONNECTION_STRING
// against Azurite, or with --local against the running `npm start` instance.
import { DefaultAzureCredential } from '@azure/identity';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { tableNames } from '../config/settings';
import { createTableFactory } from '../adapters/tables';
import { consentStates, TenantRegistry, type ConsentState, type TenantRegistration } from './tenant-registry';

const usage = `Usage: npm run tenant -- <command> [--local]
  register <tenantId> --name <display name> [--by <operator>] [--consent pending|granted]
  consent <tenantId> pending|granted|withdrawn [--by <operator>]
  show <tenantId>
  list
  remove <tenantId>
Storage: TABLES_ENDPOINT (Azure, DefaultAzureCredential), TABLES_CONNECTION_STRING (Azurite), or --local (the running npm start).
TABLES_PREFIX is honoured as the app honours it.`;

class UsageError extends Error {}

function parseArgs(argv: string[]) {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) positional.push(a);
    else if (a === '--local') flags.local = true;
    else if (i + 1 < argv.length) flags[a.slice(2)] = argv[++i];
    else throw new UsageError(`${a} needs a value.`);
  }
  return { positional, flags };
}

async function storage(env: NodeJS.ProcessEnv, local: boolean) {
  let connectionString = env.TABLES_CONNECTION_STRING || undefined;
  if (local) {
    const file = path.join(path.resolve(env.CONNECTIONS_LOCAL_DIR ?? '.local'), 'instance.json');
    const instance = JSON.parse(
      await readFile(file, 'utf8').catch(() => {
        throw new UsageError('No local instance found: run `npm start` first.');
      }),
    );
    connectionString = instance.tablesConnectionString;
  }
  const endpoint = env.TABLES_ENDPOINT || undefined;
  if (!connectionString && !endpoint)
    throw new UsageError('Set TABLES_ENDPOINT (Azure) or TABLES_CONNECTION_STRING (Azurite), or pass --local.');
  // A connection string only ever points at Azurite here: the deployed account refuses shared keys.
  const tables = createTableFactory(
    { TABLES_ENDPOINT: endpoint, TABLES_CONNECTION_STRING: connectionString, CONNECTIONS_LOCAL_MODE: connectionString !== undefined },
    new DefaultAzureCredential(),
  );
  return new TenantRegistry(tables, tableNames({ TABLES_PREFIX: env.TABLES_PREFIX || undefined }).tenants);
}

const describe = (t: TenantRegistration) =>
  `${t.tenantId}  ${t.displayName}  registered ${t.registeredAt} by ${t.registeredBy}  consent ${t.consentState} (${t.consentChangedAt} by ${t.consentChangedBy})`;

const consentOf = (value: string | true | undefined): ConsentState | undefined => {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && (consentStates as readonly string[]).includes(value)) return value as ConsentState;
  throw new UsageError(`The consent state must be one of ${consentStates.join(', ')}.`);
};

export async function main(argv: string[], env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<void> {
  const { positional, flags } = parseArgs(argv);
  const [command, tenantId, state] = positional;
  const by = typeof flags.by === 'string' ? flags.by : (env.USER ?? env.USERNAME ?? 'operator');
  const needId = () => {
    if (!tenantId) throw new UsageError(`${command} needs a tenant id.`);
    return tenantId;
  };
  if (!command || !['register', 'consent', 'show', 'list', 'remove'].includes(command)) throw new UsageError(usage);
  const registry = await storage(env, flags.local === true);
  switch (command) {
    case 'register': {
      if (typeof flags.name !== 'string' || !flags.name.trim()) throw new UsageError('register needs --name <display name>.');
      const consentState = consentOf(flags.consent);
      const t = await registry.register({
        tenantId: needId(),
        displayName: flags.name.trim(),
        by,
        ...(consentState ? { consentState } : {}),
      });
      return out(`Registered tenant ${t.tenantId} (${t.displayName}), consent ${t.consentState}.`);
    }
    case 'consent': {
      const consentState = consentOf(state ?? true);
      const t = await registry.setConsent(needId(), consentState!, by);
      return out(`Tenant ${t.tenantId} (${t.displayName}): consent ${t.consentState}.`);
    }
    case 'show': {
      const t = await registry.get(needId().toLowerCase());
      return out(t ? describe(t) : `Tenant ${tenantId} is not registered.`);
    }
    case 'list': {
      const all = await registry.list();
      return out(all.length ? all.map(describe).join('\n') : 'No tenant is registered.');
    }
    case 'remove': {
      const removed = await registry.remove(needId());
      return out(
        removed
          ? `Removed tenant ${tenantId}: it is refused once instances' cached checks expire.`
          : `Tenant ${tenantId} was not registered.`,
      );
    }
  }
}

if (require.main === module) {
  main(process.argv.slice(2), process.env, (line) => console.log(line)).catch((e) => {
    console.error(e instanceof UsageError ? e.message : `Failed: ${(e as Error).message}`);
    process.exit(e instanceof UsageError ? 2 : 1);
  });
}
