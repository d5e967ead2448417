/**
 * token_calls: 10,000 steps spread over 10 connections within one access-token lifetime, executed by a freshly
 * started instance (a new app context: empty broker memory) whose connections' stored access tokens have expired.
 * That is the most a token lifetime can cost: per connection one Key Vault read (cold memory), one token-endpoint
 * call (expired token) and one vault write (the refresh token rotated; TOKEN_CACHE_WRITE_POLICY=always, as the
 * local stack runs). Target: 10 of each, whatever the number of steps.
 *
 * Ten connections need ten grants: the local directory has four accounts in the tenant, so each account signs in
 * 2-3 times (each sign-in is its own grant and refresh token, stored as its own connection: own id, own vault
 * secret, own lease row), saved directly through the repository (ConnectionService would merge same-account
 * sign-ins into one connection).
 */
import { performance } from 'node:perf_hooks';
import { createApp, setAppContext } from '../../src/app-context';
import { queueNames } from '../../src/config/queues';
import type { Connection } from '../../src/connections/connection';
import {
  CONTOSO_ADMIN,
  CONTOSO_SVC_APPROVALS,
  CONTOSO_SVC_WORKPOINT,
  CONTOSO_USER,
  TENANT_A,
} from '../../src/local/identity-provider/directory';
import { getTokenStats, resetTokenStats } from '../../src/local/identity-provider/launch';
import type { ProcessBody } from '../../src/processes/process-definition';
import { MsalClients } from '../../src/tokens/msal-clients';
import type { TestStack } from '../support/test-stack';
import { adminOf, note, prepareRuns, round, savePublished, scaled, signInCache, storeSignedInConnection, type Figure } from './harness';

const CONNECTIONS = 10;
const PROCESS_ID = 'bench-tokens';

export async function tokenCalls(stack: TestStack): Promise<Figure> {
  const ctx = stack.context;
  const accounts = [CONTOSO_SVC_WORKPOINT, CONTOSO_SVC_APPROVALS, CONTOSO_USER, CONTOSO_ADMIN];
  const msal = new MsalClients(ctx.settings);
  note(`token_calls: signing in ${CONNECTIONS} connections`);
  const connections: Connection[] = [];
  let grantedScopes = '';
  for (let i = 0; i < CONNECTIONS; i++) {
    const user = accounts[i % accounts.length];
    const cache = await signInCache(msal, user);
    grantedScopes ||= grantedScopesOf(cache);
    // Stored by the running instance with an access token that has already expired.
    const connection = await storeSignedInConnection(stack, user, `Bench tokens ${i + 1}`, cache, -60);
    connections.push(connection);
  }

  const body: ProcessBody = {
    name: 'Bench: one step per connection',
    kind: 'system',
    triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.data.bench', op: 'eq', value: 'tokens' }] }],
    steps: connections.map((c, i) => ({
      id: `as-${i + 1}`,
      type: 'action' as const,
      action: 'updateFields',
      inputs: { fields: { [`Seen${i + 1}`]: true } },
      permissions: { executeAs: c.id },
    })),
  };
  await savePublished(ctx, adminOf(CONTOSO_ADMIN), PROCESS_ID, body);
  const runs = scaled(1000, 10);
  note(`token_calls: starting ${runs} runs of ${CONNECTIONS} steps (untimed setup)`);
  const messages = await prepareRuns(stack, TENANT_A.id, runs, () => ({ bench: 'tokens' }));

  // A new instance: its own broker and step runner, nothing in memory; the vault, lease table and tables are shared.
  const cold = createApp(ctx.settings, stack.overrides);
  setAppContext(cold.context);
  const steps = runs * CONNECTIONS;
  try {
    stack.graph.reset();
    stack.vault.resetCounts();
    await resetTokenStats(stack.identityProvider.url);
    note(`token_calls: ${steps} steps on a cold instance`);
    const t0 = performance.now();
    await stack.bus.send(queueNames.steps, messages);
    await stack.bus.idle();
    const ms = performance.now() - t0;

    const vault = stack.vault.counts();
    const tokens = await getTokenStats(stack.identityProvider.url);
    const ok = stack.graph.calls.filter((c) => c.status === 200).length;
    if (ok !== steps) throw new Error(`token_calls: ${ok} of ${steps} steps reached Graph successfully`);
    return {
      name: 'token_calls',
      steps,
      connections: CONNECTIONS,
      runs: 1,
      vault_reads: vault.reads,
      vault_writes: vault.writes,
      token_endpoint_calls: tokens.total,
      token_endpoint_by_grant: tokens.byGrantType,
      token_endpoint_by_status: tokens.byStatus,
      target: { vault_reads: CONNECTIONS, vault_writes: CONNECTIONS, token_endpoint_calls: CONNECTIONS },
      met: vault.reads <= CONNECTIONS && vault.writes <= CONNECTIONS && tokens.total <= CONNECTIONS,
      // Worst of the three counts over the minimum (one per connection).
      ratio: round(Math.max(vault.reads, vault.writes, tokens.total) / CONNECTIONS),
      steps_per_s: round((steps * 1000) / ms, 1),
      elapsed_s: round(ms / 1000, 1),
      access_token_lifetime_s: 3600,
      // The stored tokens' scopes as the provider answered them (Entra's shape: Graph permissions without the prefix).
      granted_scopes: grantedScopes,
      scenario: 'fresh instance (empty memory), stored access tokens expired, refresh-token rotation on, write policy always',
    };
  } finally {
    cold.internals.broker.close();
    setAppContext(ctx);
  }
}

/** The `target` MSAL stored for the cache's access token: the token response's `scope`, in the provider's shape. */
export function grantedScopesOf(serializedCache: string): string {
  const json = JSON.parse(serializedCache) as { AccessToken?: Record<string, { target?: string }> };
  return Object.values(json.AccessToken ?? {})[0]?.target ?? '';
}
