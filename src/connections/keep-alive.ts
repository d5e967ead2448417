import { TokenAcquisitionError, type TokenBroker } from '../tokens/token-broker';
import { isDeadGrant } from '../tokens/token-errors';
import type { TenantAccess } from '../tenants/tenant-access';
import type { Connection } from './connection';
import { SYSTEM_ACTOR } from './connection-audit';
import type { ConnectionLifecycle } from './connection-lifecycle';
import type { ConnectionRepository } from './connection-repository';
import type { SignInStateStore } from './sign-in-state';

export interface KeepAliveDeps {
  connections: Pick<ConnectionRepository, 'listActiveAcrossTenants'>;
  broker: Pick<TokenBroker, 'getAccessToken'>;
  lifecycle: Pick<ConnectionLifecycle, 'markNeedsReauth'>;
  /** Expired sign-in states are removed on each run (they are refused anyway; this keeps the table from growing). */
  signInStates?: Pick<SignInStateStore, 'purgeExpired'>;
  /** The registry: connections of a tenant the vendor no longer serves are not refreshed (they die of inactivity). */
  tenants?: Pick<TenantAccess, 'isServed'>;
  /** Refresh connections neither refreshed nor used for this many days (KEEPALIVE_IDLE_DAYS). */
  idleDays: number;
  now?: () => Date;
  /** Refreshes in parallel; small, so a big run never bursts the token endpoint. Default 4. */
  concurrency?: number;
}

export interface KeepAliveReport {
  at: string;
  /** Active connections across all tenants. */
  active: number;
  /** Of those, idle for at least idleDays: the ones refreshed. */
  idle: number;
  refreshed: { tenantId: string; id: string }[];
  /** Dead grants: now `needs_reauth`. */
  needsReauth: { tenantId: string; id: string; reason: string }[];
  /** Idle connections of tenants no longer registered: not refreshed. */
  skipped: { tenantId: string; id: string }[];
  /** Transient failures (provider, vault, tables): status unchanged, tried again next run. */
  failed: { tenantId: string; id: string; reason: string }[];
  /** Expired sign-in states removed, or why they could not be (tried again next run). */
  purgedSignInStates: number | { failed: string };
}

const dayMs = 24 * 3600_000;

/** When the refresh token was last exercised, as far as the row knows (a use implies a recent refresh). */
const lastActivity = (c: Connection) => Math.max(Date.parse(c.lastRefreshedAt ?? c.createdAt), c.lastUsedAt ? Date.parse(c.lastUsedAt) : 0);

/**
 * Keeps refresh tokens from dying of inactivity (Entra ID's sliding window) by refreshing, across all
 * tenants, the active connections that nothing refreshed or used for `idleDays`. The refresh is forced: a
 * cached access token would otherwise be handed back without the refresh token ever being presented, which
 * neither extends its life nor reveals a revoked grant. A dead grant marks the connection `needs_reauth`
 * (the broker's grantDead usually does so first; marking is conditional, so it is recorded once); a
 * transient failure changes nothing and is simply tried again on the next run.
 */
export class KeepAlive {
  private readonly now: () => Date;

  constructor(private readonly deps: KeepAliveDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async run(): Promise<KeepAliveReport> {
    const now = this.now();
    const cutoff = now.getTime() - this.deps.idleDays * dayMs;
    const active = await this.deps.connections.listActiveAcrossTenants();
    const idle = active.filter((c) => lastActivity(c) <= cutoff);
    const report: KeepAliveReport = {
      at: now.toISOString(),
      active: active.length,
      idle: idle.length,
      refreshed: [],
      needsReauth: [],
      skipped: [],
      failed: [],
      purgedSignInStates: 0,
    };
    const queue = [...idle];
    const worker = async () => {
      for (let c = queue.shift(); c; c = queue.shift()) await this.refresh(c, report);
    };
    await Promise.all(Array.from({ length: Math.max(1, this.deps.concurrency ?? 4) }, worker));
    try {
      report.purgedSignInStates = (await this.deps.signInStates?.purgeExpired()) ?? 0;
    } catch (e) {
      report.purgedSignInStates = { failed: `${(e as Error)?.name ?? 'Error'} while purging expired sign-in states` };
    }
    return report;
  }

  private async refresh(c: Connection, report: KeepAliveReport): Promise<void> {
    const tenantId = c.account.tenantId;
    try {
      // A removed registration ends the service: its grants are left to expire rather than kept alive.
      if (this.deps.tenants && !(await this.deps.tenants.isServed(tenantId))) return void report.skipped.push({ tenantId, id: c.id });
      // Not a use: recording it as `lastUsedAt` would make unused connections look used.
      await this.deps.broker.getAccessToken(
        { tenantId, id: c.id, objectId: c.account.objectId },
        { forceRefresh: true, purpose: 'keep-alive' },
      );
      report.refreshed.push({ tenantId, id: c.id });
    } catch (e) {
      if (isDeadGrant(e)) {
        try {
          await this.deps.lifecycle.markNeedsReauth({ tenantId, id: c.id }, e.failure.reason, SYSTEM_ACTOR);
        } catch {
          // The next run (or the next step) finds the grant dead again and records it then.
        }
        report.needsReauth.push({ tenantId, id: c.id, reason: e.failure.reason });
        return;
      }
      const reason = e instanceof TokenAcquisitionError ? e.failure.reason : `Unexpected ${(e as Error)?.name ?? 'error'} during refresh.`;
      report.failed.push({ tenantId, id: c.id, reason });
    }
  }
}
