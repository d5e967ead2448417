import { z } from 'zod';
import { connectionStatuses, type Connection } from './connection';
import { SYSTEM_ACTOR, type AuditAction, type AuditDetails } from './connection-audit';
import type { ConnectionOutbox, OutboxEntry } from './connection-outbox';
import type { ConnectionRepository } from './connection-repository';

/** Message on queue `connection-events` (contract, published at /api/schemas/connection-event.json): one per status change of a connection. */
export const connectionStatusChangedSchema = z.strictObject({
  type: z.literal('ConnectionStatusChanged'),
  tenantId: z.string(),
  connectionId: z.string(),
  displayName: z.string(),
  username: z.string(),
  from: z.enum(connectionStatuses),
  to: z.enum([...connectionStatuses, 'deleted']),
  reason: z.string().optional(),
  at: z.iso.datetime(),
});
export type ConnectionStatusChanged = z.infer<typeof connectionStatusChangedSchema>;

/** One audit-worthy change of one connection; `connection` is the row after it (before it, when deleted). */
export interface ConnectionChange {
  connection: Connection;
  action: AuditAction;
  details: AuditDetails;
}

/**
 * What changed between two views of a tenant's connections, as audit actions. Status changes become
 * `marked_needs_reauth` / `reactivated`; a created connection is one `created` entry (its default flag in
 * the details), not also a default change. Re-authorization cannot be seen in rows, so callers add it.
 */
export function diffConnections(
  before: readonly Connection[],
  after: readonly Connection[],
  extra: Partial<Record<AuditAction, AuditDetails>> = {},
): ConnectionChange[] {
  const changes: ConnectionChange[] = [];
  const old = new Map(before.map((c) => [c.id, c]));
  const kept = new Set(after.map((c) => c.id));
  for (const c of after) {
    const b = old.get(c.id);
    if (!b) {
      changes.push({
        connection: c,
        action: 'created',
        details: { username: c.account.username, displayName: c.displayName, isDefault: c.isDefault },
      });
      continue;
    }
    if (b.displayName !== c.displayName)
      changes.push({ connection: c, action: 'renamed', details: { from: b.displayName, to: c.displayName } });
    if (b.isDefault !== c.isDefault)
      changes.push({ connection: c, action: 'default_changed', details: { isDefault: c.isDefault, ...extra.default_changed } });
    if (b.status !== c.status) {
      changes.push(
        c.status === 'needs_reauth'
          ? { connection: c, action: 'marked_needs_reauth', details: { reason: c.statusReason ?? '' } }
          : { connection: c, action: 'reactivated', details: { from: b.status } },
      );
    }
  }
  for (const b of before) {
    if (!kept.has(b.id)) {
      changes.push({
        connection: b,
        action: 'deleted',
        details: { username: b.account.username, displayName: b.displayName, status: b.status, wasDefault: b.isDefault, ...extra.deleted },
      });
    }
  }
  return changes;
}

export interface ConnectionLifecycleDeps {
  connections: Pick<ConnectionRepository, 'transition' | 'rewriteTenantConnections'>;
  outbox: Pick<ConnectionOutbox, 'deliverTenant'>;
  now?: () => Date;
  /** A delivery that failed after the change was stored: the notification stays in the outbox (logged, not thrown). */
  deliveryFailed?: (tenantId: string, error: unknown) => void;
}

/**
 * What a batch of changes must tell the world: one audit entry per change, one `ConnectionStatusChanged` message per
 * status change. Undefined when there is nothing to tell. The message id is stable per change
 * (`<connectionId>:<to>:<at ms>`), so a resend is dropped by Service Bus duplicate detection.
 */
