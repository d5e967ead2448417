/** A connection: a service account whose delegated permissions processes can run under. */
export type ConnectionStatus = 'active' | 'needs_reauth';

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
  statusChangedAt?: string;
  isDefault: boolean;
  createdAt: string;
  createdBy: string;
  lastUsedAt?: string;
  lastRefreshedAt?: string;
}

/** The API view (contract): metadata only; token material never lives on this type at all. */
export const toConnectionView = (c: Connection) => ({
  id: c.id,
  displayName: c.displayName,
  account: { ...c.account },
  status: c.status,
  ...(c.statusReason ? { statusReason: c.statusReason } : {}),
  ...(c.statusChangedAt ? { statusChangedAt: c.statusChangedAt } : {}),
  isDefault: c.isDefault,
  createdAt: c.createdAt,
  createdBy: c.createdBy,
  ...(c.lastUsedAt ? { lastUsedAt: c.lastUsedAt } : {}),
  ...(c.lastRefreshedAt ? { lastRefreshedAt: c.lastRefreshedAt } : {}),
});

export type ConnectionView = ReturnType<typeof toConnectionView>;
