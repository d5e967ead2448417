import { randomBytes } from 'node:crypto';
import type { SecretSetOptions } from '../adapters/secret-store';
import type { VersionedSecret } from '../adapters/key-vault-secret-store';

/**
 * The key that sign-in states derive their PKCE verifier and nonce from. It is a Key Vault secret of its own
 * (`sign-in-state-key`), not the client secret: the client secret rotates, and instances pick up a new one at
 * different times, so a sign-in started on one instance and finished on another would derive a different verifier.
 * A state names the key version it was started with, so two instances that create the key at once (two versions,
 * each instance using its own) and a later rotation of this key (a new version in the vault) both leave sign-ins
 * in progress intact: every version stays readable by its id.
 */
export interface SignInStateKey {
  /** Key Vault version id: 32 hex characters. */
  version: string;
  key: Buffer;
}

export interface SignInStateKeys {
  /** The key new sign-ins use; created in the vault on first use. */
  current(): Promise<SignInStateKey>;
  /** A key by version; undefined when the vault has no such version. */
  byVersion(version: string): Promise<Buffer | undefined>;
}

/** What the keys need from the vault (KeyVaultSecretStore). */
export interface VersionedSecrets {
  getVersion(name: string, version?: string): Promise<VersionedSecret | undefined>;
  setVersion(name: string, value: string, options?: SecretSetOptions): Promise<string>;
}

export const SIGN_IN_STATE_KEY_SECRET = 'sign-in-state-key';
export const SIGN_IN_STATE_KEY_CONTENT_TYPE = 'application/vnd.connections.sign-in-state-key;encoding=base64url';
const KEY_BYTES = 32;
/** How long an instance keeps using the key it read before looking for a newer version (a rotation). */
const CURRENT_KEY_REFRESH_MS = 60 * 60 * 1000;

export const isKeyVersion = (v: string): boolean => /^[0-9a-f]{32}$/.test(v);

export class VaultSignInStateKeys implements SignInStateKeys {
  private latest?: { key: Promise<SignInStateKey>; readAt: number };
  private readonly versions = new Map<string, Buffer>();

  constructor(
    private readonly secrets: VersionedSecrets,
    private readonly now: () => number = Date.now,
  ) {}

  current(): Promise<SignInStateKey> {
    if (!this.latest || this.now() - this.latest.readAt > CURRENT_KEY_REFRESH_MS) {
      const key = this.readOrCreate();
      this.latest = { key, readAt: this.now() };
      // A vault outage must not stick: the next sign-in tries again.
      key.catch(() => (this.latest = undefined));
    }
    return this.latest.key;
  }

  async byVersion(version: string): Promise<Buffer | undefined> {
    if (!isKeyVersion(version)) return undefined;
    const known = this.versions.get(version);
    if (known) return known;
    const secret = await this.secrets.getVersion(SIGN_IN_STATE_KEY_SECRET, version);
    const key = secret && decodeKey(secret.value);
    if (key) this.versions.set(version, key);
    return key;
  }

  private async readOrCreate(): Promise<SignInStateKey> {
    const existing = await this.secrets.getVersion(SIGN_IN_STATE_KEY_SECRET);
    const existingKey = existing && decodeKey(existing.value);
    if (existing && existingKey && isKeyVersion(existing.version)) return this.remember(existing.version, existingKey);
    // First use (or an unusable latest version): another instance may be doing the same; both versions stay valid.
    const key = randomBytes(KEY_BYTES);
    const version = await this.secrets.setVersion(SIGN_IN_STATE_KEY_SECRET, key.toString('base64url'), {
      contentType: SIGN_IN_STATE_KEY_CONTENT_TYPE,
    });
    return this.remember(version, key);
  }

  private remember(version: string, key: Buffer): SignInStateKey {
    this.versions.set(version, key);
    return { version, key };
  }
}

function decodeKey(value: string): Buffer | undefined {
  const key = Buffer.from(value, 'base64url');
  return key.length === KEY_BYTES ? key : undefined;
}
