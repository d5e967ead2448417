import { InvocationContext, type Timer } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { functionDefinitions } from '../../functions/definitions';
import type { TimerFunction } from '../../functions/registry';
import { connectionSecretName } from '../../src/adapters/secret-store';
import { queueNames } from '../../src/config/queues';
import { tableNames } from '../../src/config/settings';
import type { ConnectionView } from '../../src/connections/connection';
import { KeepAlive } from '../../src/connections/keep-alive';
import {
  CONTOSO_ADMIN,
  CONTOSO_SVC_APPROVALS,
  CONTOSO_SVC_WORKPOINT,
  FABRIKAM_ADMIN,
  FABRIKAM_SVC,
  TENANT_A,
  type LocalUser,
} from '../../src/local/identity-provider/directory';
import { getTokenStats, revokeLocalGrants, setTokenEndpointFault } from '../../src/local/identity-provider/launch';
import {
  auditOf,
  authorizeConnection,
  getConnection,
  listConnections,
  observeConnectionEvents,
  usageOf,
  type ConnectionNotice,
} from '../support/connections';
import { latestRun, postEvent } from '../support/runs';
import { signIn } from '../support/sign-in';
import { stackPerDescribe as startPerDescribe, type TestStack } from '../support/test-stack';

const dayMs = 24 * 3600_000;

/**
 * Each describe starts a stack of its own and sets up the connections it needs, so every test also passes alone
 * (`node scripts/run-each-test.mjs test/connections/lifecycle.test.ts`). Tests inside a describe may change
 * what its setup made only when no later test of that describe reads it.
 */
interface Setup {
  stack: TestStack;
  /** What the app sent to `connection-events` since the stack started. */
  notices: ConnectionNotice[];
}

// Idle days 0: the timer function refreshes every active connection, so its wiring can be tested end to end.
const stackPerDescribe = (): Setup => {
  const setup = {} as Setup;
  startPerDescribe({ env: { KEEPALIVE_IDLE_DAYS: '0' } }, (stack) => {
    setup.stack = stack;
    setup.notices = observeConnectionEvents(stack);
  });
  return setup;
};

const tokenCalls = async (stack: TestStack, user: LocalUser) =>
  (await getTokenStats(stack.identityProvider.url)).byUsername[user.username] ?? 0;

const keepAliveTimer = () => functionDefinitions.find((f): f is TimerFunction => f.kind === 'timer' && f.name === 'connections-keepalive')!;

/** Runs the timer function the way the host does; answers its log lines. */
async function runKeepAliveTimer(): Promise<string[]> {
  const lines: string[] = [];
  const context = new InvocationContext({
    invocationId: randomUUID(),
    functionName: 'connections-keepalive',
    logHandler: (level, ...args) => lines.push(`[${level}] ${args.join(' ')}`),
  });
  const timer: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
  await keepAliveTimer().handler(timer, context);
  return lines;
}

async function reauthorize(stack: TestStack, id: string, user: LocalUser) {
  const res = await stack.api(`connections/${id}/reauthorize`, { method: 'POST' });
  expect(res.status).toBe(200);
  const { redirectUrl } = await signIn(res.json.authorizeUrl, user.username);
  expect((await stack.get(redirectUrl)).status).toBe(200);
}

async function patch(stack: TestStack, id: string, body: { isDefault?: boolean; displayName?: string }) {
  expect((await stack.api(`connections/${id}`, { method: 'PATCH', body })).status).toBe(200);
}

/** Contoso's WorkPoint (the default) and Approvals, authorized in that order. */
async function twoConnections(stack: TestStack) {
  const workpoint = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  const approvals = await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Approvals');
  return { workpoint, approvals };
}

/**
 * Gives Approvals a whole life before its deletion: renamed and made default (and back), its grant revoked and found
 * dead by the keep-alive timer, re-authorized by the admin. Two status changes are announced.
 */
