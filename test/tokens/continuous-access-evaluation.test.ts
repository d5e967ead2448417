/**
 * Continuous access evaluation end to end: the app declares CP1 (so its Graph tokens carry `xms_cc: ["cp1"]`), the
 * Graph stand-in refuses a revoked account's older CAE tokens with Graph's claims challenge (401,
 * `WWW-Authenticate: Bearer ... error="insufficient_claims", claims="..."`), and a step answers it by acquiring a token
 * with those claims once and repeating the call once. When the claims need the account to sign in again (its
 * sessions were revoked: AADSTS50173), the connection is marked needs_reauth. Never a loop.
 */
import { CONTOSO_SVC_APPROVALS, CONTOSO_SVC_WORKPOINT } from '../../src/local/identity-provider/directory';
import { getTokenStats } from '../../src/local/identity-provider/launch';
import { claimsChallengeHeader } from '../../src/tokens/claims-challenge';
import { authorizeConnection } from '../support/connections';
import { startTestStack, type TestStack } from '../support/test-stack';
import type { ConnectionView } from '../../src/connections/connection';
import type { RunView } from '../../src/runs/run';

let stack: TestStack;
let workpoint: ConnectionView;
let approvals: ConnectionView;

beforeAll(async () => {
  stack = await startTestStack();
  workpoint = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  approvals = await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Approvals');
  for (const [id, runAs] of [
    ['cae-workpoint', workpoint.id],
    ['cae-approvals', approvals.id],
  ]) {
    const body = {
      name: id,
      kind: 'system',
      runAs,
      triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.data.process', op: 'eq', value: id }] }],
      steps: [{ id: 'mark', type: 'action', action: 'updateFields', inputs: { fields: { Seen: true } } }],
    };
    expect((await stack.api(`processes/${id}`, { method: 'PUT', body })).status).toBe(200);
    expect((await stack.api(`processes/${id}/publish`, { method: 'POST' })).status).toBe(200);
  }
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const stats = () => getTokenStats(stack.identityProvider.url);
const graphCallsFor = (itemId: string) => stack.graph.calls.filter((c) => c.path.includes(`/items/${itemId}/`));

async function run(processId: string, itemId: string) {
  const res = await stack.api('events', {
    method: 'POST',
    body: {
      type: 'ItemCreated',
      subject: { siteId: 'contoso.sharepoint.com,site-1', listId: 'list-1', itemId },
      data: { process: processId },
    },
  });
  expect(res.status).toBe(202);
  await stack.bus.idle();
  const runs = (await stack.api(`runs?processId=${processId}`)).json.runs as RunView[];
  return runs.find((r) => r.subject.itemId === itemId);
}

const statusOf = async (id: string) => (await stack.api(`connections/${id}`)).json;

test('the step uses the sign-in token, which is a CAE token (xms_cc cp1), and no token call is made', async () => {
  const before = await stats();
  expect(await run('cae-workpoint', 'before-any-event')).toMatchObject({ status: 'succeeded' });
  expect((await stats()).total).toBe(before.total);
  expect(graphCallsFor('before-any-event').map((c) => c.status)).toEqual([200]);
});

test('a claims challenge is answered once: one token call carrying the claims, the call repeated once, the step succeeds', async () => {
  // A critical event Graph learns of while the refresh token stays good (e.g. a location policy change).
  const { tokensValidFrom } = await stack.graph.revokeSessions(CONTOSO_SVC_WORKPOINT.username, { refreshTokens: false });
  const before = await stats();
  const done = (await run('cae-workpoint', 'challenged-1'))!;
  expect(done).toMatchObject({ status: 'succeeded' });
  expect(done.steps[0]).toMatchObject({ status: 'succeeded', attempts: 1, executedAs: { username: CONTOSO_SVC_WORKPOINT.username } });
  // The refused call is not attributed to anyone (the stand-in records accounts of accepted tokens only).
  expect(graphCallsFor('challenged-1').map((c) => [c.status, c.username])).toEqual([
    [401, undefined],
    [200, CONTOSO_SVC_WORKPOINT.username],
  ]);
  const after = await stats();
  expect(after.total - before.total).toBe(1);
  expect((after.claims.nbf ?? 0) - (before.claims.nbf ?? 0)).toBe(1);
  expect(tokensValidFrom).toBeGreaterThan(0);
  expect(await statusOf(workpoint.id)).toMatchObject({ status: 'active' });

  // The new token is kept: the next step needs neither a challenge nor a token call.
  expect(await run('cae-workpoint', 'challenged-2')).toMatchObject({ status: 'succeeded' });
  expect(graphCallsFor('challenged-2').map((c) => c.status)).toEqual([200]);
  expect((await stats()).total).toBe(after.total);
});

test('no loop: a challenge that stays after the new token fails the step after two Graph calls and one token call', async () => {
  const challenge = claimsChallengeHeader({ access_token: { nbf: { essential: true, value: String(Math.floor(Date.now() / 1000)) } } });
  stack.graph.injectFaults([
    {
      status: 401,
      count: 50,
      pathPrefix: '/sites/contoso.sharepoint.com,site-1/lists/list-1/items/looping/',
      code: 'InvalidAuthenticationToken',
      headers: { 'WWW-Authenticate': challenge },
    },
  ]);
  const before = await stats();
  try {
    const done = (await run('cae-workpoint', 'looping'))!;
    expect(done).toMatchObject({ status: 'failed' });
    expect(done.steps[0]).toMatchObject({ status: 'failed', attempts: 1, error: expect.stringMatching(/claims challenge remained/) });
    expect(graphCallsFor('looping')).toHaveLength(2);
    expect((await stats()).total - before.total).toBe(1);
    expect(await statusOf(workpoint.id)).toMatchObject({ status: 'active' });
  } finally {
    stack.graph.injectFaults([]);
  }
});

test('a challenge that needs interaction (sessions revoked: AADSTS50173) marks the connection needs_reauth, once', async () => {
  await stack.graph.revokeSessions(CONTOSO_SVC_APPROVALS.username);
  const before = await stats();
  const done = (await run('cae-approvals', 'revoked-1'))!;
  expect(done).toMatchObject({ status: 'failed' });
  expect(done.steps[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/AADSTS50173.*re-authorize/i) });
  expect(graphCallsFor('revoked-1').map((c) => c.status)).toEqual([401]);
  expect((await stats()).total - before.total).toBe(1);
  expect(await statusOf(approvals.id)).toMatchObject({ status: 'needs_reauth', statusReason: expect.stringMatching(/AADSTS50173/) });

  // Nothing further reaches Graph or the token endpoint until someone signs in again.
  const failed = await run('cae-approvals', 'revoked-2');
  expect(failed).toMatchObject({ status: 'failed' });
  expect(graphCallsFor('revoked-2')).toEqual([]);
  expect((await stats()).total - before.total).toBe(1);
  // The other connection is untouched.
  expect(await statusOf(workpoint.id)).toMatchObject({ status: 'active' });
});
