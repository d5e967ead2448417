import { connectionSecretName, type SecretStore } from '../adapters/secret-store';
import type { Admin } from '../shared/admin';
import { AppError } from '../shared/errors';
import type { ProcessRepository } from '../processes/process-repository';
import { TokenAcquisitionError, type TokenBroker } from '../tokens/token-broker';
import { isDeadGrant } from '../tokens/token-errors';
import type { Connection, ConnectionStatus } from './connection';
import { SYSTEM_ACTOR, type AuditEntry, type ConnectionAuditLog } from './connection-audit';
import { diffConnections, type ConnectionLifecycle } from './connection-lifecycle';
import type { ConnectionRepository } from './connection-repository';
import { connectionUsage, type ConnectionUsage } from './connection-usage';

export type TestOutcome = { ok: true; expiresOn: string } | { ok: false; status: Connection['status'] | 'unavailable'; reason: string };

export interface ConnectionUpdate {
  displayName?: string;
  isDefault?: boolean;
}

export interface ConnectionServiceDeps {
  connections: ConnectionRepository;
  broker: Pick<TokenBroker, 'getAccessToken' | 'discard'>;
  secrets: SecretStore;
  /** For impact analysis (usage) before a delete. */
  processes: ProcessRepository;
  lifecycle: ConnectionLifecycle;
  audit: ConnectionAuditLog;
  /**
   * Revokes the account's sign-in sessions at Entra with the connection's own access token (Graph
   * revokeSignInSessions); throws an AppError saying why it could not. Without it, `revokeSessions` is refused.
   */
  revokeSignInSessions?: (accessToken: string, idempotencyKey: string) => Promise<void>;
  now?: () => Date;
}

/**
 * An MSAL token cache with no account and no token: written as the secret's last version before it is deleted, so a
 * recovered (soft-deleted) secret's current version holds no refresh token.
 */
export const EMPTY_TOKEN_CACHE = JSON.stringify({ Account: {}, IdToken: {}, AccessToken: {}, RefreshToken: {}, AppMetadata: {} });

/** DELETE of a connection that processes still reference, without `force`: 409 with the references. */
export class ConnectionInUseError extends AppError {
  constructor(readonly usage: ConnectionUsage) {
    super(
      'conflict',
      `The connection is used by ${usage.references.length} process reference(s); change them first, or delete with force=true (runs of processes that name it then fail until they are changed).`,
    );
    this.name = 'ConnectionInUseError';
  }
}

/** What an administrator can do with the connections of their tenant (authorizing them: sign-in-flow.ts). */
export class ConnectionService {
  private readonly now: () => Date;