async function liveALife(stack: TestStack, workpoint: ConnectionView, approvals: ConnectionView) {
  await patch(stack, approvals.id, { isDefault: true, displayName: 'Approvals bot' });
  await patch(stack, workpoint.id, { isDefault: true });
  await revokeLocalGrants(stack.identityProvider.url, CONTOSO_SVC_APPROVALS.username);
  expect((await runKeepAliveTimer()).join('\n')).toMatch(/1 marked needs_reauth/);
  await reauthorize(stack, approvals.id, CONTOSO_SVC_APPROVALS);
  expect((await getConnection(stack, approvals.id)).status).toBe('active');
}

describe('health, filters and edits', () => {
  const setup = stackPerDescribe();
  let workpoint: ConnectionView;
  let approvals: ConnectionView;
  beforeAll(async () => {
    ({ workpoint, approvals } = await twoConnections(setup.stack));
  });

  test('health: every connection shows status, statusChangedAt, lastRefreshedAt and reauthorizeBy', async () => {
    for (const c of [workpoint, approvals]) {
      expect(c).toMatchObject({ status: 'active', statusChangedAt: expect.any(String), lastRefreshedAt: expect.any(String) });
      expect(c.statusReason).toBeUndefined();
      // Sign-in counts as a refresh: the token dies of inactivity 90 days (REFRESH_TOKEN_INACTIVITY_DAYS) later.
      expect(Date.parse(c.reauthorizeBy)).toBe(Date.parse(c.lastRefreshedAt!) + 90 * dayMs);
    }
    expect(workpoint.isDefault).toBe(true);
    expect(await auditOf(setup.stack, workpoint.id)).toEqual([
      {
        at: workpoint.createdAt,
        action: 'created',
        by: CONTOSO_ADMIN.username,
        details: { username: CONTOSO_SVC_WORKPOINT.username, displayName: 'WorkPoint', isDefault: true },
      },
    ]);
    expect(setup.notices).toEqual([]); // creation is not a status change
  });

  test('GET connections?status= filters; other values are refused', async () => {
    const { stack } = setup;
    expect((await listConnections(stack, '?status=active')).map((c) => c.id)).toEqual([workpoint.id, approvals.id]);
    expect(await listConnections(stack, '?status=needs_reauth')).toEqual([]);
    for (const bad of ['?status=deleted', '?status=', '?status=ACTIVE']) {
      const res = await stack.api(`connections${bad}`);
      expect(res.status).toBe(400);
      expect(res.json.error.message).toBeTruthy();
    }
  });

  test('Test proves the grant (lastRefreshedAt moves) without counting as a use (lastUsedAt stays unset)', async () => {
    const { stack } = setup;
    const before = await getConnection(stack, approvals.id);
    const res = await stack.api(`connections/${approvals.id}/test`, { method: 'POST' });
    expect(res.json).toMatchObject({ ok: true });
    await new Promise((r) => setTimeout(r, 50)); // the broker reports refreshes and uses asynchronously
    const after = await getConnection(stack, approvals.id);
    expect(Date.parse(after.lastRefreshedAt!)).toBeGreaterThan(Date.parse(before.lastRefreshedAt!));
    // An administrator checking a connection is not a process using it: "Last used" must keep saying Never.
    expect(after.lastUsedAt).toBeUndefined();
  });

  // Changes names and defaults: the last test of this describe.
  test('renames and default changes are audited on each connection they touch, by the admin', async () => {
    const { stack } = setup;
    await patch(stack, approvals.id, { isDefault: true, displayName: 'Approvals bot' });
    await patch(stack, workpoint.id, { isDefault: true });
    const a = await auditOf(stack, approvals.id);
    expect(a.map((e) => [e.action, e.by, e.details])).toEqual([
      ['default_changed', CONTOSO_ADMIN.username, { isDefault: false }],
      ['default_changed', CONTOSO_ADMIN.username, { isDefault: true }],
      ['renamed', CONTOSO_ADMIN.username, { from: 'Approvals', to: 'Approvals bot' }],
      ['created', CONTOSO_ADMIN.username, expect.objectContaining({ isDefault: false })],
    ]);
    expect((await auditOf(stack, workpoint.id)).map((e) => [e.action, e.details.isDefault])).toEqual([
      ['default_changed', true],
      ['default_changed', false],
      ['created', true],
    ]);
    // Newest first, by time.
    const times = a.map((e) => Date.parse(e.at));
    expect([...times].sort((x, y) => y - x)).toEqual(times);
  });
});

