import { createHash, randomUUID } from 'node:crypto';
import { connectionSecretName, type SecretStore } from '../adapters/secret-store';
import type { Admin } from '../shared/admin';
import { AppError } from '../shared/errors';
import type { ProcessRepository } from '../processes/process-repository';
import type { MsalClients } from '../tokens/msal-clients';
import { TokenAcquisitionError, type TokenBroker } from '../tokens/token-broker';
import { classifyTokenError } from '../tokens/token-errors';
import type { Connection, ConnectionStatus } from './connection';
import { SYSTEM_ACTOR, type AuditEntry, type ConnectionAuditLog } from './connection-audit';
import { diffConnections, type ConnectionLifecycle } from './connection-lifecycle';
import type { ConnectionRepository } from './connection-repository';
import { connectionUsage, type ConnectionUsage } from './connection-usage';
import { refusals, type SignInRefusal } from './sign-in-pages';
import type { SignInStateStore } from './sign-in-state';

export interface AuthorizeStart {
  authorizeUrl: string;
  expiresAt: string;
}

export type CallbackQuery = { state?: string; code?: string; error?: string; error_description?: string };

export type CallbackOutcome =
  | { ok: true; connection: Connection; reauthorized: boolean }
  | { ok: false; refusal: SignInRefusal };

export type TestOutcome = { ok: true; expiresOn: string } | { ok: false; status: Connection['status'] | 'unavailable'; reason: string };

export interface ConnectionUpdate {
  displayName?: string;
  isDefault?: boolean;
}

export interface ConnectionServiceDeps {
  connections: ConnectionRepository;
  signInStates: SignInStateStore;
  msal: MsalClients;
  broker: TokenBroker;
  secrets: SecretStore;
  /** For impact analysis (usage) before a delete. */
  processes: ProcessRepository;
  lifecycle: ConnectionLifecycle;
  audit: ConnectionAuditLog;
  now?: () => Date;
}

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

