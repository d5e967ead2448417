/**
 * The identity provider failing while steps refresh tokens, injected at its token endpoint (HTTP level, real MSAL):
 * connections reset ('down'), HTTP 500 and 503 answers, a 20-minute outage, and a revoked grant. Access tokens live
 * 200 s, which the broker always renews (it renews within 300 s of expiry), so every step refreshes. A step that
 * cannot get its token is tried again by a scheduled message (src/runs/core/retry-schedule.ts); the stack runs on a simulated
 * clock (`now`), which `advance` moves, so retries minutes apart take milliseconds.
 */
import { CONTOSO_SVC_APPROVALS, CONTOSO_SVC_WORKPOINT } from '../../src/local/identity-provider/directory';
import { getTokenStats, revokeLocalGrants, setTokenEndpointFault, type TokenEndpointFault } from '../../src/local/identity-provider/launch';
import { queueNames } from '../../src/config/queues';
import { KeepAlive } from '../../src/connections/keep-alive';
import { authorizeConnection } from '../support/connections';
import { signIn } from '../support/sign-in';
import { useTally } from '../support/tally';
import { startTestStack, type TestStack } from '../support/test-stack';
import type { ConnectionView } from '../../src/connections/connection';
import type { RunView } from '../../src/runs/run';

const tally = useTally();
let stack: TestStack;
let offsetMs = 0;
const now = () => new Date(Date.now() + offsetMs);

/** Moves the simulated clock and waits for what became due (scheduled retries) to be handled. */
async function advance(ms: number) {
  offsetMs += ms;
  stack.bus.clockChanged();
  await stack.bus.idle({ horizonMs: 0 });
}
let workpoint: ConnectionView;
let approvals: ConnectionView;
const PROCESS = 'two-accounts';

beforeAll(async () => {
  stack = await startTestStack({ identityProvider: { accessTokenTtlSeconds: 200 }, now });
  workpoint = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  approvals = await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Approvals');
  const body = {
    name: 'Two accounts',
    kind: 'system',
    triggers: [{ event: 'ItemCreated' }],
    steps: [
      { id: 'mark', type: 'action', action: 'updateFields', inputs: { fields: { Seen: true } } },
      { id: 'stage', type: 'action', action: 'changeStage', inputs: { stage: 'Review' }, permissions: { executeAs: approvals.id } },
    ],
  };
  expect((await stack.api(`processes/${PROCESS}`, { method: 'PUT', body })).status).toBe(200);
  expect((await stack.api(`processes/${PROCESS}/publish`, { method: 'POST' })).status).toBe(200);
});
afterAll(async () => {
  await setTokenEndpointFault(stack.identityProvider.url, null).catch(() => undefined);
  await stack?.stop();
});

const callsFor = (itemId: string) => stack.graph.calls.filter((c) => c.path.includes(`/items/${itemId}/`));
const stats = () => getTokenStats(stack.identityProvider.url);

async function postEvent(itemId: string) {
  const res = await stack.api('events', {
    method: 'POST',
    body: { type: 'ItemCreated', subject: { siteId: 'contoso.sharepoint.com,site-1', listId: 'list-1', itemId }, data: {} },
  });
  expect(res.status).toBe(202);
}

