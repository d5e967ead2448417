import type { MessageSender } from '../adapters/message-queue';
import { queueNames } from '../config/queues';
import type { Connection, ConnectionStatus } from './connection';
import { SYSTEM_ACTOR, type AuditAction, type AuditDetails, type ConnectionAuditLog } from './connection-audit';
import type { ConnectionRepository } from './connection-repository';

/** Message on queue `connection-events` (contract): one per status change of a connection. */
export interface ConnectionStatusChanged {
  type: 'ConnectionStatusChanged';
  tenantId: string;
  connectionId: string;
  displayName: string;
  username: string;
  from: ConnectionStatus;
  to: ConnectionStatus | 'deleted';
  reason?: string;
  at: string;
}

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
  connections: ConnectionRepository;
  audit: ConnectionAuditLog;
  sender: MessageSender;
  now?: () => Date;
}

/**
 * Records connection changes: an audit entry per change, and a `ConnectionStatusChanged` message per status
 * change. Callers pass only changes they actually wrote (a conditional write they won), so each change is
 * recorded and announced once; the message id is stable per change, so a resend is dropped by Service Bus
 * duplicate detection.
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
    const changed = await this.deps.connections.transition(ref.tenantId, ref.id, (c) =>
      c.status === 'needs_reauth' ? undefined : { ...c, status: 'needs_reauth', statusReason: reason, statusChangedAt: at },
    );
    if (!changed) return false;
    await this.record(ref.tenantId, diffConnections([changed.before], [changed.after]), by, at);
    return true;
  }

  /** Audits `changes` (one batch per tenant) and announces their status changes. */
  async record(tenantId: string, changes: readonly ConnectionChange[], by: string, at = this.now().toISOString()): Promise<void> {
    if (changes.length === 0) return;
    await this.deps.audit.record(
      tenantId,
      changes.map((c) => ({ connectionId: c.connection.id, at, action: c.action, by, details: c.details })),
    );
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
    if (messages.length) await this.deps.sender.send(queueNames.connectionEvents, messages);
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
