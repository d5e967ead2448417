import type { Connection } from '../../src/connections/connection';
import { connectionFromSignIn } from '../../src/connections/sign-in-flow';

const tenantId = 'a0c0a0c0-0000-4000-8000-00000000000a';
const account = { tenantId, objectId: 'oid-1', username: 'svc-renamed@contoso.test' };
const now = '2026-03-01T10:00:00.000Z';
const stored: Connection = {
  id: 'c1',
  displayName: 'WorkPoint automation',
  account: { tenantId, objectId: 'oid-1', username: 'svc@contoso.test' },
  status: 'needs_reauth',
  statusReason: 'AADSTS50173',
  statusChangedAt: '2026-02-01T00:00:00.000Z',
  isDefault: true,
  createdAt: '2026-01-01T00:00:00.000Z',
  createdBy: 'admin@contoso.test',
  lastUsedAt: '2026-01-20T00:00:00.000Z',
  lastRefreshedAt: '2026-01-20T00:00:00.000Z',
};

describe('the connection a sign-in makes', () => {
  it('is a new active connection named after the account, created by the administrator who started it', () => {
    expect(connectionFromSignIn(account, { adminUsername: 'admin@contoso.test' }, undefined, now, () => 'new-id')).toEqual({
      id: 'new-id',
      displayName: 'svc-renamed@contoso.test',
      account,
      status: 'active',
      statusChangedAt: now,
      isDefault: false,
      createdAt: now,
      createdBy: 'admin@contoso.test',
      lastRefreshedAt: now,
    });
  });

  it('takes the name the administrator gave', () => {
    expect(connectionFromSignIn(account, { adminUsername: 'a', displayName: 'Approvals' }, undefined, now).displayName).toBe('Approvals');
  });

  it("re-activates the account's existing connection under its id, keeping its name, default and history", () => {
    const again = connectionFromSignIn(account, { adminUsername: 'other-admin@contoso.test' }, stored, now);
    expect(again).toEqual({
      ...stored,
      account: { ...stored.account, username: 'svc-renamed@contoso.test' },
      status: 'active',
      statusReason: undefined,
      statusChangedAt: now,
      lastRefreshedAt: now,
    });
  });

  it('keeps the status date of a connection that was active all along', () => {
    const active = { ...stored, status: 'active' as const, statusReason: undefined };
    expect(connectionFromSignIn(account, { adminUsername: 'a' }, active, now).statusChangedAt).toBe(stored.statusChangedAt);
  });
});