/** What an administrator can do with the connections of their tenant. */
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

  async authorize(admin: Admin, displayName?: string): Promise<AuthorizeStart> {
    return this.startSignIn({ tenantId: admin.tenantId, adminObjectId: admin.objectId, adminUsername: admin.username, displayName });
  }

  async reauthorize(admin: Admin, id: string): Promise<AuthorizeStart> {
    const connection = await this.get(admin, id);
    return this.startSignIn(
      {
        tenantId: admin.tenantId,
        adminObjectId: admin.objectId,
        adminUsername: admin.username,
        connectionId: connection.id,
        expectedObjectId: connection.account.objectId,
      },
      connection.account.username,
    );
  }

  /** Redeems the authorization code of a callback; every refusal leaves connections and tokens untouched. */
  async completeSignIn(query: CallbackQuery): Promise<CallbackOutcome> {
    if (!query.state) return refuse(query.error ? refusals.providerError(query.error, query.error_description) : refusals.badRequest);
    const consumed = await this.deps.signInStates.consume(query.state);
    if (!consumed.ok) return refuse(consumed.reason === 'expired' ? refusals.expiredState : refusals.unknownState);
    if (query.error) return refuse(refusals.providerError(query.error, query.error_description));
    if (!query.code) return refuse(refusals.badRequest);

    const { intent, codeVerifier, nonce } = consumed;
    const client = await this.deps.msal.create();
    let result;
    try {
      // MSAL checks the state and the id token's nonce itself when both are passed.
      result = await client.acquireTokenByCode(
        { code: query.code, codeVerifier, nonce, state: query.state, scopes: this.deps.msal.scopes, redirectUri: this.deps.msal.redirectUri },
        { code: query.code, state: query.state, nonce },
      );
    } catch (e) {
      return refuse(refusals.redeemFailed(describeRedeemError(e)));
    }
    const claims = (result?.idTokenClaims ?? {}) as Record<string, unknown>;
    if (!result?.account || claims.nonce !== nonce) return refuse(refusals.redeemFailed('the sign-in response did not match this request.'));
    const tenantId = String(claims.tid ?? '').toLowerCase();
    const objectId = String(claims.oid ?? '');
    const username = String(claims.preferred_username ?? result.account.username ?? objectId);
    if (tenantId !== intent.tenantId) return refuse(refusals.otherTenant);

    let existing: Connection | undefined;
    if (intent.connectionId) {
      existing = await this.deps.connections.get(intent.tenantId, intent.connectionId);
      if (!existing) return refuse(refusals.connectionGone);
      if (objectId !== intent.expectedObjectId) return refuse(refusals.otherAccount(existing.account.username));
    } else {
      existing = await this.deps.connections.findByAccount(intent.tenantId, objectId);
    }

    const now = this.now().toISOString();
    const connection: Connection = existing
      ? {
          ...existing,
          displayName: intent.displayName ?? existing.displayName,
          account: { ...existing.account, username },
          status: 'active',
          statusReason: undefined,
          statusChangedAt: existing.status === 'active' ? existing.statusChangedAt : now,
          lastRefreshedAt: now,
        }
      : {
          id: randomUUID(),
          displayName: intent.displayName ?? username,
          account: { username, objectId, tenantId },
          status: 'active',
          statusChangedAt: now,
          isDefault: false,
          createdAt: now,
          createdBy: intent.adminUsername,
          lastRefreshedAt: now,
        };

    // Tokens first: a connection row never points at a secret that was not written.
    await this.deps.broker.storeSignIn({ tenantId, id: connection.id, objectId }, client.getTokenCache().serialize());
    const { before, after } = await this.deps.connections.changeTenant(tenantId, (all) => {
      const others = all.filter((c) => c.id !== connection.id);
      const current = all.find((c) => c.id === connection.id);
      const isDefault = current ? current.isDefault : !others.some((c) => c.isDefault);
      // The status history is the stored row's, not the one read before the code was redeemed.
      const statusChangedAt = current?.status === 'active' ? current.statusChangedAt : now;
      return [...others, { ...connection, isDefault, statusChangedAt }];
    });
    const saved = after.find((c) => c.id === connection.id)!;
    const wasStored = before.some((c) => c.id === connection.id);
    await this.deps.lifecycle.record(
      tenantId,
      [
        ...(wasStored ? [{ connection: saved, action: 'reauthorized' as const, details: { username } }] : []),
        ...diffConnections(before, after),
      ],
      intent.adminUsername,
      now,
    );
    return { ok: true, connection: saved, reauthorized: existing !== undefined };
  }

  async update(admin: Admin, id: string, update: ConnectionUpdate): Promise<Connection> {
    await this.get(admin, id);
    const { before, after } = await this.deps.connections.changeTenant(admin.tenantId, (connections) => {
      if (!connections.some((c) => c.id === id)) throw notFound();
      return connections.map((c) => {
        const isTarget = c.id === id;
        const isDefault =
          update.isDefault === true ? isTarget : update.isDefault === false && isTarget ? false : c.isDefault;
        return { ...c, ...(isTarget && update.displayName !== undefined ? { displayName: update.displayName } : {}), isDefault };
      });
    });
    await this.deps.lifecycle.record(admin.tenantId, diffConnections(before, after), admin.username);
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
  async delete(admin: Admin, id: string, options: { force?: boolean } = {}): Promise<void> {
    const usage = await this.usage(admin, id);
    if (usage.references.length > 0 && !options.force) throw new ConnectionInUseError(usage);
    // The secret goes first: a failure here leaves the connection listed, so the admin can retry.
    await this.deps.secrets.delete(connectionSecretName(admin.tenantId, id));
    // Also drops the lease row, so other instances stop using tokens they still hold for it.
    await this.deps.broker.discard({ tenantId: admin.tenantId, id });
    const { before, after } = await this.deps.connections.changeTenant(admin.tenantId, (all) => {
      // Gone already: a concurrent delete won, and it alone records and announces the deletion.
      const target = all.find((c) => c.id === id);
      if (!target) throw notFound();
      const rest = all.filter((c) => c.id !== id);
      if (target.isDefault && rest.length > 0 && !rest.some((c) => c.isDefault)) rest[0] = { ...rest[0], isDefault: true };
      return rest;
    });
    await this.deps.lifecycle.record(
      admin.tenantId,
      diffConnections(before, after, {
        deleted: { references: usage.references.length, forced: options.force === true },
        default_changed: { previousDefault: id, because: 'the previous default connection was deleted' },
      }),
      admin.username,
    );
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

  /** Acquires a fresh access token now, proving the stored refresh token still works. */
  async test(admin: Admin, id: string): Promise<TestOutcome> {
    const connection = await this.get(admin, id);
    try {
      const token = await this.deps.broker.getAccessToken(
        { tenantId: admin.tenantId, id, objectId: connection.account.objectId },
        { forceRefresh: true },
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

  private async startSignIn(intent: Parameters<SignInStateStore['start']>[0], loginHint?: string): Promise<AuthorizeStart> {
    const started = await this.deps.signInStates.start(intent);
    const client = await this.deps.msal.create();
    const authorizeUrl = await client.getAuthCodeUrl({
      scopes: this.deps.msal.scopes,
      redirectUri: this.deps.msal.redirectUri,
      state: started.state,
      nonce: started.nonce,
      codeChallenge: createHash('sha256').update(started.codeVerifier).digest('base64url'),
      codeChallengeMethod: 'S256',
      responseMode: 'query',
      ...(loginHint ? { loginHint } : { prompt: 'select_account' }),
    });
    return { authorizeUrl, expiresAt: started.expiresAt };
  }
}

const notFound = () => new AppError('not_found', 'Connection not found.');

const refuse = (refusal: SignInRefusal): CallbackOutcome => ({ ok: false, refusal });

/**
 * Why a code could not be redeemed, in sign-in words (token-refresh wording such as "re-authorize the
 * connection" would mislead here). Only MSAL's error code is used: its messages can quote the request.
 */
function describeRedeemError(e: unknown): string {
  const code = String((e as { errorCode?: string })?.errorCode ?? '');
  if (/nonce|state/.test(code)) return 'the sign-in response did not match this request.';
  const kind = classifyTokenError(e).kind;
  if (kind === 'transient') return 'Microsoft sign-in is temporarily unavailable; try again in a moment.';
  // The app registration's own credentials (client secret) failed: no account or sign-in can fix that.
  if (kind === 'application_credentials') return "Microsoft sign-in refused this app's own credentials; the app's client secret needs to be renewed by its administrator.";
  return `Microsoft sign-in refused the authorization code${code ? ` (${code})` : ''}.`;
}
