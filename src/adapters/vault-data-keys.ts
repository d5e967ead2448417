import { randomBytes } from 'node:crypto';
import type { SecretSetOptions } from './secret-store';
import type { VersionedSecret } from './key-vault-secret-store';

/**
 * A 256-bit data key kept as one Key Vault secret, created on first use and read once per instance (then reused
 * from memory): what the app encrypts or derives short-lived material with, so that material can live in Tables
 * without a vault call per item. Sign-in states (`sign-in-state-key`) and user sessions (`user-session-key`) each
 * have their own. Whatever a key protects names the key version it used, so two instances that create the key at
 * once (two versions, each instance using its own) and a later rotation (a new version in the vault) both leave
 * existing material readable: every version stays readable by its id.
 */
export interface DataKey {
  /** Key Vault version id: 32 hex characters. */
  version: string;
  key: Buffer;
}

export interface DataKeys {
  /** The key new material uses; created in the vault on first use. */
  current(): Promise<DataKey>;
  /** A key by version; undefined when the vault has no such version. */
  byVersion(version: string): Promise<Buffer | undefined>;
}

/** What the keys need from the vault (KeyVaultSecretStore). */
export interface VersionedSecrets {
  getVersion(name: string, version?: string): Promise<VersionedSecret | undefined>;
  setVersion(name: string, value: string, options?: SecretSetOptions): Promise<string>;
}

const KEY_BYTES = 32;
/** How long an instance keeps using the key it read before looking for a newer version (a rotation). */
const CURRENT_KEY_REFRESH_MS = 60 * 60 * 1000;

export const isKeyVersion = (v: string): boolean => /^[0-9a-f]{32}$/.test(v);

export class VaultDataKeys implements DataKeys {
  private latest?: { key: Promise<DataKey>; readAt: number };
  private readonly versions = new Map<string, Buffer>();

  constructor(
    private readonly secrets: VersionedSecrets,
    private readonly secret: { name: string; contentType: string },
    private readonly now: () => number = Date.now,
  ) {}

  current(): Promise<DataKey> {
    if (!this.latest || this.now() - this.latest.readAt > CURRENT_KEY_REFRESH_MS) {
      const key = this.readOrCreate();
      this.latest = { key, readAt: this.now() };
      // A vault outage must not stick: the next use tries again.
      key.catch(() => (this.latest = undefined));
    }
    return this.latest.key;
  }

  async byVersion(version: string): Promise<Buffer | undefined> {
    if (!isKeyVersion(version)) return undefined;
    const known = this.versions.get(version);
    if (known) return known;
    const secret = await this.secrets.getVersion(this.secret.name, version);
    const key = secret && decodeKey(secret.value);
    if (key) this.versions.set(version, key);
    return key;
  }

  private async readOrCreate(): Promise<DataKey> {
    const existing = await this.secrets.getVersion(this.secret.name);
    const existingKey = existing && decodeKey(existing.value);
    if (existing && existingKey && isKeyVersion(existing.version)) return this.remember(existing.version, existingKey);
    // First use (or an unusable latest version): another instance may be doing the same; both versions stay valid.
    const key = randomBytes(KEY_BYTES);
    const version = await this.secrets.setVersion(this.secret.name, key.toString('base64url'), { contentType: this.secret.contentType });
    return this.remember(version, key);
  }

  private remember(version: string, key: Buffer): DataKey {
    this.versions.set(version, key);
    return { version, key };
  }
}

function decodeKey(value: string): Buffer | undefined {
  const key = Buffer.from(value, 'base64url');
  return key.length === KEY_BYTES ? key : undefined;
}
