import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { getEntityOrUndefined, statusOf, type TableFactory } from '../adapters/tables';
import { VaultDataKeys, type DataKeys, type VersionedSecrets } from '../adapters/vault-data-keys';
import { UserAssertion } from '../shared/user';

export const USER_SESSION_KEY_SECRET = 'user-session-key';
export const USER_SESSION_KEY_CONTENT_TYPE = 'application/vnd.connections.user-session-key;encoding=base64url';

/** The data key user sessions are encrypted with: one Key Vault secret, read once per instance. */
export class VaultUserSessionKeys extends VaultDataKeys {
  constructor(secrets: VersionedSecrets, now: () => number = Date.now) {
    super(secrets, { name: USER_SESSION_KEY_SECRET, contentType: USER_SESSION_KEY_CONTENT_TYPE }, now);
  }
}

type SessionRow = {
  partitionKey: string;
  rowKey: string;
  /** Version of `user-session-key` the ciphertext was made with. */
  keyVersion: string;
  /** AES-256-GCM: 12-byte IV, ciphertext and 16-byte tag, each base64url. */
  iv: string;
  ciphertext: string;
  tag: string;
  /** When the assertion expires: after it, steps wait for the user instead of asking Entra in vain. */
  expiresAt: string;
};

/**
 * The user token a user run's unelevated steps are exchanged from (On-Behalf-Of), kept between the HTTP call that
 * gave it (start, form submission, resume) and the steps that use it. One Table row per run, encrypted with
 * AES-256-GCM under a data key kept in Key Vault (`user-session-key`), bound to its tenant and run as additional
 * data so a row copied to another run does not decrypt. Not one vault secret per run: Key Vault allows about 300
 * writes per 10 s per vault and keeps deleted names until purged (learn.microsoft.com/azure/key-vault/general/
 * service-limits, soft-delete-overview); this way a run costs the vault nothing once an instance has read the key.
 * The row is deleted when the run finishes, fails or waits for the user.
 */
export class UserSessionStore {
  constructor(
    private readonly tables: TableFactory,
    private readonly tableName: string,
    private readonly keys: DataKeys,
  ) {}

  async put(tenantId: string, runId: string, assertion: UserAssertion): Promise<void> {
    const { version, key } = await this.keys.current();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(additionalData(tenantId, runId));
    const ciphertext = Buffer.concat([cipher.update(assertion.reveal(), 'utf8'), cipher.final()]);
    const row: SessionRow = {
      partitionKey: tenantId,
      rowKey: runId,
      keyVersion: version,
      iv: iv.toString('base64url'),
      ciphertext: ciphertext.toString('base64url'),
      tag: cipher.getAuthTag().toString('base64url'),
      expiresAt: assertion.expiresAt.toISOString(),
    };
    await (await this.tables(this.tableName)).upsertEntity(row, 'Replace');
  }

  /** The run's user token; undefined when there is none (deleted, never stored) or it does not decrypt. */
  async get(tenantId: string, runId: string): Promise<UserAssertion | undefined> {
    const row = await getEntityOrUndefined<SessionRow>(await this.tables(this.tableName), tenantId, runId);
    if (!row) return undefined;
    const key = await this.keys.byVersion(row.keyVersion);
    if (!key) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(row.iv, 'base64url'));
      decipher.setAAD(additionalData(tenantId, runId));
      decipher.setAuthTag(Buffer.from(row.tag, 'base64url'));
      const token = Buffer.concat([decipher.update(Buffer.from(row.ciphertext, 'base64url')), decipher.final()]).toString('utf8');
      return new UserAssertion(token, new Date(row.expiresAt));
    } catch {
      return undefined; // tampered, or moved from another run
    }
  }

  async delete(tenantId: string, runId: string): Promise<void> {
    try {
      await (await this.tables(this.tableName)).deleteEntity(tenantId, runId);
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
    }
  }
}

const additionalData = (tenantId: string, runId: string) => Buffer.from(`user-session|${tenantId}|${runId}`, 'utf8');
