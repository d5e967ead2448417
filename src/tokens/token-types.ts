import type { Settings } from '../config/settings';
import type { SecretStore } from '../adapters/secret-store';
import type { TableClient } from '@azure/data-tables';
import type { MsalClients } from './msal-clients';
import type { TokenFailure } from './token-errors';

/** The types of the token broker's public API (re-exported by token-broker.ts, which callers import). */

export interface ConnectionRef {
  tenantId: string;
  id: string;
  objectId: string;
}

export interface AccessToken {
  token: string;
  expiresOn: Date;
}

export interface TokenBrokerEvents {
  /** This instance used the refresh token successfully (a token-endpoint call). */
  refreshed?(ref: ConnectionRef, at: Date): Promise<void> | void;
  /** Only a new sign-in can help; the broker will not try again until `forget`, a new sign-in, or another instance's re-authorization. */
  grantDead?(ref: ConnectionRef, reason: string): Promise<void> | void;
  /**
   * A token was handed out for the connection: at most once per `usedIntervalSeconds` per connection and
   * instance, not awaited, errors ignored, so recording `lastUsedAt` costs the step path nothing.
   */
  used?(ref: ConnectionRef, at: Date): Promise<void> | void;
  /**
   * Entra refused the app's own credentials (client secret expired or wrong, app registration missing or disabled).
   * Every refresh of every connection fails the same way until the app setting is fixed; the grants are fine, so no
   * connection is touched. Called on every such failure (after the lease is released): the receiver deduplicates.
   */
  applicationCredentialsInvalid?(failure: Extract<TokenFailure, { kind: 'application_credentials' }>): Promise<void> | void;
}

export interface TokenBrokerOptions {
  secrets: SecretStore;
  msal: Pick<MsalClients, 'create' | 'scopes'>;
  /** The `tokenLeases` table (tableNames().tokenLeases). */
  leaseTable: () => Promise<TableClient>;
  settings: Pick<Settings, 'TOKEN_CACHE_WRITE_POLICY' | 'TOKEN_CACHE_WRITE_INTERVAL_SECONDS' | 'TOKEN_REFRESH_LEASE_SECONDS'>;
  events?: TokenBrokerEvents;
  /** Access tokens are renewed this long before they expire, so a step never starts with a dying token. Default 300. */
  renewBeforeSeconds?: number;
  /** How often a connection found dead re-checks whether another instance stored a new sign-in. Default 30. */
  deadRecheckSeconds?: number;
  /** Throttle of the `used` event per connection. Default 60. */
  usedIntervalSeconds?: number;
  /** Recorded on lease rows; unique per process. */
  instanceId?: string;
  now?: () => number;
}

/** The memory key of a connection. */
export const keyOf = (ref: Pick<ConnectionRef, 'tenantId' | 'id'>): string => `${ref.tenantId}/${ref.id}`;

/** A copy without extra fields (a cached token's `cachedAt`), as handed to callers. */
export const plain = (t: AccessToken): AccessToken => ({ token: t.token, expiresOn: t.expiresOn });
