import type { TenantRegistry } from '../tenants/tenant-registry';
import type { TokenBrokerEvents } from '../tokens/token-broker';
import { tenantAppRefusalIn } from '../tokens/token-errors';
import type { ConnectionLifecycle } from './connection-lifecycle';
import type { ConnectionRepository } from './connection-repository';

/**
 * When a refresh shows that a customer's tenant removed (AADSTS700016) or disabled (AADSTS7000112) the enterprise
 * application, every connection of that tenant is dead for the same reason, and nothing is wrong with the vendor's
 * credential: the tenant's consent state becomes `withdrawn` in the registry (what the operator sees with
 * `npm run tenant -- show`), and the tenant's other active connections go to `needs_reauth` with that reason now rather
 * than one by one at their next refresh. Other tenants and the vendor-wide credentials alert are untouched.
 */
export function tenantAppRefusalBookkeeping(deps: {
  registry: Pick<TenantRegistry, 'get' | 'setConsent'>;
  connections: Pick<ConnectionRepository, 'list'>;
  lifecycle: Pick<ConnectionLifecycle, 'markNeedsReauth'>;
  grantDead: NonNullable<TokenBrokerEvents['grantDead']>;
}): NonNullable<TokenBrokerEvents['grantDead']> {
  return async (ref, reason) => {
    await deps.grantDead(ref, reason);
    const code = tenantAppRefusalIn(reason);
    if (code === undefined) return;
    const registration = await deps.registry.get(ref.tenantId);
    if (registration && registration.consentState !== 'withdrawn') {
      await deps.registry.setConsent(ref.tenantId, 'withdrawn', `Microsoft Entra ID (AADSTS${code} at a connection refresh)`);
    }
    for (const connection of await deps.connections.list(ref.tenantId)) {
      if (connection.status === 'active') await deps.lifecycle.markNeedsReauth({ tenantId: ref.tenantId, id: connection.id }, reason);
    }
  };
}