describe('keep-alive', () => {
  const setup = stackPerDescribe();
  let workpoint: ConnectionView;
  let approvals: ConnectionView;
  /** Between the sign-ins of workpoint and approvals: the injected clock's cutoff. */
  let between: number;
  beforeAll(async () => {
    const { stack } = setup;
    workpoint = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
    await new Promise((r) => setTimeout(r, 20));
    between = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    approvals = await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Approvals');
    // A connection of the other tenant, set up by its own admin.
    await authorizeConnection(stack, FABRIKAM_SVC, undefined, FABRIKAM_ADMIN);
  });

  test('refreshes only connections idle for KEEPALIVE_IDLE_DAYS (injected clock); a keep-alive is not a use', async () => {
    const { stack } = setup;
    const ctx = stack.internals;
    // 14 days after `between`: workpoint (signed in before) is idle; approvals and Fabrikam's (after) are not.
    const keepAlive = new KeepAlive({
      connections: ctx.connectionRepository,
      broker: ctx.broker,
      lifecycle: ctx.connectionLifecycle,
      idleDays: 14,
      now: () => new Date(between + 14 * dayMs),
    });
    const users = [CONTOSO_SVC_WORKPOINT, CONTOSO_SVC_APPROVALS, FABRIKAM_SVC];
    const calls = await Promise.all(users.map((u) => tokenCalls(stack, u)));
    const before = await getConnection(stack, workpoint.id);
    const report = await keepAlive.run();
    expect(report).toMatchObject({
      active: 3,
      idle: 1,
      refreshed: [{ tenantId: TENANT_A.id, id: workpoint.id }],
      needsReauth: [],
      failed: [],
    });
    // A forced refresh: one token-endpoint call, even though the sign-in's access token was still fresh.
    expect(await Promise.all(users.map((u) => tokenCalls(stack, u)))).toEqual([calls[0] + 1, calls[1], calls[2]]);
    await new Promise((r) => setTimeout(r, 50)); // the broker reports uses asynchronously
    const after = await getConnection(stack, workpoint.id);
    expect(Date.parse(after.lastRefreshedAt!)).toBeGreaterThan(Date.parse(before.lastRefreshedAt!));
    expect(Date.parse(after.reauthorizeBy)).toBe(Date.parse(after.lastRefreshedAt!) + 90 * dayMs);
    expect(after.lastUsedAt).toBeUndefined();
    expect(after.status).toBe('active');
  });

  test('the timer function (idle days 0 here) refreshes every active connection across tenants', async () => {
    const { stack } = setup;
    expect(keepAliveTimer().schedule).toBe('%KEEPALIVE_SCHEDULE%');
    expect(stack.context.settings.KEEPALIVE_SCHEDULE).toBe('0 0 3 * * *');
    const users = [CONTOSO_SVC_WORKPOINT, CONTOSO_SVC_APPROVALS, FABRIKAM_SVC];
    const before = await Promise.all(users.map((u) => tokenCalls(stack, u)));
    const lines = await runKeepAliveTimer();
    expect(lines.join('\n')).toMatch(/3 active, 3 idle, 3 refreshed, 0 marked needs_reauth, 0 failed/);
    expect(await Promise.all(users.map((u) => tokenCalls(stack, u)))).toEqual(before.map((n) => n + 1));
  });

  test('a transient provider failure changes no status and announces nothing', async () => {
    const { stack, notices } = setup;
    await setTokenEndpointFault(stack.identityProvider.url, { status: 503 });
    let report;
    try {
      report = await stack.context.keepAlive.run();
    } finally {
      await setTokenEndpointFault(stack.identityProvider.url, null);
    }
    expect(report.refreshed).toEqual([]);
    expect(report.needsReauth).toEqual([]);
    expect(report.failed).toHaveLength(3);
    expect(report.failed.map((f) => f.id)).toEqual(expect.arrayContaining([workpoint.id, approvals.id]));
    expect(report.failed[0].reason).toMatch(/temporarily unavailable/i);
    expect(await listConnections(stack, '?status=active')).toHaveLength(2);
    expect(await listConnections(stack, '?status=active', FABRIKAM_ADMIN)).toHaveLength(1);
    expect(notices).toEqual([]);
  });

  // Kills Approvals' grant: after every test that needs it alive.
  describe('a revoked grant', () => {
    /** The timer's log lines when it first found the grant dead. */
    let lines: string[];
    beforeAll(async () => {
      await revokeLocalGrants(setup.stack.identityProvider.url, CONTOSO_SVC_APPROVALS.username);
      lines = await runKeepAliveTimer();
    });

    test('(hidden behind a fresh cached access token) is found, marked needs_reauth and announced once', async () => {
      const { stack, notices } = setup;
      expect(lines.join('\n')).toMatch(/3 active, 3 idle, 2 refreshed, 1 marked needs_reauth, 0 failed/);
      expect(lines.join('\n')).toContain(`Connection ${approvals.id} of tenant ${TENANT_A.id} needs re-authorization`);

      const dead = await getConnection(stack, approvals.id);
      expect(dead).toMatchObject({ status: 'needs_reauth', statusReason: expect.stringMatching(/re-authorize/i) });
      expect(Date.parse(dead.statusChangedAt)).toBeGreaterThan(Date.now() - 30_000);
      expect(dead.reauthorizeBy).toBe(dead.statusChangedAt); // due now
      expect((await listConnections(stack, '?status=needs_reauth')).map((c) => c.id)).toEqual([approvals.id]);
      expect((await listConnections(stack, '?status=active')).map((c) => c.id)).toEqual([workpoint.id]);

      expect(notices).toEqual([
        {
          messageId: `${approvals.id}:needs_reauth:${Date.parse(dead.statusChangedAt)}`,
          body: {
            type: 'ConnectionStatusChanged',
            tenantId: TENANT_A.id,
            connectionId: approvals.id,
            displayName: 'Approvals',
            username: CONTOSO_SVC_APPROVALS.username,
            from: 'active',
            to: 'needs_reauth',
            reason: dead.statusReason,
            at: dead.statusChangedAt,
          },
        },
      ]);
      const [marked] = await auditOf(stack, approvals.id);
      expect(marked).toEqual({
        at: dead.statusChangedAt,
        action: 'marked_needs_reauth',
        by: 'system',
        details: { reason: dead.statusReason! },
      });

      // Seeing it dead again (next keep-alive skips it; a test call finds it dead) records nothing more.
      await runKeepAliveTimer();
      expect((await stack.api(`connections/${approvals.id}/test`, { method: 'POST' })).json).toMatchObject({
        ok: false,
        status: 'needs_reauth',
      });
      expect(notices).toHaveLength(1);
      expect((await auditOf(stack, approvals.id)).filter((e) => e.action === 'marked_needs_reauth')).toHaveLength(1);
    });

    test('re-authorizing brings it back to active, announced and audited as the admin', async () => {
      const { stack, notices } = setup;
      await reauthorize(stack, approvals.id, CONTOSO_SVC_APPROVALS);
      const back = await getConnection(stack, approvals.id);
      expect(back).toMatchObject({ status: 'active' });
      expect(back.statusReason).toBeUndefined();
      expect(notices).toHaveLength(2);
      expect(notices[1].body).toEqual({
        type: 'ConnectionStatusChanged',
        tenantId: TENANT_A.id,
        connectionId: approvals.id,
        displayName: 'Approvals',
        username: CONTOSO_SVC_APPROVALS.username,
        from: 'needs_reauth',
        to: 'active',
        at: back.statusChangedAt,
      });
      const [reactivated, reauthorized] = await auditOf(stack, approvals.id);
      expect(reactivated).toMatchObject({ action: 'reactivated', by: CONTOSO_ADMIN.username, details: { from: 'needs_reauth' } });
      expect(reauthorized).toMatchObject({
        action: 'reauthorized',
        by: CONTOSO_ADMIN.username,
        details: { username: CONTOSO_SVC_APPROVALS.username },
      });
    });
  });
});

