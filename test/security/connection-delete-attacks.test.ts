/**
 * Issue 12, risk "deleting a connection leaves a usable refresh token": Key Vault only soft-deletes a secret (and purge
 * protection forbids purging it), so a deleted connection's refresh token stayed recoverable and usable for the
 * retention period. Now the secret's current version is overwritten with an empty cache before the delete, and
 * `?revokeSessions=true` revokes the account's sessions at Entra with the connection's own token.
 */
import { connectionSecretName } from '../../src/adapters/secret-store';
import { CONTOSO_SVC_APPROVALS, CONTOSO_SVC_WORKPOINT, type LocalUser } from '../../src/local/identity-provider/directory';
import { mintLocalToken } from '../../src/local/identity-provider/launch';
import { MsalClients } from '../../src/tokens/msal-clients';
import { redeemRefreshToken } from '../../src/tokens/redeem-refresh-token';
import { authorizeConnection } from '../support/connections';
import { useTally } from '../support/tally';
import { startTestStack, type TestStack } from '../support/test-stack';

const tally = useTally();
let stack: TestStack;
/** Every value the app wrote to the vault, in order (a spy on the real store the services use). */
const writes: { name: string; value: string }[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  const set = stack.internals.secrets.set.bind(stack.internals.secrets);
  stack.internals.secrets.set = async (name, value, options) => {
    writes.push({ name, value });
    return set(name, value, options);
  };
});
afterAll(async () => {
  await stack?.stop();
});

const refreshTokensIn = (cache: string) => Object.keys((JSON.parse(cache) as { RefreshToken?: object }).RefreshToken ?? {}).length;

async function connectAndRead(user: LocalUser) {
  const connection = await authorizeConnection(stack, user);
  const name = connectionSecretName(connection.account.tenantId, connection.id);
  const cache = (await stack.internals.secrets.get(name))!;
  expect(refreshTokensIn(cache)).toBe(1);
  return { connection, name, cache, ref: { tenantId: connection.account.tenantId, id: connection.id, objectId: user.objectId } };
}

test("delete overwrites the secret's current version with an empty cache, then deletes it", async () => {
  const { connection, name } = await connectAndRead(CONTOSO_SVC_WORKPOINT);
  const versions = stack.vault.secretVersions(name).length;
  const requestsBefore = stack.vault.requests.length;
  expect((await stack.api(`connections/${connection.id}`, { method: 'DELETE' })).status).toBe(204);
  // One more version (the empty cache), written before the DELETE.
  expect(stack.vault.secretVersions(name).length).toBe(versions + 1);
  const calls = stack.vault.requests
    .slice(requestsBefore)
    .filter((r) => r.path.startsWith(`/secrets/${name}`))
    .map((r) => r.method);
  expect(calls).toEqual(['PUT', 'DELETE']);
  const last = writes.filter((w) => w.name === name).at(-1)!;
  expect(refreshTokensIn(last.value)).toBe(0);
  tally.record({
    kind: 'attack',
    category: 'Delete: refresh token left in the soft-deleted secret',
    tried: 1,
    handled: 1,
    faultsInjected: 0,
    lost: 0,
  });
});

test("delete with revokeSessions=true revokes the account's sessions with its own token: the old refresh token is dead", async () => {
  const { connection, cache, ref } = await connectAndRead(CONTOSO_SVC_APPROVALS);
  const msal = new MsalClients(stack.context.settings);
  expect((await stack.api(`connections/${connection.id}?revokeSessions=maybe`, { method: 'DELETE' })).status).toBe(400);
  const res = await stack.api(`connections/${connection.id}?revokeSessions=true`, { method: 'DELETE' });
  expect(res.status).toBe(204);
  const graphCalls = (await (await fetch(`${stack.graph.url}/_local/calls`)).json()) as {
    calls: { method: string; path: string; status: number; username?: string }[];
  };
  expect(graphCalls.calls.filter((c) => c.path === '/me/revokeSignInSessions')).toEqual([
    expect.objectContaining({ method: 'POST', status: 200, username: CONTOSO_SVC_APPROVALS.username }),
  ]);
  // The refresh token an attacker could recover from an older version of the soft-deleted secret no longer works.
  expect(await redeemRefreshToken(msal, ref, cache, undefined)).toEqual({ dead: expect.any(String) });
  const audit = await stack.api(`connections/${connection.id}/audit`);
  expect(audit.json.entries[0]).toMatchObject({ action: 'deleted', details: expect.objectContaining({ sessionsRevoked: true }) });
  tally.record({
    kind: 'attack',
    category: 'Delete: refresh token left in the soft-deleted secret',
    tried: 1,
    handled: 1,
    faultsInjected: 0,
    lost: 0,
  });
});

test("the Graph stand-in, as Graph: revokeSignInSessions needs User.RevokeSessions.All and works on the caller's own account only", async () => {
  const token = async (scp: string | null) =>
    (
      await mintLocalToken(stack.identityProvider.url, {
        username: CONTOSO_SVC_WORKPOINT.username,
        audience: 'https://graph.microsoft.com',
        scp,
      })
    ).access_token;
  const post = async (path: string, bearer: string) =>
    (await fetch(`${stack.graph.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${bearer}` } })).status;
  expect(await post('/me/revokeSignInSessions', await token('User.Read'))).toBe(403);
  expect(await post(`/users/${CONTOSO_SVC_APPROVALS.objectId}/revokeSignInSessions`, await token('User.RevokeSessions.All'))).toBe(403);
  expect(await post(`/users/${CONTOSO_SVC_WORKPOINT.username}/revokeSignInSessions`, await token('User.RevokeSessions.All'))).toBe(200);
  tally.uncounted();
});
