import type { TokenCredential } from '@azure/identity';
import type { SecretClient } from '@azure/keyvault-secrets';
import { backoffDelay } from '../shared/backoff';
import {
  isValidSecretName,
  MSAL_CACHE_CONTENT_TYPE,
  type SecretSetOptions,
  type SecretStore,
  SecretStoreError,
  type SecretStoreOperation,
} from './secret-store';
import { isSecretNotFound, isThrottledWithoutRetryAfter, statusOf, toStoreError } from './key-vault-errors';

/** `@azure/keyvault-secrets`, loaded on first use (docs/performance.md, "SDKs on first use", says why this way). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadSdk = (): typeof import('@azure/keyvault-secrets') => require('@azure/keyvault-secrets');

export { SecretStoreError } from './secret-store';

/**
 * Key Vault stores a secret value of at most 25 KB ("sequences of octets ... with a maximum size of 25 KB each",
 * learn.microsoft.com/azure/key-vault/secrets/about-secrets), counted as 25,600 bytes of UTF-8.
 */
export const MAX_SECRET_VALUE_BYTES = 25 * 1024;

export interface KeyVaultRetryOptions {
  /** SDK retries per request (5xx, 408, network, 429 with Retry-After) and our own attempts for 429 without it. */
  maxRetries?: number;
  retryDelayInMs?: number;
  maxRetryDelayInMs?: number;
}

export interface KeyVaultSecretStoreOptions {
  vaultUrl: string;
  credential: TokenCredential;
  /**
   * The local stand-in: allows http and a host other than *.vault.azure.net. Refused for non-loopback hosts,
   * because skipping challenge resource verification would hand a real credential's tokens to any host.
   */
  local?: boolean;
  retry?: KeyVaultRetryOptions;
  /**
   * Bound on one store call including all retries (default 30 s). The SDK waits whatever Retry-After says,
   * uncapped; a step should fail and be redelivered rather than hang.
   */
  timeoutMs?: number;
  /**
   * Purge after soft delete, so a deleted connection's refresh token does not linger for the retention period.
   * Needs the purge permission and fails on vaults with purge protection.
   */
  purgeOnDelete?: boolean;
}

const DEFAULT_RETRY = { maxRetries: 3, retryDelayInMs: 1000, maxRetryDelayInMs: 16_000 };
const DEFAULT_TIMEOUT_MS = 30_000;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
export interface VersionedSecret {
  value: string;
  version: string;
}

export class KeyVaultSecretStore implements SecretStore {
  /** Created on first use: the SDK is loaded then, not when a cold instance imports the app. */
  private clientInstance?: SecretClient;
  private readonly newClient: () => SecretClient;
  private readonly retry: Required<KeyVaultRetryOptions>;
  private readonly timeoutMs: number;
  private readonly purgeOnDelete: boolean;

  constructor(options: KeyVaultSecretStoreOptions) {
    const url = new URL(options.vaultUrl);
    if (options.local) {
      if (!LOOPBACK.has(url.hostname)) {
        throw new Error('KeyVaultSecretStore: local mode is only for a vault stand-in on localhost');
      }
    } else if (url.protocol !== 'https:') {
      throw new Error('KeyVaultSecretStore: the vault URL must use https');
    }
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.purgeOnDelete = options.purgeOnDelete ?? false;
    this.newClient = () =>
      new (loadSdk().SecretClient)(options.vaultUrl, options.credential, {
        retryOptions: this.retry,
        ...(options.local ? { allowInsecureConnection: true, disableChallengeResourceVerification: true } : {}),
      });
  }

  private client(): SecretClient {
    return (this.clientInstance ??= this.newClient());
  }

  get(name: string): Promise<string | undefined> {
    return this.run('get', name, undefined, async (abortSignal) => {
      try {
        return (await this.client().getSecret(name, { abortSignal })).value;
      } catch (e) {
        if (isSecretNotFound(e)) return undefined;
        throw e;
      }
    });
  }

