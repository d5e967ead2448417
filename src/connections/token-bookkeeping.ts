import type { TokenBrokerEvents } from '../tokens/token-broker';
import type { ConnectionLifecycle } from './connection-lifecycle';
import type { ConnectionRepository } from './connection-repository';

/**
 * What a connection's row records when the token broker reports on it: `lastRefreshedAt` after a refresh,
 * `lastUsedAt` when a token is handed out for a use (keep-alive refreshes are not uses and are not reported), and
 * `needs_reauth` when the grant is dead — conditional on the stored status, so the change is audited and announced
 * once across instances.
 */
export function connectionBookkeeping(deps: {
  connections: Pick<ConnectionRepository, 'patch'>;
  lifecycle: Pick<ConnectionLifecycle, 'markNeedsReauth'>;
}): Required<Pick<TokenBrokerEvents, 'refreshed' | 'grantDead' | 'used'>> {
  return {
    refreshed: (ref, at) => deps.connections.patch(ref.tenantId, ref.id, { lastRefreshedAt: at.toISOString() }).then(() => undefined),
    grantDead: (ref, reason) => deps.lifecycle.markNeedsReauth(ref, reason).then(() => undefined),
    used: (ref, at) => deps.connections.patch(ref.tenantId, ref.id, { lastUsedAt: at.toISOString() }).then(() => undefined),
  };
}
