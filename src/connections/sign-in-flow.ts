import { createHash, randomUUID } from 'node:crypto';
import type { Admin } from '../shared/admin';
import { AppError } from '../shared/errors';
import type { RateLimiter } from '../shared/rate-limit';
import { tenantNotRegisteredRefusal, type TenantAccess } from '../tenants/tenant-access';
import type { MsalClients } from '../tokens/msal-clients';
import { refreshTokenHashOf } from '../tokens/serialized-cache';
import type { TokenBroker } from '../tokens/token-broker';
import { classifyTokenError } from '../tokens/token-errors';
import type { Connection } from './connection';
import { diffConnections, type ConnectionLifecycle } from './connection-lifecycle';
import type { ConnectionRepository } from './connection-repository';
import { signInProblem, type ConnectionAccountPolicy } from './sign-in-checks';
import { refusals, type SignInRefusal } from './sign-in-pages';
import type { SignInIntent, SignInStateStore } from './sign-in-state';

export interface AuthorizeStart {
  authorizeUrl: string;
  expiresAt: string;
}

/** The callback's query; `error_description` is deliberately not read (attacker-editable text). */
export type CallbackQuery = { state?: string; code?: string; error?: string };

export type CallbackOutcome = { ok: true; connection: Connection; reauthorized: boolean } | { ok: false; refusal: SignInRefusal };

/** The account a sign-in proved, as its ID token names it. */
export interface SignedInAccount {
  tenantId: string;
  objectId: string;
  username: string;
}

export interface SignInFlowDeps {
  connections: ConnectionRepository;
  signInStates: SignInStateStore;
  msal: MsalClients;
  broker: Pick<TokenBroker, 'storeSignIn'>;
  lifecycle: Pick<ConnectionLifecycle, 'rewriteTenantConnections'>;
  /** Whether the vendor still serves the state's tenant (registration may end while a sign-in is under way). */
  tenants: Pick<TenantAccess, 'isServed'>;
  /** Which accounts may become connections. */
  policy: ConnectionAccountPolicy;
  /** Sign-ins an administrator may start (AUTHORIZE_LIMIT_PER_MINUTE), keyed by tenant and admin; unlimited without. */
  startLimit?: Pick<RateLimiter, 'take'>;
  now?: () => Date;
}

/**
 * Authorizing a connection: an administrator starts a sign-in (new, or re-authorization of a connection's own
 * account), Microsoft sends the browser back with a code, and the callback turns the signed-in account into a
 * connection. Every refusal leaves connections and tokens untouched.
 */
export class SignInFlow {
  private readonly now: () => Date;

