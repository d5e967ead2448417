/**
 * refresh_burst: 200 concurrent getAccessToken calls (what 200 concurrent steps call first) on one connection whose
 * access token has just expired, then the same burst on 4 simulated instances at once (4 TokenBroker instances,
 * each with its own MSAL clients and memory, sharing the Key Vault stand-in and the lease table, as the
 * other engineer's broker tests build them).
 *
 * The local identity provider rotates refresh tokens and revokes the whole grant when a rotated-out refresh token
 * is presented again (as Entra's reuse detection may), so a lost rotation shows as a failed refresh. The proof that
 * none was lost: afterwards each instance forces a refresh in turn (each must use the newest refresh token,
 * whoever stored it), then a brand-new instance refreshes from what the vault holds; every token-endpoint answer of
 * the whole figure must be 200.
 *
 * "Expired": the brokers' clock (their public `now` option) is moved past the access token's expiry after the
 * instances have warmed up, so the same token expires for every instance at the same moment.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { tableNames } from '../../src/config/settings';
import { FABRIKAM_ADMIN, FABRIKAM_SVC, type LocalUser } from '../../src/local/identity-provider/directory';
import { getTokenStats, resetTokenStats } from '../../src/local/identity-provider/launch';
import { MsalClients } from '../../src/tokens/msal-clients';
import { TokenBroker, type ConnectionRef } from '../../src/tokens/token-broker';
import type { TestStack } from '../support/test-stack';
import { expiringIn, note, round, signInCache, type Figure } from './harness';
import { grantedScopesOf } from './token-calls';

const BURST = 200;
const INSTANCES = 4;
/** The stored access token expires this long after sign-in; the clock then jumps past it. */
const TOKEN_LEFT_S = 600;
const EXPIRED_BY_S = 60;

export async function refreshBurst(stack: TestStack): Promise<Figure> {
  const ctx = stack.context;
  let offsetMs = 0;
  const clock = () => Date.now() + offsetMs;
  const leaseTable = () => stack.internals.tables(tableNames(ctx.settings).tokenLeases);
  const brokers: TokenBroker[] = [];
  const refreshes = new Map<TokenBroker, number>();
  const instance = () => {
    const broker: TokenBroker = new TokenBroker({
      secrets: stack.internals.secrets,
      msal: new MsalClients(ctx.settings),
      leaseTable,
      settings: ctx.settings,
      events: { refreshed: () => void refreshes.set(broker, (refreshes.get(broker) ?? 0) + 1) },
      now: clock,
    });
    brokers.push(broker);
    return broker;
  };
  const connect = async (user: LocalUser): Promise<{ ref: ConnectionRef; cache: string }> => ({
    ref: { tenantId: user.tenantId, id: randomUUID(), objectId: user.objectId },
    cache: await signInCache(new MsalClients(ctx.settings), user),
  });
  const refreshCalls = async () => (await getTokenStats(stack.identityProvider.url)).byGrantType.refresh_token ?? 0;
  const reset = async () => {
    stack.vault.resetCounts();
    await resetTokenStats(stack.identityProvider.url);
  };

  try {
    // --- one instance ---
    note(`refresh_burst: ${BURST} concurrent calls on one instance`);
    const one = await connect(FABRIKAM_SVC);
    const a = instance();
    await a.storeSignIn(one.ref, expiringIn(one.cache, TOKEN_LEFT_S));
    const before = await a.getAccessToken(one.ref); // from memory: the sign-in's own token
    await reset();
    offsetMs = (TOKEN_LEFT_S + EXPIRED_BY_S) * 1000;
    const t1 = performance.now();
    const single = await Promise.all(Array.from({ length: BURST }, () => a.getAccessToken(one.ref)));
    const singleMs = performance.now() - t1;
    const singleCalls = await refreshCalls();
    const singleVault = stack.vault.counts();
    if (new Set(single.map((t) => t.token)).size !== 1 || single[0].token === before.token)
      throw new Error('single burst: expected one new token');

    // --- four instances ---
    note(`refresh_burst: ${BURST} concurrent calls on each of ${INSTANCES} instances`);
    offsetMs = 0;
    const many = await connect(FABRIKAM_ADMIN);
    const instances = Array.from({ length: INSTANCES }, () => instance());
    await instances[0].storeSignIn(many.ref, expiringIn(many.cache, TOKEN_LEFT_S));
    const warm = await Promise.all(instances.map((b) => b.getAccessToken(many.ref))); // each other instance reads the vault once
    await reset();
    offsetMs = (TOKEN_LEFT_S + EXPIRED_BY_S) * 1000;
    const t4 = performance.now();
    const burst = await Promise.all(instances.flatMap((b) => Array.from({ length: BURST }, () => b.getAccessToken(many.ref))));
    const manyMs = performance.now() - t4;
    const manyCalls = await refreshCalls();
    const manyVault = stack.vault.counts();
    const distinct = new Set(burst.map((t) => t.token)).size;
    if (burst[0].token === warm[0].token) throw new Error('4-instance burst: the expired token was handed out');
    const perInstance = instances.map((b) => refreshes.get(b) ?? 0);

    // --- no rotated refresh token lost ---
    note('refresh_burst: rotation check (each instance forces a refresh in turn, then a new instance refreshes from the vault)');
    for (const b of instances) await b.getAccessToken(many.ref, { forceRefresh: true });
    const fresh = instance();
    const final = await fresh.getAccessToken(many.ref, { forceRefresh: true });
    const stats = await getTokenStats(stack.identityProvider.url);
    const failed = Object.entries(stats.byStatus)
      .filter(([status]) => status !== '200')
      .reduce((n, [, count]) => n + count, 0);
    const finalOk = final.expiresOn.getTime() > clock() && failed === 0;

    return {
      name: 'refresh_burst',
      burst_per_instance: BURST,
      one_instance: {
        concurrent_calls: BURST,
        token_endpoint_calls: singleCalls,
        target: 1,
        vault_reads: singleVault.reads,
        vault_writes: singleVault.writes,
        distinct_tokens: 1,
        ms: round(singleMs, 1),
      },
      four_instances: {
        instances: INSTANCES,
        concurrent_calls: BURST * INSTANCES,
        token_endpoint_calls: manyCalls,
        target: `<= 1 per instance (<= ${INSTANCES})`,
        refreshes_per_instance: perInstance,
        vault_reads: manyVault.reads,
        vault_writes: manyVault.writes,
        distinct_tokens: distinct,
        ms: round(manyMs, 1),
      },
      rotation_check: {
        rotate_refresh_tokens: true,
        forced_refreshes_after_burst: INSTANCES + 1,
        token_endpoint_calls_total: stats.total,
        token_endpoint_by_status: stats.byStatus,
        failed_refreshes: failed,
        final_refresh_from_vault_ok: finalOk,
      },
      // The stored tokens' scopes as the provider answered them (Entra's shape: Graph permissions without the prefix).
      granted_scopes: grantedScopesOf(one.cache),
      ratio: round(Math.max(singleCalls, manyCalls) / 1),
      met: singleCalls === 1 && manyCalls <= INSTANCES && finalOk,
      runs: 1,
    };
  } finally {
    for (const b of brokers) b.close();
  }
}
