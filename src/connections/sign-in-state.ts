import { createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { TableFactory } from '../adapters/tables';
import { getEntityOrUndefined, statusOf, withoutUndefined } from '../adapters/tables';
import type { SignInStateKeys } from './sign-in-state-key';

export const signInStateLifetimeMs = 10 * 60 * 1000;

/** What an admin asked for when starting a sign-in; stored server-side, bound to the admin's tenant. */
export interface SignInIntent {
  tenantId: string;
  adminObjectId: string;
  adminUsername: string;
  displayName?: string;
  /** Set for re-authorization: the connection whose tokens a sign-in as the same account replaces. */
  connectionId?: string;
  expectedObjectId?: string;
}

export interface StartedSignIn {
  /** The `state` parameter: `<tenantId>.<key version>.<random>`; the tenant names the Table partition. */
  state: string;
  nonce: string;
  codeVerifier: string;
  expiresAt: string;
}

export type ConsumeResult =
  { ok: true; intent: SignInIntent; nonce: string; codeVerifier: string; createdAt: string } | { ok: false; reason: 'unknown' | 'expired' };

type StateRow = SignInIntent & { partitionKey: string; rowKey: string; expiresAt: string; createdAt?: string };

/**
 * Single-use sign-in states. The row holds only the intent and a hash of the state; the PKCE
 * verifier and nonce are derived from the state with a key kept in Key Vault (sign-in-state-key.ts),
 * so no Table row ever holds a value that could redeem an authorization code. The key is not the
 * client secret, so rotating the client secret leaves sign-ins in progress intact.
 */
export class SignInStateStore {
  constructor(
    private readonly tables: TableFactory,
    private readonly tableName: string,
    private readonly keys: SignInStateKeys,
    private readonly now: () => number = Date.now,
  ) {}

  async start(intent: SignInIntent): Promise<StartedSignIn> {
    const { version, key } = await this.keys.current();
    const random = randomBytes(32).toString('base64url');
    const now = this.now();
    const expiresAt = new Date(now + signInStateLifetimeMs).toISOString();
    // createdAt: a connection's sign-in must have happened after it (auth_time, sign-in-checks.ts).
    const row: StateRow = {
      ...withoutUndefined(intent),
      partitionKey: intent.tenantId,
      rowKey: hashOf(version, random),
      expiresAt,
      createdAt: new Date(now).toISOString(),
    };
    await (await this.tables(this.tableName)).createEntity(row);
    return { state: `${intent.tenantId}.${version}.${random}`, ...derive(key, random), expiresAt };
  }

  /** Redeems a state once: the row is deleted with its ETag, so a replay finds nothing. */
  async consume(state: string): Promise<ConsumeResult> {
    const parsed = parseState(state);
    if (!parsed) return { ok: false, reason: 'unknown' };
    const { tenantId, version, random } = parsed;
    // Read before the row is consumed: a vault outage then leaves the sign-in retryable.
    const key = await this.keys.byVersion(version);
    if (!key) return { ok: false, reason: 'unknown' };
    const table = await this.tables(this.tableName);
    const row = await getEntityOrUndefined<StateRow>(table, tenantId, hashOf(version, random));
    if (!row) return { ok: false, reason: 'unknown' };
    try {
      await table.deleteEntity(tenantId, row.rowKey, { etag: row.etag });
    } catch (e) {
      if (statusOf(e) === 404 || statusOf(e) === 412) return { ok: false, reason: 'unknown' };
      throw e;
    }
    if (Date.parse(row.expiresAt) <= this.now()) return { ok: false, reason: 'expired' };
    const intent: SignInIntent = {
      tenantId,
      adminObjectId: row.adminObjectId,
      adminUsername: row.adminUsername,
      ...(row.displayName ? { displayName: row.displayName } : {}),
      ...(row.connectionId ? { connectionId: row.connectionId, expectedObjectId: row.expectedObjectId } : {}),
    };
    // Rows written before createdAt existed: their creation follows from the fixed lifetime.
    const createdAt = row.createdAt ?? new Date(Date.parse(row.expiresAt) - signInStateLifetimeMs).toISOString();
    return { ok: true, intent, createdAt, ...derive(key, random) };
  }

  /** Removes expired states (they are refused anyway; this only keeps the table small). */
  async purgeExpired(): Promise<number> {
    const table = await this.tables(this.tableName);
    const cutoff = new Date(this.now()).toISOString();
    let removed = 0;
    for await (const row of table.listEntities<StateRow>({ queryOptions: { filter: `expiresAt lt '${cutoff}'` } })) {
      await table.deleteEntity(row.partitionKey!, row.rowKey!).catch(() => undefined);
      removed++;
    }
    return removed;
  }
}

/** The PKCE verifier (63 characters, RFC 7636 allows 43-128) and nonce of a state: never stored anywhere. */
export function derive(stateKey: Buffer, random: string): { codeVerifier: string; nonce: string } {
  const key = Buffer.from(hkdfSync('sha256', stateKey, 'connections', 'sign-in-state/v2', 32));
  const mac = (label: string) => createHmac('sha256', key).update(`${label}:${random}`).digest('base64url');
  return { codeVerifier: mac('pkce') + mac('pkce2').slice(0, 20), nonce: mac('nonce') };
}

/** A state's key version and random part, for code that needs to recompute what `derive` gives (tests). */
export function parseState(state: string): { tenantId: string; version: string; random: string } | undefined {
  const m = /^([0-9a-f-]{36})\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$/.exec(state);
  return m ? { tenantId: m[1], version: m[2], random: m[3] } : undefined;
}

const hashOf = (version: string, random: string) => createHash('sha256').update(`${version}.${random}`).digest('hex');