async function runFor(itemId: string) {
  const runs = (await stack.api(`runs?processId=${PROCESS}`)).json.runs as RunView[];
  return runs.find((r) => r.subject.itemId === itemId);
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function connectionStates() {
  const list = (await stack.api('connections')).json.connections as ConnectionView[];
  return list.map((c) => ({ id: c.id, status: c.status, statusReason: c.statusReason }));
}

const faulted = (s: Awaited<ReturnType<typeof stats>>, key: string) => s.byStatus[key] ?? 0;

describe.each<[string, TokenEndpointFault, string]>([
  ['connections reset (down)', 'down', 'down'],
  ['HTTP 500', { status: 500 }, '500'],
  ['HTTP 503 with Retry-After', { status: 503, retryAfterSeconds: 1 }, '503'],
])('identity provider failing during refresh: %s', (_label, fault, statusKey) => {
  test('steps retry with backoff, then as a scheduled message, nothing is marked needs_reauth; once it is back they complete', async () => {
    const itemId = `idp-${statusKey}`;
    const before = await stats();
    const busBefore = stack.bus.stats()[queueNames.steps];
    const started = Date.now();
    await setTokenEndpointFault(stack.identityProvider.url, fault);
    await postEvent(itemId);

    // The first step fails through one whole delivery (3 tries with backoff), then waits for a scheduled retry.
    const waiting = await until('a scheduled retry of the step', async () => {
      const run = await runFor(itemId);
      return run?.waitingFor && 'reason' in run.waitingFor && run.waitingFor.reason === 'retrying' ? run : undefined;
    });
    await stack.bus.idle({ horizonMs: 0 });
    const during = await stats();
    await setTokenEndpointFault(stack.identityProvider.url, null);
    const outage = Date.now() - started;
    const injected = faulted(during, statusKey) - faulted(before, statusKey);

    // While the provider was failing: no retry storm, the run kept waiting, nobody was marked needs_reauth.
    expect(outage).toBeGreaterThanOrEqual(600); // 2 waits of >= 250 ms and >= 500 ms before the retry is scheduled
    expect(injected).toBeGreaterThanOrEqual(3);
    expect(injected).toBeLessThanOrEqual(6);
    expect(waiting).toMatchObject({
      status: 'running',
      waitingFor: { reason: 'retrying', stepIndex: 0, attempt: 1, nextAttemptAt: expect.any(String) },
    });
    const wait = Date.parse((waiting.waitingFor as { nextAttemptAt: string }).nextAttemptAt) - now().getTime();
    expect(wait).toBeGreaterThan(10_000); // a scheduled message, not a redelivery at once
    expect(waiting.steps[0]).toMatchObject({ status: 'pending', attempts: 0 });
    expect(stack.bus.stats()[queueNames.steps]).toMatchObject({ abandoned: busBefore.abandoned, scheduled: 1 });
    expect((await connectionStates()).every((c) => c.status === 'active' && !c.statusReason)).toBe(true);

    await advance(wait);
    const run = (await runFor(itemId))!;
    expect(run.status).toBe('succeeded');
    expect(run.waitingFor).toBeUndefined();
    expect(run.steps.map((s) => [s.id, s.status, s.attempts, s.executedAs?.username])).toEqual([
      ['mark', 'succeeded', 1, CONTOSO_SVC_WORKPOINT.username],
      ['stage', 'succeeded', 1, CONTOSO_SVC_APPROVALS.username],
    ]);
    const calls = callsFor(itemId);
    expect(calls.map((c) => c.username)).toEqual([CONTOSO_SVC_WORKPOINT.username, CONTOSO_SVC_APPROVALS.username]);
    expect((await connectionStates()).every((c) => c.status === 'active' && !c.statusReason)).toBe(true);
    expect(stack.bus.stats()[queueNames.steps].deadLettered).toBe(busBefore.deadLettered);
    expect(stack.logs.some((l) => l.includes('Step will be retried') && l.includes('temporarily unavailable'))).toBe(true);

    tally.record({
      kind: 'fault',
      category: 'Identity provider down or failing during refresh (reset, 500, 503)',
      tried: run.steps.length,
      handled: run.steps.filter((s) => s.status === 'succeeded').length,
      faultsInjected: injected,
      lost: Math.abs(calls.length - 2),
    });
  });
});

test("the app's own client secret expired (AADSTS7000222): steps wait and retry, no connection changes status, one ApplicationCredentialsInvalid", async () => {
  const itemId = 'app-credentials';
  const sent: { messageId: string; body: unknown }[] = [];
  const send = stack.bus.send.bind(stack.bus);
  stack.bus.send = async (queue, messages) => {
    await send(queue, messages);
    if (queue === queueNames.connectionEvents) sent.push(...messages.map((m) => ({ messageId: m.messageId, body: m.body })));
  };
  const busBefore = stack.bus.stats()[queueNames.steps];
  const before = await stats();
  try {
    await setTokenEndpointFault(stack.identityProvider.url, { aadsts: 7000222 });
    await postEvent(itemId);
    await until('a scheduled retry of the step', async () => stack.bus.stats()[queueNames.steps].scheduled > busBefore.scheduled);

    // The admin's "test" says what is wrong, and that it is not the connection.
    const tested = await stack.api(`connections/${workpoint.id}/test`, { method: 'POST' });
    expect(tested.json).toEqual({
      ok: false,
      status: 'unavailable',
      reason: expect.stringMatching(/app's own credentials.*AADSTS7000222.*client secret/),
    });
    // Keep-alive (every connection idle): both fail for now, neither is marked.
    const report = await new KeepAlive({
      connections: stack.internals.connectionRepository,
      broker: stack.internals.broker,
      lifecycle: stack.internals.connectionLifecycle,
      idleDays: 0,
    }).run();
    expect(report.needsReauth).toEqual([]);
    expect(report.failed.map((f) => f.id).sort()).toEqual([workpoint.id, approvals.id].sort());
    expect(await runFor(itemId)).toMatchObject({ status: 'running', steps: [{ status: 'pending' }, { status: 'pending' }] });
    expect((await connectionStates()).every((c) => c.status === 'active' && !c.statusReason)).toBe(true);
  } finally {
    await setTokenEndpointFault(stack.identityProvider.url, null);
  }
  const refused = ((await stats()).byStatus['401'] ?? 0) - (before.byStatus['401'] ?? 0);
  expect(refused).toBeGreaterThanOrEqual(5); // steps, test and keep-alive all tried

  // One signal for all of it: one message on connection-events, one error line; no status change announced.
  expect(sent).toEqual([
    {
      messageId: expect.stringMatching(/^ApplicationCredentialsInvalid:c0c0c0c0-0000-4000-8000-00000000c11e:\d+$/),
      body: {
        type: 'ApplicationCredentialsInvalid',
        clientId: 'c0c0c0c0-0000-4000-8000-00000000c11e',
        setting: 'AUTH_CLIENT_ID',
        aadsts: 7000222,
        reason: expect.stringContaining('AADSTS7000222'),
        at: expect.any(String),
      },
    },
  ]);
  expect(stack.logs.filter((l) => l.startsWith('[error]') && l.includes('ApplicationCredentialsInvalid'))).toHaveLength(1);

  // Once the secret is fixed the waiting run completes as the same accounts, at its scheduled retry.
  await advance(60_000);
  const run = (await runFor(itemId))!;
  expect(run.status).toBe('succeeded');
  expect(callsFor(itemId).map((c) => c.username)).toEqual([CONTOSO_SVC_WORKPOINT.username, CONTOSO_SVC_APPROVALS.username]);
  expect((await connectionStates()).every((c) => c.status === 'active')).toBe(true);
  tally.record({
    kind: 'fault',
    category: "App's client secret expired during steps (invalid_client)",
    tried: 2,
    handled: 2,
    faultsInjected: refused,
    lost: 0,
  });
});

const retrying = (run: RunView | undefined) =>
  run?.waitingFor && 'reason' in run.waitingFor && run.waitingFor.reason === 'retrying' ? run.waitingFor : undefined;

test('a 20-minute outage of the token endpoint (simulated clock): runs wait on scheduled retries, then every run completes, each action once', async () => {
  const items = ['outage-1', 'outage-2', 'outage-3'];
  const before = await stats();
  const busBefore = stack.bus.stats()[queueNames.steps];
  const logsBefore = stack.logs.length;
  const outageStart = now().getTime();
  await setTokenEndpointFault(stack.identityProvider.url, { status: 503 });
  try {
    for (const item of items) await postEvent(item);
    await until('every run waiting for a retry', async () => (await Promise.all(items.map(runFor))).every((r) => retrying(r)));
    await stack.bus.idle({ horizonMs: 0 });
    let maxAttempt = 0;
    while (now().getTime() - outageStart < 20 * 60_000) {
      await advance(60_000);
      for (const run of await Promise.all(items.map(runFor))) {
        // Still running, waiting for its next try; nothing done, nothing given up, nothing dead-lettered.
        expect(run).toMatchObject({ status: 'running', steps: [{ status: 'pending' }, { status: 'pending' }] });
        maxAttempt = Math.max(maxAttempt, retrying(run)?.attempt ?? 0);
      }
    }
    expect(maxAttempt).toBeGreaterThanOrEqual(4); // tried again and again during the outage, minutes apart
    expect(maxAttempt).toBeLessThanOrEqual(10);
  } finally {
    await setTokenEndpointFault(stack.identityProvider.url, null);
  }
  const refused = faulted(await stats(), '503') - faulted(before, '503');
  expect(items.flatMap(callsFor)).toEqual([]);

  // Recovery: each run's next scheduled retry finds the provider back (the longest delay is 15 minutes).
  for (let i = 0; i < 20; i++) {
    const runs = await Promise.all(items.map(runFor));
    if (runs.every((r) => r?.status === 'succeeded')) break;
    await advance(60_000);
  }
  const runs = (await Promise.all(items.map(runFor))) as RunView[];
  for (const run of runs) {
    expect(run).toMatchObject({ status: 'succeeded' });
    expect(run.waitingFor).toBeUndefined();
    expect(run.steps.map((s) => [s.status, s.attempts])).toEqual([
      ['succeeded', 1],
      ['succeeded', 1],
    ]);
  }
  for (const item of items) {
    expect(callsFor(item).map((c) => c.username)).toEqual([CONTOSO_SVC_WORKPOINT.username, CONTOSO_SVC_APPROVALS.username]);
  }
  const after = stack.bus.stats()[queueNames.steps];
  expect(after.deadLettered).toBe(busBefore.deadLettered);
  expect(after.abandoned).toBe(busBefore.abandoned);
  expect((await connectionStates()).every((c) => c.status === 'active' && !c.statusReason)).toBe(true);
  expect(stack.logs.slice(logsBefore).filter((l) => l.includes('Step will be retried')).length).toBeGreaterThanOrEqual(items.length * 4);

  const calls = items.flatMap(callsFor);
  tally.record({
    kind: 'fault',
    category: 'Identity provider down for 20 minutes (simulated clock): scheduled retries',
    tried: runs.length * 2,
    handled: runs.flatMap((r) => r.steps).filter((s) => s.status === 'succeeded' && s.attempts === 1).length,
    // One outage: how many token calls it refused depends on the retries' jitter, so the README's count would change
    // from run to run (npm test fails on a stale README).
    faultsInjected: refused > 0 ? 1 : 0,
    lost: Math.abs(calls.length - runs.length * 2),
  });
});

test('an outage longer than STEP_RETRY_MAX_TOTAL_MINUTES (120): the run fails when the budget ends, saying how long it tried', async () => {
  const item = 'outage-long';
  const start = now().getTime();
  await setTokenEndpointFault(stack.identityProvider.url, { status: 503 });
  try {
    await postEvent(item);
    await until('the run waiting for a retry', async () => retrying(await runFor(item)));
    await stack.bus.idle({ horizonMs: 0 });
    for (let i = 0; i < 20 && (await runFor(item))?.status === 'running'; i++) await advance(15 * 60_000);
  } finally {
    await setTokenEndpointFault(stack.identityProvider.url, null);
  }
  const run = (await runFor(item))!;
  expect(now().getTime() - start).toBeGreaterThanOrEqual(120 * 60_000);
  expect(run.status).toBe('failed');
  expect(run.waitingFor).toBeUndefined();
  expect(run.steps[0]).toMatchObject({
    status: 'failed',
    error: expect.stringMatching(/^Gave up after \d+ tries over 12\d min: .*unavailable/),
  });
  expect(run.steps[1].status).toBe('pending');
  expect(callsFor(item)).toEqual([]);
  // Handled: the run ended failed with its reason (no action done, none repeated, nothing left running).
  tally.record({
    kind: 'fault',
    category: 'Identity provider down past the 120-minute retry budget (simulated clock)',
    tried: 1,
    handled: run.status === 'failed' && callsFor(item).length === 0 ? 1 : 0,
    faultsInjected: 1,
    lost: 0,
  });
});

test('a revoked grant: one token call, needs_reauth, no further calls until re-authorized; then steps run again', async () => {
  await revokeLocalGrants(stack.identityProvider.url, CONTOSO_SVC_WORKPOINT.username);
  const user = CONTOSO_SVC_WORKPOINT.username;
  // A refused refresh names no account, so all token calls are counted (nothing else runs meanwhile).
  const before = (await stats()).total;
  await postEvent('revoked-1');
  await stack.bus.idle();
  await postEvent('revoked-2');
  await stack.bus.idle();
  const afterDead = (await stats()).total;
  expect(afterDead - before).toBe(1);
  for (const itemId of ['revoked-1', 'revoked-2']) {
    const run = (await runFor(itemId))!;
    expect(run).toMatchObject({ status: 'failed' });
    expect(run.steps[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/re-authoriz/i) });
    expect(callsFor(itemId)).toEqual([]);
  }
  expect((await stack.api(`connections/${workpoint.id}`)).json).toMatchObject({ status: 'needs_reauth', statusReason: expect.any(String) });

  // Re-authorizing as the same account heals it: the next event runs both steps.
  const reauth = await stack.api(`connections/${workpoint.id}/reauthorize`, { method: 'POST' });
  const { redirectUrl } = await signIn(reauth.json.authorizeUrl, user);
  expect((await stack.get(redirectUrl)).status).toBe(200);
  await postEvent('revoked-3');
  await stack.bus.idle();
  expect(await runFor('revoked-3')).toMatchObject({ status: 'succeeded' });
  expect(callsFor('revoked-3')).toHaveLength(2);
  expect((await stack.api(`connections/${workpoint.id}`)).json.status).toBe('active');

  tally.record({ kind: 'fault', category: 'Refresh token revoked during steps', tried: 3, handled: 3, faultsInjected: 1, lost: 0 });
});
