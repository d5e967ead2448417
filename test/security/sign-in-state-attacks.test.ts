/**
 * Issue 12, risk "expired sign-in states are never purged and authorize has no rate limit": every authorize and
 * reauthorize writes a Table row, so a script could fill the table, and expired rows stayed forever.
 */
import { tableNames } from '../../src/config/settings';
import { SignInStateStore } from '../../src/connections/sign-in-state';
import { CONTOSO_ADMIN, CONTOSO_SVC_WORKPOINT, FABRIKAM_ADMIN, TENANT_A } from '../../src/local/identity-provider/directory';
import { authorizeConnection } from '../support/connections';
import { useTally } from '../support/tally';
import { startTestStack, type TestStack } from '../support/test-stack';

const tally = useTally();
const LIMIT = 5;
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ env: { AUTHORIZE_LIMIT_PER_MINUTE: String(LIMIT) } });
});
afterAll(async () => {
  await stack?.stop();
});

async function stateRows(): Promise<{ partitionKey: string; expiresAt: string }[]> {
  const table = await stack.internals.tables(tableNames(stack.context.settings).signInStates);
  const rows: { partitionKey: string; expiresAt: string }[] = [];
  for await (const row of table.listEntities<{ expiresAt: string }>())
    rows.push({ partitionKey: row.partitionKey!, expiresAt: row.expiresAt });
  return rows;
}

test('a burst of authorize and reauthorize calls by one admin: the limit, then 429 with Retry-After and no row; other admins unaffected', async () => {
  // One connection to re-authorize (its sign-in is the first start of the minute).
  const connection = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT);
  const rowsBefore = (await stateRows()).length;
  let allowed = 1;
  let refused = 0;
  const burst = 30;
  for (let i = 0; i < burst; i++) {
    const res =
      i % 2
        ? await stack.api(`connections/${connection.id}/reauthorize`, { method: 'POST' })
        : await stack.api('connections/authorize', { method: 'POST', body: {} });
    if (res.status === 200) {
      allowed++;
      continue;
    }
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.json.error.message).toMatch(/too many sign-ins/i);
    refused++;
  }
  expect(allowed).toBe(LIMIT);
  expect(refused).toBe(burst - (LIMIT - 1));
  expect((await stateRows()).length).toBe(rowsBefore + LIMIT - 1);
  // Another admin (here: of another tenant) has a window of its own.
  expect((await stack.api('connections/authorize', { method: 'POST', body: {}, token: await stack.tokenFor(FABRIKAM_ADMIN) })).status).toBe(
    200,
  );
  expect(CONTOSO_ADMIN.tenantId).toBe(TENANT_A.id);
  tally.record({
    kind: 'attack',
    category: 'Authorize: bursts of sign-in starts',
    tried: refused,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});

test('expired sign-in states are purged by the keep-alive run; live ones stay', async () => {
  const names = tableNames(stack.context.settings);
  const past = new SignInStateStore(
    stack.internals.tables,
    names.signInStates,
    stack.internals.signInStateKeys,
    () => Date.now() - 11 * 60_000,
  );
  const expiredCount = 40;
  for (let i = 0; i < expiredCount; i++) {
    await past.start({ tenantId: TENANT_A.id, adminObjectId: CONTOSO_ADMIN.objectId, adminUsername: CONTOSO_ADMIN.username });
  }
  const live = await new SignInStateStore(stack.internals.tables, names.signInStates, stack.internals.signInStateKeys).start({
    tenantId: TENANT_A.id,
    adminObjectId: CONTOSO_ADMIN.objectId,
    adminUsername: CONTOSO_ADMIN.username,
  });
  const now = Date.now();
  const expiredBefore = (await stateRows()).filter((r) => Date.parse(r.expiresAt) <= now).length;
  expect(expiredBefore).toBeGreaterThanOrEqual(expiredCount);

  const report = await stack.context.keepAlive.run();
  expect(report.purgedSignInStates).toBeGreaterThanOrEqual(expiredCount);
  const after = await stateRows();
  expect(after.filter((r) => Date.parse(r.expiresAt) <= now)).toHaveLength(0);
  expect(after.length).toBeGreaterThan(0);
  // The live state is still there: the callback finds and consumes it (a cancelled sign-in, not an unknown link).
  const outcome = await stack.context.signIn.complete({ state: live.state, error: 'access_denied' });
  expect(outcome).toMatchObject({ ok: false, refusal: { title: 'Sign-in was cancelled' } });
  tally.record({
    kind: 'attack',
    category: 'Sign-in states: expired rows purged',
    tried: expiredCount,
    handled: expiredCount,
    faultsInjected: 0,
    lost: 0,
  });
});