const intake = (approvalsId: string) => ({
  name: 'Contract intake',
  kind: 'system',
  triggers: [{ event: 'ItemCreated' }],
  steps: [
    { id: 'mark', type: 'action', action: 'updateFields', inputs: { fields: { Seen: true } } },
    { id: 'stage', type: 'action', action: 'changeStage', inputs: { stage: 'Legal review' }, permissions: { executeAs: approvalsId } },
  ],
});
const nightly = {
  name: 'Nightly',
  kind: 'system',
  triggers: [{ event: 'EntityCreated' }],
  steps: [{ id: 'touch', type: 'action', action: 'updateFields', inputs: { fields: { Touched: true } } }],
};

/** Two connections, Approvals with a whole life, and processes that use them: published intake and nightly, a draft. */
function tenantWithProcesses(setup: Setup) {
  const made = {} as { workpoint: ConnectionView; approvals: ConnectionView };
  beforeAll(async () => {
    const { stack } = setup;
    Object.assign(made, await twoConnections(stack));
    await liveALife(stack, made.workpoint, made.approvals);
    for (const [id, body] of [
      ['intake', intake(made.approvals.id)],
      ['nightly', nightly],
    ] as const) {
      expect((await stack.api(`processes/${id}`, { method: 'PUT', body })).status).toBe(200);
      expect((await stack.api(`processes/${id}/publish`, { method: 'POST' })).status).toBe(200);
    }
    // A draft only, naming approvals as the process's identity.
    // (A system process: a user process cannot have runAs, its steps run as the user who starts it.)
    const draft = {
      name: 'Draft',
      kind: 'system',
      triggers: [{ event: 'EntityUpdated' }],
      runAs: made.approvals.id,
      steps: [{ id: 'x', type: 'action', action: 'changeStage', inputs: { stage: 'A' } }],
    };
    expect((await stack.api('processes/draft-only', { method: 'PUT', body: draft })).status).toBe(200);
  });
  return made;
}