  /** A secret version's value and version id: the latest when `version` is omitted; undefined when absent. */
  getVersion(name: string, version?: string): Promise<VersionedSecret | undefined> {
    return this.run('get', name, undefined, async (abortSignal) => {
      try {
        const secret = await this.client().getSecret(name, { abortSignal, ...(version ? { version } : {}) });
        return secret.value === undefined || !secret.properties.version
          ? undefined
          : { value: secret.value, version: secret.properties.version };
      } catch (e) {
        if (isSecretNotFound(e)) return undefined;
        throw e;
      }
    });
  }

  /** Writes a new version and names it. */
  setVersion(name: string, value: string, options: SecretSetOptions = {}): Promise<string> {
    return this.run('set', name, value, async (abortSignal) => {
      const secret = await this.client().setSecret(name, value, {
        abortSignal,
        ...(options.contentType ? { contentType: options.contentType } : {}),
        ...(options.tags ? { tags: options.tags } : {}),
      });
      if (!secret.properties.version) throw new Error('the vault named no version');
      return secret.properties.version;
    });
  }

  async set(name: string, value: string, options: SecretSetOptions = {}): Promise<void> {
    if (typeof value !== 'string') {
      throw new SecretStoreError('Secret value must be a string', { operation: 'set', retryable: false });
    }
    // The vault would refuse it on every try: say why, and keep the stored version (and its refresh token) as it is.
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > MAX_SECRET_VALUE_BYTES) {
      throw new SecretStoreError(`Secret value is ${bytes} bytes; Key Vault stores at most ${MAX_SECRET_VALUE_BYTES} bytes per secret`, {
        operation: 'set',
        secretName: name,
        code: 'SecretValueTooLarge',
        retryable: false,
      });
    }
    await this.run('set', name, value, async (abortSignal) => {
      // A 429 means the write was not applied, so retrying cannot add a second version.
      await this.client().setSecret(name, value, {
        abortSignal,
        contentType: options.contentType ?? MSAL_CACHE_CONTENT_TYPE,
        ...(options.tags ? { tags: options.tags } : {}),
      });
    });
  }

  delete(name: string): Promise<void> {
    return this.run('delete', name, undefined, async (abortSignal) => {
      try {
        // Resolves after the DELETE and one status read; full completion only matters before a purge.
        const poller = await this.client().beginDeleteSecret(name, {
          abortSignal,
          intervalInMs: this.retry.retryDelayInMs,
        });
        if (this.purgeOnDelete) await poller.pollUntilDone({ abortSignal });
      } catch (e) {
        if (!isSecretNotFound(e)) throw e;
      }
      if (this.purgeOnDelete) await this.purge(name, abortSignal);
    });
  }

  private async purge(name: string, abortSignal: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client().purgeDeletedSecret(name, { abortSignal });
        return;
      } catch (e) {
        if (isSecretNotFound(e)) return;
        // 409: the service is still finishing the soft delete.
        if (statusOf(e) !== 409 || attempt >= this.retry.maxRetries) throw e;
        await sleep(this.backoff(attempt), abortSignal);
      }
    }
  }

  /** Validates the name, bounds the call in time, retries 429s the SDK leaves alone, and maps every failure. */
  private async run<T>(
    operation: SecretStoreOperation,
    name: string,
    value: string | undefined,
    call: (abortSignal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (!isValidSecretName(name)) {
      // The name is not echoed: a swapped argument would put the value here.
      throw new SecretStoreError('Invalid secret name: use 1-127 characters of 0-9, a-z, A-Z and -', {
        operation,
        code: 'InvalidSecretName',
        retryable: false,
      });
    }
    const abortSignal = AbortSignal.timeout(this.timeoutMs);
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          return await call(abortSignal);
        } catch (e) {
          if (!isThrottledWithoutRetryAfter(e) || attempt >= this.retry.maxRetries) throw e;
          await sleep(this.backoff(attempt), abortSignal);
        }
      }
    } catch (e) {
      throw toStoreError(operation, name, value, e, abortSignal.aborted);
    }
  }

  /** The wait before retry `retry` (0-based), by the app's one backoff rule (the SDK's own strategy). */
  private backoff(retry: number): number {
    return backoffDelay(retry + 1, { baseMs: this.retry.retryDelayInMs, maxMs: this.retry.maxRetryDelayInMs });
  }
}

/** Like shared `sleep`, but cut short (rejecting) when the call's time bound runs out. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