  constructor(private readonly deps: SignInFlowDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  authorize(admin: Admin, displayName?: string): Promise<AuthorizeStart> {
    return this.start({ tenantId: admin.tenantId, adminObjectId: admin.objectId, adminUsername: admin.username, displayName });
  }

  async reauthorize(admin: Admin, id: string): Promise<AuthorizeStart> {
    const connection = await this.deps.connections.get(admin.tenantId, id);
    if (!connection) throw new AppError('not_found', 'Connection not found.');
    return this.start(
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
  async complete(query: CallbackQuery): Promise<CallbackOutcome> {
    // Without a consumed state nothing of the query is shown: anyone can send an admin such a link.
    if (!query.state) return refuse(query.error ? refusals.unmatchedProviderError : refusals.badRequest);
    const consumed = await this.deps.signInStates.consume(query.state);
    if (!consumed.ok) return refuse(consumed.reason === 'expired' ? refusals.expiredState : refusals.unknownState);
    // `error_description` is never shown: only a code that looks like one and our own text for known codes.
    if (query.error) return refuse(refusals.providerError(query.error));
    if (!query.code) return refuse(refusals.badRequest);

    const { intent, codeVerifier, nonce, createdAt } = consumed;
    // Only after the state proved genuine: a forged state must not reveal which tenants are registered.
    if (!(await this.deps.tenants.isServed(intent.tenantId))) return refuse(tenantNotRegisteredRefusal(intent.tenantId));
    const client = await this.deps.msal.create();
    let result;
    try {
      // MSAL checks the state and the id token's nonce itself when both are passed.
      result = await client.acquireTokenByCode(
        {
          code: query.code,
          codeVerifier,
          nonce,
          state: query.state,
          scopes: this.deps.msal.scopes,
          redirectUri: this.deps.msal.redirectUri,
        },
        { code: query.code, state: query.state, nonce },
      );
    } catch (e) {
      return refuse(refusals.redeemFailed(describeRedeemError(e)));
    }
    const claims = (result?.idTokenClaims ?? {}) as Record<string, unknown>;
    if (!result?.account || claims.nonce !== nonce)
      return refuse(refusals.redeemFailed('the sign-in response did not match this request.'));
    const objectId = String(claims.oid ?? '');
    const account: SignedInAccount = {
      tenantId: String(claims.tid ?? '').toLowerCase(),
      objectId,
      username: String(claims.preferred_username ?? result.account.username ?? objectId),
    };
    if (account.tenantId !== intent.tenantId) return refuse(refusals.otherTenant);
    const serializedCache = client.getTokenCache().serialize();
    const problem = signInProblem(
      {
        username: account.username,
        idTokenClaims: claims,
        stateCreatedAt: createdAt,
        hasRefreshToken: refreshTokenHashOf(serializedCache) !== '',
      },
      this.deps.policy,
    );
    if (problem) return refuse(problem);

    let existing: Connection | undefined;
    if (intent.connectionId) {
      existing = await this.deps.connections.get(intent.tenantId, intent.connectionId);
      if (!existing) return refuse(refusals.connectionGone);
      if (account.objectId !== intent.expectedObjectId) return refuse(refusals.otherAccount(existing.account.username));
    } else {
      // A new connection never takes over an account's existing one (its name, its tokens): that is re-authorization.
      const taken = await this.deps.connections.findByAccount(intent.tenantId, account.objectId);
      if (taken) return refuse(refusals.alreadyConnected(taken.account.username, taken.displayName));
    }

    const now = this.now().toISOString();
    const connection = connectionFromSignIn(account, intent, existing, now);
    const { tenantId } = account;
    // Tokens first: a connection row never points at a secret that was not written.
    await this.deps.broker.storeSignIn({ tenantId, id: connection.id, objectId: account.objectId }, serializedCache);
    const { after } = await this.deps.lifecycle.rewriteTenantConnections(
      tenantId,
      (all) => {
        const others = all.filter((c) => c.id !== connection.id);
        const current = all.find((c) => c.id === connection.id);
        const isDefault = current ? current.isDefault : !others.some((c) => c.isDefault);
        // The status history is the stored row's, not the one read before the code was redeemed.
        const statusChangedAt = current?.status === 'active' ? current.statusChangedAt : now;
        return [...others, { ...connection, isDefault, statusChangedAt }];
      },
      {
        by: intent.adminUsername,
        at: now,
        describe: (before, after) => {
          const saved = after.find((c) => c.id === connection.id)!;
          const wasStored = before.some((c) => c.id === connection.id);
          return [
            ...(wasStored ? [{ connection: saved, action: 'reauthorized' as const, details: { username: account.username } }] : []),
            ...diffConnections(before, after),
          ];
        },
      },
    );
    const saved = after.find((c) => c.id === connection.id)!;
    return { ok: true, connection: saved, reauthorized: existing !== undefined };
  }

  private async start(intent: SignInIntent, loginHint?: string): Promise<AuthorizeStart> {
    // Each start writes a Table row: a script or a stuck button must not fill the table.
    const decision = this.deps.startLimit?.take(`${intent.tenantId}/${intent.adminObjectId}`) ?? { allowed: true };
    if (!decision.allowed) {
      const retryAfterSeconds = Math.ceil(decision.retryAfterMs / 1000);
      throw new AppError(
        'throttled',
        `Too many sign-ins started by this administrator in the last minute; try again in ${retryAfterSeconds} s.`,
        { retryAfterSeconds },
      );
    }
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
      // A fresh, interactive sign-in every time: `login` "forces the user to enter their credentials on that request,
      // negating single-sign on" (learn.microsoft.com/entra/identity-platform/msal-js-prompt-behavior). Anyone can edit
      // this URL, so the callback checks the ID token's auth_time as well (sign-in-checks.ts).
      prompt: 'login',
      ...(loginHint ? { loginHint } : {}),
    });
    return { authorizeUrl, expiresAt: started.expiresAt };
  }
}

/**
 * The connection a successful sign-in makes: on re-authorization the connection becomes active again under its id,
 * keeping its name unless the administrator gave one; otherwise a new connection named after the account (a new
 * sign-in as an account that already has a connection is refused before this). `isDefault` and the stored status history are
 * settled against the stored rows when it is saved.
 */
export function connectionFromSignIn(
  account: SignedInAccount,
  intent: Pick<SignInIntent, 'displayName' | 'adminUsername'>,
  existing: Connection | undefined,
  now: string,
  newId: () => string = randomUUID,
): Connection {
  if (existing) {
    return {
      ...existing,
      displayName: intent.displayName ?? existing.displayName,
      account: { ...existing.account, username: account.username },
      status: 'active',
      statusReason: undefined,
      statusChangedAt: existing.status === 'active' ? existing.statusChangedAt : now,
      lastRefreshedAt: now,
    };
  }
  return {
    id: newId(),
    displayName: intent.displayName ?? account.username,
    account: { username: account.username, objectId: account.objectId, tenantId: account.tenantId },
    status: 'active',
    statusChangedAt: now,
    isDefault: false,
    createdAt: now,
    createdBy: intent.adminUsername,
    lastRefreshedAt: now,
  };
}

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
  if (kind === 'application_credentials')
    return "Microsoft sign-in refused this app's own credentials; the app's client secret needs to be renewed by its administrator.";
  return `Microsoft sign-in refused the authorization code${code ? ` (${code})` : ''}.`;
}