describe('impact analysis', () => {
  const setup = stackPerDescribe();
  const made = tenantWithProcesses(setup);

  test('usage lists explicit references (executeAs, runAs) in drafts and published versions', async () => {
    const { approvals } = made;
    expect(await usageOf(setup.stack, approvals.id)).toEqual({
      connectionId: approvals.id,
      isDefault: false,
      references: [
        { processId: 'draft-only', processName: 'Draft', version: 'draft', via: 'runAs' },
        { processId: 'intake', processName: 'Contract intake', version: 'draft', stepId: 'stage', via: 'executeAs' },
        { processId: 'intake', processName: 'Contract intake', version: 1, stepId: 'stage', via: 'executeAs' },
      ],
    });
  });

  test("usage lists the default connection's implicit references: action steps of system processes that name no connection", async () => {
    const { workpoint } = made;
    expect(await usageOf(setup.stack, workpoint.id)).toEqual({
      connectionId: workpoint.id,
      isDefault: true,
      references: [
        { processId: 'intake', processName: 'Contract intake', version: 'draft', stepId: 'mark', via: 'default' },
        { processId: 'intake', processName: 'Contract intake', version: 1, stepId: 'mark', via: 'default' },
        { processId: 'nightly', processName: 'Nightly', version: 'draft', stepId: 'touch', via: 'default' },
        { processId: 'nightly', processName: 'Nightly', version: 1, stepId: 'touch', via: 'default' },
      ],
    });
    expect((await setup.stack.api(`connections/${randomUUID()}/usage`)).status).toBe(404);
  });

  // Deletes Approvals: the last test of this describe.
  test('DELETE of a referenced connection answers 409 with the usage and changes nothing; force=true deletes', async () => {
    const { stack, notices } = setup;
    const { approvals } = made;
    const usage = await usageOf(stack, approvals.id);
    const refused = await stack.api(`connections/${approvals.id}`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(refused.json).toEqual({ error: { code: 'conflict', message: expect.stringMatching(/force=true/), usage } });
    expect((await stack.api(`connections/${approvals.id}?force=yes`, { method: 'DELETE' })).status).toBe(400);
    expect((await getConnection(stack, approvals.id)).id).toBe(approvals.id);
    expect(notices).toHaveLength(2); // its life: needs_reauth, then active again

    expect((await stack.api(`connections/${approvals.id}?force=true`, { method: 'DELETE' })).status).toBe(204);
    expect((await stack.api(`connections/${approvals.id}`)).status).toBe(404);
    expect((await stack.api(`connections/${approvals.id}?force=true`, { method: 'DELETE' })).status).toBe(404);

    expect(notices).toHaveLength(3);
    const deleted = notices[2];
    expect(deleted.body).toEqual({
      type: 'ConnectionStatusChanged',
      tenantId: TENANT_A.id,
      connectionId: approvals.id,
      displayName: 'Approvals bot',
      username: CONTOSO_SVC_APPROVALS.username,
      from: 'active',
      to: 'deleted',
      at: expect.any(String),
    });
    expect(deleted.messageId).toBe(`${approvals.id}:deleted:${Date.parse(deleted.body.at)}`);
  });
});

describe('after a forced delete', () => {
  const setup = stackPerDescribe();
  const made = tenantWithProcesses(setup);
  /** The announcement of Approvals' deletion. */
  let deletion: ConnectionNotice;
  beforeAll(async () => {
    const { stack, notices } = setup;
    expect((await stack.api(`connections/${made.approvals.id}?force=true`, { method: 'DELETE' })).status).toBe(204);
    deletion = notices.find((n) => n.body.connectionId === made.approvals.id && n.body.to === 'deleted')!;
    expect(deletion).toBeDefined();
  });

  test('the audit log outlives the connection: the deletion, by whom, and the whole history', async () => {
    const { stack } = setup;
    const { approvals } = made;
    const entries = await auditOf(stack, approvals.id);
    expect(entries[0]).toEqual({
      at: deletion.body.at,
      action: 'deleted',
      by: CONTOSO_ADMIN.username,
      details: {
        username: CONTOSO_SVC_APPROVALS.username,
        displayName: 'Approvals bot',
        status: 'active',
        wasDefault: false,
        references: 3,
        forced: true,
      },
    });
    expect(entries.map((e) => [e.action, e.by])).toEqual([
      ['deleted', CONTOSO_ADMIN.username],
      ['reactivated', CONTOSO_ADMIN.username],
      ['reauthorized', CONTOSO_ADMIN.username],
      ['marked_needs_reauth', 'system'],
      ['default_changed', CONTOSO_ADMIN.username],
      ['default_changed', CONTOSO_ADMIN.username],
      ['renamed', CONTOSO_ADMIN.username],
      ['created', CONTOSO_ADMIN.username],
    ]);
    const limited = (await stack.api(`connections/${approvals.id}/audit?limit=2`)).json.entries as { action: string }[];
    expect(limited.map((e) => e.action)).toEqual(['deleted', 'reactivated']);
    // Never any connection here: 404, also for another tenant's admin asking about this one.
    expect((await stack.api(`connections/${randomUUID()}/audit`)).status).toBe(404);
    const fabrikam = await stack.tokenFor(FABRIKAM_ADMIN);
    expect((await stack.api(`connections/${approvals.id}/audit`, { token: fabrikam })).status).toBe(404);
  });

  test('publishing a process that names it fails (422) and its runs fail with the reason', async () => {
    const { stack } = setup;
    const { approvals } = made;
    const publish = await stack.api('processes/intake/publish', { method: 'POST' });
    expect(publish.status).toBe(422);
    expect(publish.json.error.details).toEqual([
      { path: 'steps[1].permissions.executeAs', message: expect.stringContaining('does not exist in this tenant') },
    ]);

    await postEvent(stack, 'ItemCreated');
    const run = await latestRun(stack, 'intake');
    expect(run.status).toBe('failed');
    expect(run.steps.map((s) => [s.id, s.status, s.executedAs?.username])).toEqual([
      ['mark', 'succeeded', CONTOSO_SVC_WORKPOINT.username],
      ['stage', 'failed', undefined],
    ]);
    expect(run.steps[1].error).toMatch(new RegExp(`connection ${approvals.id} this step runs as no longer exists`));
  });

  test('every announced change reached the queue once, and no audit row holds token material', async () => {
    const { stack, notices } = setup;
    const ids = notices.map((n) => n.messageId);
    expect(ids.length).toBeGreaterThanOrEqual(3); // needs_reauth, active, deleted
    expect(new Set(ids).size).toBe(ids.length);
    const stats = stack.bus.stats()[queueNames.connectionEvents];
    expect(stats).toMatchObject({ accepted: notices.length, duplicatesDropped: 0 });

    const rows: string[] = [];
    const table = await stack.internals.tables(tableNames(stack.context.settings).connectionAudit);
    for await (const row of table.listEntities()) rows.push(JSON.stringify(row));
    expect(rows.length).toBeGreaterThanOrEqual(11); // the setup alone: 3 of WorkPoint, 8 of Approvals
    const text = rows.join('\n');
    expect(text).not.toMatch(/eyJ[\w-]+\.|refresh_token|access_token|"secret"|code_verifier/i);
    let secretsChecked = 0;
    for (const c of await listConnections(stack)) {
      const cache = await stack.internals.secrets.get(connectionSecretName(TENANT_A.id, c.id));
      for (const section of Object.values(JSON.parse(cache ?? '{}') as Record<string, Record<string, { secret?: string }>>)) {
        for (const entry of Object.values(section)) {
          if (!entry.secret) continue;
          secretsChecked++;
          expect(text).not.toContain(entry.secret);
        }
      }
    }
    expect(secretsChecked).toBeGreaterThan(0);
  });

  // Deletes WorkPoint: the last test of this describe.
  test('deleting the default moves the default to another connection; default steps then run as it', async () => {
    const { stack, notices } = setup;
    const { workpoint, approvals } = made;
    const approvals2 = await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Approvals again');
    expect(approvals2.id).not.toBe(approvals.id);
    expect(approvals2.isDefault).toBe(false);

    const refused = await stack.api(`connections/${workpoint.id}`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(refused.json.error.usage).toMatchObject({
      isDefault: true,
      references: expect.arrayContaining([expect.objectContaining({ via: 'default' })]),
    });
    expect((await stack.api(`connections/${workpoint.id}?force=true`, { method: 'DELETE' })).status).toBe(204);

    expect((await listConnections(stack)).map((c) => [c.id, c.isDefault])).toEqual([[approvals2.id, true]]);
    const [moved] = await auditOf(stack, approvals2.id);
    expect(moved).toMatchObject({
      action: 'default_changed',
      by: CONTOSO_ADMIN.username,
      details: { isDefault: true, previousDefault: workpoint.id, because: expect.stringContaining('deleted') },
    });
    expect((await auditOf(stack, workpoint.id))[0]).toMatchObject({ action: 'deleted', details: { wasDefault: true, forced: true } });
    expect(notices.at(-1)!.body).toMatchObject({ connectionId: workpoint.id, from: 'active', to: 'deleted' });

    await new Promise((r) => setTimeout(r, 5100)); // the step runner reuses a tenant's connection list for 5 s
    await postEvent(stack, 'EntityCreated');
    const run = await latestRun(stack, 'nightly');
    expect(run).toMatchObject({ status: 'succeeded' });
    expect(run.steps[0].executedAs).toEqual({
      kind: 'connection',
      connectionId: approvals2.id,
      username: CONTOSO_SVC_APPROVALS.username,
      objectId: CONTOSO_SVC_APPROVALS.objectId,
    });
  });
});

describe('marking needs_reauth', () => {
  const setup = stackPerDescribe();

  test('concurrent observers of one dead grant mark and announce it once', async () => {
    const { stack, notices } = setup;
    const approvals = await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Approvals');
    const results = await Promise.all(
      [1, 2, 3].map(() =>
        stack.internals.connectionLifecycle.markNeedsReauth({ tenantId: TENANT_A.id, id: approvals.id }, 'Revoked (test).'),
      ),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(notices.map((n) => [n.body.connectionId, n.body.to])).toEqual([[approvals.id, 'needs_reauth']]);
    expect((await auditOf(stack, approvals.id)).filter((e) => e.action === 'marked_needs_reauth')).toHaveLength(1);
  });
});