  constructor(private readonly deps: ConnectionServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async list(admin: Admin, filter: { status?: ConnectionStatus } = {}): Promise<Connection[]> {
    const all = await this.deps.connections.list(admin.tenantId);
    return filter.status ? all.filter((c) => c.status === filter.status) : all;
  }

  async get(admin: Admin, id: string): Promise<Connection> {
    const connection = await this.deps.connections.get(admin.tenantId, id);
    if (!connection) throw notFound();
    return connection;
  }

  async update(admin: Admin, id: string, update: ConnectionUpdate): Promise<Connection> {
    await this.get(admin, id);
    const { after } = await this.deps.lifecycle.rewriteTenantConnections(
      admin.tenantId,
      (connections) => {
        if (!connections.some((c) => c.id === id)) throw notFound();
        return connections.map((c) => {
          const isTarget = c.id === id;
          const isDefault = update.isDefault === true ? isTarget : update.isDefault === false && isTarget ? false : c.isDefault;
          return { ...c, ...(isTarget && update.displayName !== undefined ? { displayName: update.displayName } : {}), isDefault };
        });
      },
      { by: admin.username },
    );
    return after.find((c) => c.id === id)!;
  }

  /** Which processes (draft and latest published version) would be affected by deleting the connection. */
  async usage(admin: Admin, id: string): Promise<ConnectionUsage> {
    const connection = await this.get(admin, id);
    return connectionUsage(connection.id, connection.isDefault, await this.deps.processes.list(admin.tenantId));
  }

  /**
   * Deletes the connection and its tokens; the default moves to another connection. Refused (409) while
   * processes reference it, unless forced: publishing such a process then fails validation (422), and its
   * runs fail with the reason (or, for default references, run as the new default).
   */
  async delete(admin: Admin, id: string, options: { force?: boolean; revokeSessions?: boolean } = {}): Promise<void> {
    const usage = await this.usage(admin, id);
    if (usage.references.length > 0 && !options.force) throw new ConnectionInUseError(usage);
    if (options.revokeSessions) await this.revokeSessions(admin, id);
    const secretName = connectionSecretName(admin.tenantId, id);
    // The secret goes first: a failure here leaves the connection listed, so the admin can retry. Deleting a Key Vault
    // secret only soft-deletes it (recoverable for the retention period; purge protection forbids purging it early),
    // so its current version is overwritten with an empty cache first: a recovered secret holds no refresh token in its
    // current version. Older versions stay with it; the Entra-side revocation is what makes their refresh tokens useless.
    await this.deps.secrets.set(secretName, EMPTY_TOKEN_CACHE);
    await this.deps.secrets.delete(secretName);
    // Also drops the lease row, so other instances stop using tokens they still hold for it.
    await this.deps.broker.discard({ tenantId: admin.tenantId, id });
    await this.deps.lifecycle.rewriteTenantConnections(
      admin.tenantId,
      (all) => {
        // Gone already: a concurrent delete won, and it alone records and announces the deletion.
        const target = all.find((c) => c.id === id);
        if (!target) throw notFound();
        const rest = all.filter((c) => c.id !== id);
        if (target.isDefault && rest.length > 0 && !rest.some((c) => c.isDefault)) rest[0] = { ...rest[0], isDefault: true };
        return rest;
      },
      {
        by: admin.username,
        describe: (before, after) =>
          diffConnections(before, after, {
            deleted: {
              references: usage.references.length,
              forced: options.force === true,
              ...(options.revokeSessions ? { sessionsRevoked: true } : {}),
            },
            default_changed: { previousDefault: id, because: 'the previous default connection was deleted' },
          }),
      },
    );
  }

  /** Revokes the account's sessions with the connection's own token before its deletion; refused with the reason otherwise. */
  private async revokeSessions(admin: Admin, id: string): Promise<void> {
    const revoke = this.deps.revokeSignInSessions;
    if (!revoke) throw new AppError('conflict', 'Revoking sessions is not available in this deployment; nothing was deleted.');
    const connection = await this.get(admin, id);
    let token;
    try {
      token = await this.deps.broker.getAccessToken({ tenantId: admin.tenantId, id, objectId: connection.account.objectId });
    } catch (e) {
      if (!(e instanceof TokenAcquisitionError)) throw e;
      throw new AppError(
        isDeadGrant(e) ? 'conflict' : 'unavailable',
        `The connection's token could not be acquired to revoke its sessions (${e.failure.reason}); nothing was deleted. ` +
          'Delete without revokeSessions and revoke the sessions in Microsoft Entra (Users > the account > Revoke sessions).',
      );
    }
    await revoke(token.token, `revoke-sessions:${admin.tenantId}:${id}`);
  }

  /**
   * The connection's audit log, newest first. Entries outlive the connection, so this still answers after a
   * delete; 404 only when the tenant never had such a connection.
   */
  async audit(admin: Admin, id: string, limit?: number): Promise<AuditEntry[]> {
    const entries = await this.deps.audit.list(admin.tenantId, id, limit);
    if (entries.length === 0) await this.get(admin, id);
    return entries;
  }

  /** Acquires a fresh access token now, proving the stored refresh token still works (recorded as lastRefreshedAt, not as a use). */
  async test(admin: Admin, id: string): Promise<TestOutcome> {
    const connection = await this.get(admin, id);
    try {
      const token = await this.deps.broker.getAccessToken(
        { tenantId: admin.tenantId, id, objectId: connection.account.objectId },
        // An administrator's check is not a use ("Last used" would then hide that no process runs as it): the broker's
        // `keep-alive` purpose is exactly a refresh that proves the grant without reporting a use.
        { forceRefresh: true, purpose: 'keep-alive' },
      );
      return { ok: true, expiresOn: token.expiresOn.toISOString() };
    } catch (e) {
      if (!(e instanceof TokenAcquisitionError)) throw e;
      if (e.failure.kind !== 'dead_grant') return { ok: false, status: 'unavailable', reason: e.failure.reason };
      // Usually already marked by the broker's grantDead; this covers a grant another instance found dead.
      await this.deps.lifecycle.markNeedsReauth({ tenantId: admin.tenantId, id }, e.failure.reason, SYSTEM_ACTOR);
      return { ok: false, status: 'needs_reauth', reason: e.failure.reason };
    }
  }
}

const notFound = () => new AppError('not_found', 'Connection not found.');
