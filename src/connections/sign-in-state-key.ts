import { isKeyVersion, VaultDataKeys, type DataKey, type DataKeys, type VersionedSecrets } from '../adapters/vault-data-keys';

/**
 * The key that sign-in states derive their PKCE verifier and nonce from. It is a Key Vault secret of its own
 * (`sign-in-state-key`), not the client secret: the client secret rotates, and instances pick up a new one at
 * different times, so a sign-in started on one instance and finished on another would derive a different verifier.
 * A state names the key version it was started with (see VaultDataKeys for why every version stays usable).
 */
export type SignInStateKey = DataKey;
export type SignInStateKeys = DataKeys;
export type { VersionedSecrets };
export { isKeyVersion };

export const SIGN_IN_STATE_KEY_SECRET = 'sign-in-state-key';
export const SIGN_IN_STATE_KEY_CONTENT_TYPE = 'application/vnd.connections.sign-in-state-key;encoding=base64url';

export class VaultSignInStateKeys extends VaultDataKeys {
  constructor(secrets: VersionedSecrets, now: () => number = Date.now) {
    super(secrets, { name: SIGN_IN_STATE_KEY_SECRET, contentType: SIGN_IN_STATE_KEY_CONTENT_TYPE }, now);
  }
}
