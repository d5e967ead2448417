/**
 * Refusals of a connection's refresh that are about the account's tenant, not the vendor's credential, through the
 * real broker and MSAL against the local identity provider's Entra answers:
 * - AADSTS700016 / 7000112: the tenant deleted or disabled the enterprise application. That tenant's consent state
 *   becomes `withdrawn`, its connections `needs_reauth` with that reason; other tenants and the vendor-wide
 *   ApplicationCredentialsInvalid alert are untouched.
 * - Conditional Access (53003, 50076): the connection's `needs_reauth` reason names the policy and what to change.
 */
import type { ConnectionView } from '../../src/connections/connection';
import {
  CONTOSO_SVC_APPROVALS,
  CONTOSO_SVC_WORKPOINT,
  FABRIKAM_ADMIN,
  FABRIKAM_SVC,
  TENANT_A,
} from '../../src/local/identity-provider/directory';
import { setTokenEndpointFault } from '../../src/local/identity-provider/launch';
import {
  authorizeConnection,
  getConnection,
  listConnections,
  observeConnectionEvents,
  type ConnectionNotice,
} from '../support/connections';
import { startTestStack, type TestStack } from '../support/test-stack';

let stack: TestStack;
let notices: ConnectionNotice[];

beforeEach(async () => {
  stack = await startTestStack();
  notices = observeConnectionEvents(stack);
}, 120_000);

afterEach(async () => {
  await stack?.stop();
});

const test_ = async (connection: ConnectionView, admin = undefined as typeof FABRIKAM_ADMIN | undefined) =>
  stack.api(`connections/${connection.id}/test`, { method: 'POST', token: await stack.tokenFor(admin) });

const credentialAlerts = () => notices.filter((n) => (n.body as { type: string }).type === 'ApplicationCredentialsInvalid');

describe.each([
  [700016, /deleted or its consent removed/],
  [7000112, /disabled the enterprise application/],
])("AADSTS%i at a tenant's refresh", (code, what) => {
  it("marks that tenant's consent withdrawn and all its connections needs_reauth; no vendor-wide alert", async () => {
    const workpoint = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
    const approvals = await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Approvals');
    const fabrikam = await authorizeConnection(stack, FABRIKAM_SVC, 'Fabrikam', FABRIKAM_ADMIN);

    await setTokenEndpointFault(stack.identityProvider.url, { aadsts: code, count: 1 });
    const res = await test_(workpoint);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ ok: false, status: 'needs_reauth' });
    expect(res.json.reason).toMatch(what);
    expect(res.json.reason).toContain(`AADSTS${code}`);

    for (const c of [workpoint, approvals]) {
      const now = await getConnection(stack, c.id);
      expect(now.status).toBe('needs_reauth');
      expect(now.statusReason).toMatch(what);
    }
    const registration = await stack.internals.tenantRegistry.get(TENANT_A.id);
    expect(registration).toMatchObject({
      consentState: 'withdrawn',
      consentChangedBy: `Microsoft Entra ID (AADSTS${code} at a connection refresh)`,
    });

    // The other tenant is not affected, and nothing says the vendor's credential failed.
    expect((await listConnections(stack, '', FABRIKAM_ADMIN)).find((c) => c.id === fabrikam.id)?.status).toBe('active');
    expect((await test_(fabrikam, FABRIKAM_ADMIN)).json.ok).toBe(true);
    expect(credentialAlerts()).toEqual([]);
    expect(stack.logs.filter((l) => l.includes('ApplicationCredentialsInvalid'))).toEqual([]);
  });
});

describe('Conditional Access refusing a refresh', () => {
  it.each([53003, 50076])('AADSTS%i: needs_reauth with a reason that names the policy and what to change', async (code) => {
    const workpoint = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
    await setTokenEndpointFault(stack.identityProvider.url, { aadsts: code, count: 1 });
    const res = await test_(workpoint);
    expect(res.json).toMatchObject({ ok: false, status: 'needs_reauth' });
    const now = await getConnection(stack, workpoint.id);
    expect(now.statusReason).toContain('Conditional Access');
    expect(now.statusReason).toContain(`AADSTS${code}`);
    expect(now.statusReason).toMatch(/named location/);
    // Not a tenant-wide matter: the registry's consent state stays as it was.
    expect((await stack.internals.tenantRegistry.get(TENANT_A.id))?.consentState).toBe('granted');
    expect(credentialAlerts()).toEqual([]);
  });
});
