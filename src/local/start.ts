// `npm start`: the local instance (no cloud). Local/test only; never deployed.
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { localDataDir } from './certs';
import { LOCAL_USERS } from './identity-provider/directory';
import { startLocalStack } from './stack';

const instanceFile = () => path.join(localDataDir(), 'instance.json');

async function main() {
  const port = Number(process.env.PORT ?? 7071);
  // Local-instance options (not app settings): the queues' lock duration (how long a message the instance was handling
  // when it died stays locked; PT1M as in Azure by default), and a Graph of one's own in place of the stand-in.
  const lockSeconds = process.env.CONNECTIONS_LOCAL_BUS_LOCK_SECONDS;
  if (lockSeconds !== undefined && !(Number(lockSeconds) > 0))
    throw new Error('CONNECTIONS_LOCAL_BUS_LOCK_SECONDS must be a positive number');
  const graphUrl = process.env.GRAPH_BASE_URL;
  // How the app registrations authenticate: secret (default) or managedIdentity (federated credential, as in Azure).
  const credentialMode = process.env.CONNECTIONS_LOCAL_CREDENTIAL ?? 'secret';
  if (credentialMode !== 'secret' && credentialMode !== 'managedIdentity')
    throw new Error('CONNECTIONS_LOCAL_CREDENTIAL must be secret or managedIdentity');
  const stack = await startLocalStack({
    port,
    dataDir: path.join(localDataDir(), 'data'),
    identityProvider: { port: port + 1 },
    portal: true,
    credentialMode,
    ...(lockSeconds ? { busLockDurationMs: Number(lockSeconds) * 1000 } : {}),
    ...(graphUrl ? { env: { GRAPH_BASE_URL: graphUrl } } : {}),
  });
  // Azurite's connection string holds only its published development key; `npm run tenant -- --local` reads it.
  // README's copy-paste example reads graphUrl from it (the Graph stand-in's port is picked at start).
  const { baseUrl, identityProvider, env } = stack;
  await writeFile(
    instanceFile(),
    JSON.stringify(
      {
        baseUrl,
        identityProviderUrl: identityProvider.url,
        graphUrl: stack.graph.url,
        tablesConnectionString: env.TABLES_CONNECTION_STRING,
      },
      null,
      2,
    ),
  );
  const users = LOCAL_USERS.map(
    (u) => `    ${u.username.padEnd(30)} tenant ${u.tenantId}${u.roles.length ? `  roles: ${u.roles.join(', ')}` : ''}`,
  );
  console.log(`
Connections local instance is running.

  Connections page    ${stack.portalUrl}  (sign in as admin@contoso.test)
  API                 ${stack.baseUrl}/api
  Sign-in callback    ${stack.baseUrl}/api/connections/callback
  Identity provider   ${stack.identityProvider.url}  (local stand-in for Microsoft sign-in)
  App credentials     ${credentialMode === 'managedIdentity' ? 'managed identity (federated credential, no client secret)' : 'client secrets'}  (CONNECTIONS_LOCAL_CREDENTIAL=secret|managedIdentity)
  Key Vault stand-in  ${stack.vault.url}
  Graph stand-in      ${stack.graph.url}   (calls it received: ${stack.graph.url}/_local/calls)${graphUrl ? `\n  Graph (used)        ${graphUrl}` : ''}
  Tables (Azurite)    ${stack.azurite.tablesEndpoint}

  Admin token:        npm run local:token   (or: npm run local:token -- admin@fabrikam.test)
  Try it:             curl -s -X POST -H "Authorization: Bearer $(npm run -s local:token)" ${stack.baseUrl}/api/connections/authorize

  Local users (sign in with the username, no password):
${users.join('\n')}

Press Ctrl+C (or send SIGTERM to npm) to stop. Other ports: PORT=8080 npm start (the identity provider takes PORT+1).`);
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      // The record goes with the instance, so `npm run local:token` says "run npm start first" instead of failing on a dead port.
      await rm(instanceFile(), { force: true });
      await stack.stop();
      process.exit(0);
    })());
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  process.once('SIGHUP', shutdown);
}

main().catch((e) => {
  console.error(`The local instance could not start: ${(e as Error).message}`);
  process.exit(1);
});
