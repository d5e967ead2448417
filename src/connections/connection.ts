import { z } from 'zod';

/** A connection: a service account whose delegated permissions processes can run under. */
export const connectionStatuses = ['active', 'needs_reauth'] as const;
export type ConnectionStatus = (typeof connectionStatuses)[number];

export interface ConnectionAccount {
  username: string;
  objectId: string;
  tenantId: string;
}

export interface Connection {
  id: string;
  displayName: string;
  account: ConnectionAccount;
  status: ConnectionStatus;
  statusReason?: string;
  /** Optional only for rows written before it existed; the view falls back to createdAt. */
  statusChangedAt?: string;
  isDefault: boolean;
  createdAt: string;
  createdBy: string;
  lastUsedAt?: string;
  /** Last successful use of the refresh token (token-endpoint call) or sign-in. */
  lastRefreshedAt?: string;
}

const dayMs = 24 * 3600_000;

/**
 * The date by which the refresh token dies of inactivity if nothing refreshes it: the last successful
 * refresh or sign-in plus the provider's inactivity window (Entra ID: 90 days, sliding). A connection that
 * already needs re-authorization was due when it was marked, so that is its date.
 */
export function reauthorizeBy(c: Connection, refreshTokenInactivityDays: number): string {
  if (c.status === 'needs_reauth') return c.statusChangedAt ?? c.createdAt;
  const base = Date.parse(c.lastRefreshedAt ?? c.createdAt);
  return new Date(base + refreshTokenInactivityDays * dayMs).toISOString();
}

/** The API view (contract, in the OpenAPI document): metadata and health only; token material never lives on this type at all. */
export const connectionViewSchema = z.strictObject({
  id: z.uuid(),
  displayName: z.string(),
  account: z.strictObject({ username: z.string(), objectId: z.string(), tenantId: z.string() }),
  status: z.enum(connectionStatuses),
  statusReason: z.string().optional(),
  statusChangedAt: z.iso.datetime(),
  isDefault: z.boolean(),
  createdAt: z.iso.datetime(),
  createdBy: z.string(),
  lastUsedAt: z.iso.datetime().optional(),
  lastRefreshedAt: z.iso.datetime().optional(),
  /** When the refresh token dies of inactivity unless something refreshes it. */
  reauthorizeBy: z.iso.datetime(),
});
export type ConnectionView = z.infer<typeof connectionViewSchema>;

export const toConnectionView = (c: Connection, refreshTokenInactivityDays = 90): ConnectionView => ({
  id: c.id,
  displayName: c.displayName,
  account: { ...c.account },
  status: c.status,
  ...(c.statusReason ? { statusReason: c.statusReason } : {}),
  statusChangedAt: c.statusChangedAt ?? c.createdAt,
  isDefault: c.isDefault,
  createdAt: c.createdAt,
  createdBy: c.createdBy,
  ...(c.lastUsedAt ? { lastUsedAt: c.lastUsedAt } : {}),
  ...(c.lastRefreshedAt ? { lastRefreshedAt: c.lastRefreshedAt } : {}),
  reauthorizeBy: reauthorizeBy(c, refreshTokenInactivityDays),
});