export function outboxEntryFor(tenantId: string, changes: readonly ConnectionChange[], by: string, at: string): OutboxEntry | undefined {
  if (changes.length === 0) return undefined;
  const messages = changes.flatMap((c) => {
    const status = statusChange(c);
    if (!status) return [];
    const body: ConnectionStatusChanged = {
      type: 'ConnectionStatusChanged',
      tenantId,
      connectionId: c.connection.id,
      displayName: c.connection.displayName,
      username: c.connection.account.username,
      ...status,
      at,
    };
    return [
      {
        body,
        messageId: `${c.connection.id}:${status.to}:${Date.parse(at)}`,
        applicationProperties: { type: body.type, tenantId, to: status.to },
      },
    ];
  });
  return {
    at,
    audit: changes.map((c) => ({ connectionId: c.connection.id, at, action: c.action, by, details: c.details })),
    messages,
  };
}

/**
 * Changes connections and records what changed: the audit entries and `ConnectionStatusChanged` messages of a change
 * are written into the tenant's outbox in the same Tables transaction as the change (connection-outbox.ts), then
 * delivered. Only a write that won its ETag check records anything, so each change is recorded and announced once;
 * a crash or a failed send after the write leaves the outbox row, which the tenant's next change and the maintenance
 * timer deliver.
 */
export class ConnectionLifecycle {
  private readonly now: () => Date;

  constructor(private readonly deps: ConnectionLifecycleDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * active -> needs_reauth, written with the row's ETag: only the caller that changes the stored status
   * records and announces it (a broker's grantDead, a keep-alive, a second instance: whoever comes first).
   * False when the connection was already marked or is gone.
   */
  async markNeedsReauth(ref: { tenantId: string; id: string }, reason: string, by = SYSTEM_ACTOR): Promise<boolean> {
    const at = this.now().toISOString();
    const changed = await this.deps.connections.transition(
      ref.tenantId,
      ref.id,
      (c) => (c.status === 'needs_reauth' ? undefined : { ...c, status: 'needs_reauth', statusReason: reason, statusChangedAt: at }),
      (before, after) => outboxEntryFor(ref.tenantId, diffConnections([before], [after]), by, at),
    );
    if (!changed) return false;
    await this.deliver(ref.tenantId);
    return true;
  }

  /**
   * ConnectionRepository.rewriteTenantConnections, recording the changes `describe` finds between the rows it read and the rows it
   * wrote (by default diffConnections) with the write itself.
   */
  async rewriteTenantConnections(
    tenantId: string,
    change: (connections: Connection[]) => Connection[],
    record: { by: string; at?: string; describe?: (before: readonly Connection[], after: readonly Connection[]) => ConnectionChange[] },
  ): Promise<{ before: Connection[]; after: Connection[] }> {
    const at = record.at ?? this.now().toISOString();
    const describe = record.describe ?? ((before, after) => diffConnections(before, after));
    const result = await this.deps.connections.rewriteTenantConnections(tenantId, change, (before, after) =>
      outboxEntryFor(tenantId, describe(before, after), record.by, at),
    );
    await this.deliver(tenantId);
    return result;
  }

  /** Delivers the tenant's pending outbox rows (this change's and any a crash left). Never throws: they stay pending. */
  async deliver(tenantId: string): Promise<void> {
    try {
      const { failed } = await this.deps.outbox.deliverTenant(tenantId);
      if (failed) this.deps.deliveryFailed?.(tenantId, new Error(`${failed} connection notification(s) left pending`));
    } catch (e) {
      this.deps.deliveryFailed?.(tenantId, e);
    }
  }
}

function statusChange(c: ConnectionChange): Pick<ConnectionStatusChanged, 'from' | 'to' | 'reason'> | undefined {
  switch (c.action) {
    case 'marked_needs_reauth':
      return { from: 'active', to: 'needs_reauth', ...(c.connection.statusReason ? { reason: c.connection.statusReason } : {}) };
    case 'reactivated':
      return { from: 'needs_reauth', to: 'active' };
    case 'deleted':
      return { from: c.connection.status, to: 'deleted' };
    default:
      return undefined;
  }
}
