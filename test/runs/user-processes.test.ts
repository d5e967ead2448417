import type { OutgoingMessage } from '../../src/adapters/message-queue';
import { queueNames, type QueueName } from '../../src/config/queues';
import { tableNames } from '../../src/config/settings';
import type { ConnectionView } from '../../src/connections/connection';
import {
  CONTOSO_ADMIN,
  CONTOSO_SVC_APPROVALS,
  CONTOSO_SVC_WORKPOINT,
  CONTOSO_USER,
  FABRIKAM_ADMIN,
  type LocalUser,
} from '../../src/local/identity-provider/directory';
import { mintLocalToken } from '../../src/local/identity-provider/launch';
import type { GraphCall } from '../../src/local/graph-stand-in';
import { stepMessage } from '../../src/runs/step-message';
import { authorizeConnection } from '../support/connections';
import { saveAndPublish, type RunView } from '../support/runs';
import { startTestStack, type TestStack } from '../support/test-stack';

/**
 * User processes (issue 13) end to end: real MSAL (On-Behalf-Of included) against the local identity provider,
 * Azurite, the Key Vault and Graph stand-ins and the in-process bus. A user starts a process on an item; its
 * unelevated steps run as that user, its "Execute as" step as the connection; forms wait for the user.
 */

let stack: TestStack;
let approvals: ConnectionView;
/** Every held step message (see holdSteps). */
let held: { queue: QueueName; messages: OutgoingMessage[] }[] | undefined;

const item = { siteId: 'contoso.sharepoint.com,site-1', listId: 'requests', itemId: '11' };
const hidden = { siteId: 'contoso.sharepoint.com,site-1', listId: 'restricted-hr', itemId: '5' };
const itemKey = (i: typeof item) => `${i.siteId}/${i.listId}/${i.itemId}`;

beforeAll(async () => {
  stack = await startTestStack();
  approvals = await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Approvals');
  await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  // The items exist in SharePoint before anyone starts a process on them.
  stack.graph.items.set(itemKey(item), { Title: 'Laptop request', Stage: 'New' });
  stack.graph.items.set(itemKey(hidden), { Title: 'Salary review', Stage: 'New' });
  // Every On-Behalf-Of token the app gets is a secret the leak scan must not find anywhere.
  const tokens = stack.internals.userTokens;
  const graphToken = tokens.graphToken.bind(tokens);
  tokens.graphToken = async (assertion, options) => {
    const token = await graphToken(assertion, options);
    stack.secretsSeen.set(token.token, 'On-Behalf-Of Graph token');
    return token;
  };
  // Step messages can be held back (time passing between steps) and released later.
  const send = stack.bus.send.bind(stack.bus);
  stack.bus.send = async (queue, messages) => {
    if (held && queue === queueNames.steps) held.push({ queue, messages });
    else await send(queue, messages);
  };
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

/** A user's access token for this API (no admin role unless the directory gives one). */
async function userToken(user: LocalUser = CONTOSO_USER, expiresInSeconds?: number): Promise<string> {
  const { access_token } = await mintLocalToken(stack.identityProvider.url, {
    username: user.username,
    ...(expiresInSeconds !== undefined ? { expiresInSeconds } : {}),
  });
  stack.secretsSeen.set(access_token, 'user access token');
  return access_token;
}

/** The walkthrough's process: a form, a field change as the user, and "Change stage" (elevated unless told). */
const changeRequest = (executeAs: string | undefined) => ({
  name: 'Change request',
  kind: 'user',
  steps: [
    {
      id: 'details',
      type: 'form',
      name: 'Details',
      fields: [
        { name: 'comment', label: 'Comment', type: 'text', required: true },
        { name: 'priority', label: 'Priority', type: 'choice', options: ['Low', 'High'] },
      ],
    },
    { id: 'note', type: 'action', action: 'updateFields', inputs: { fields: { Comment: '{{form.details.comment}}' } } },
    {
      id: 'stage',
      type: 'action',
      name: 'Change stage',
      action: 'changeStage',
      inputs: { stage: 'Approved' },
      ...(executeAs ? { permissions: { executeAs } } : {}),
    },
  ],
});

async function start(processId: string, subject: object, token: string) {
  const res = await stack.api(`processes/${processId}/runs`, { method: 'POST', token, body: { subject } });
  await stack.bus.idle();
  return res;
}

async function runAs(runId: string, token: string): Promise<RunView> {
  const res = await stack.api(`runs/${runId}`, { token });
  if (res.status !== 200) throw new Error(`GET runs/${runId} answered ${res.status}: ${res.text}`);
  return res.json as RunView;
}

async function submit(runId: string, values: unknown, token: string, stepId = 'details') {
  const res = await stack.api(`runs/${runId}/steps/${stepId}/submit`, { method: 'POST', token, body: { values } });
  await stack.bus.idle();
  return res;
}

const callsSince = (from: number): GraphCall[] => stack.graph.calls.slice(from);
const patches = (calls: GraphCall[]) => calls.filter((c) => c.method === 'PATCH').map((c) => [c.username, c.body, c.status]);

describe('the walkthrough: a user process with an elevated "Change stage"', () => {
  let runId: string;
  let token: string;
  let callsBefore: number;

  beforeAll(async () => {
    await saveAndPublish(stack, 'change-request', changeRequest(approvals.id));
    token = await userToken();
  });

  test('a user without the admin role starts it on an item they can open: 202 {runId}, the run waits for the form', async () => {
    callsBefore = stack.graph.calls.length;
    const res = await start('change-request', item, token);
    expect(res.status).toBe(202);
    runId = res.json.runId;
    const run = await runAs(runId, token);
    expect(run).toMatchObject({
      kind: 'user',
      processId: 'change-request',
      processVersion: 1,
      subject: item,
      initiatedBy: { objectId: CONTOSO_USER.objectId, username: CONTOSO_USER.username },
      status: 'waiting',
      waitingFor: { stepId: 'details', userObjectId: CONTOSO_USER.objectId },
    });
    expect(run.steps.map((s) => [s.id, s.status])).toEqual([
      ['details', 'waiting'],
      ['note', 'pending'],
      ['stage', 'pending'],
    ]);
    // The read check, with the user's own token: the only Graph call so far.
    expect(callsSince(callsBefore).map((c) => [c.method, c.path, c.username, c.status])).toEqual([
      ['GET', `/sites/${item.siteId}/lists/${item.listId}/items/${item.itemId}`, CONTOSO_USER.username, 200],
    ]);
    // Waiting for a form, the run keeps no token of the user's.
    expect(await stack.internals.userSessions.get(CONTOSO_USER.tenantId, runId)).toBeUndefined();
  });

  test('the submitted form continues it: the field change is made as the user, the stage change as the service account', async () => {
    const res = await submit(runId, { comment: 'Needed for the new hire', priority: 'High' }, token);
    expect(res.status).toBe(202);
    const run = await runAs(runId, token);
    expect(run.status).toBe('succeeded');
    expect(run.form).toEqual({ details: { comment: 'Needed for the new hire', priority: 'High' } });
    expect(run.steps.map((s) => [s.id, s.status, s.executedAs])).toEqual([
      ['details', 'succeeded', { kind: 'user', username: CONTOSO_USER.username, objectId: CONTOSO_USER.objectId }],
      ['note', 'succeeded', { kind: 'user', username: CONTOSO_USER.username, objectId: CONTOSO_USER.objectId }],
      [
        'stage',
        'succeeded',
        {
          kind: 'connection',
          connectionId: approvals.id,
          username: CONTOSO_SVC_APPROVALS.username,
          objectId: CONTOSO_SVC_APPROVALS.objectId,
        },
      ],
    ]);
    expect(patches(callsSince(callsBefore))).toEqual([
      [CONTOSO_USER.username, { Comment: 'Needed for the new hire' }, 200],
      [CONTOSO_SVC_APPROVALS.username, { Stage: 'Approved' }, 200],
    ]);
    expect(stack.graph.items.get(itemKey(item))).toMatchObject({ Comment: 'Needed for the new hire', Stage: 'Approved' });
    // The run is over: its token row is gone.
    expect(await stack.internals.userSessions.get(CONTOSO_USER.tenantId, runId)).toBeUndefined();
  });

  test('the initiator lists their runs with initiatedBy=me; an admin sees them too; the user cannot list everyone', async () => {
    const mine = await stack.api('runs?initiatedBy=me', { token });
    expect(mine.status).toBe(200);
    expect((mine.json.runs as RunView[]).map((r) => r.id)).toContain(runId);
    expect((mine.json.runs as RunView[]).every((r) => r.initiatedBy?.objectId === CONTOSO_USER.objectId)).toBe(true);
    expect((await stack.api(`runs/${runId}`)).status).toBe(200); // the admin
    expect((await stack.api('runs', { token })).status).toBe(403);
    const adminsOwn = await stack.api('runs?initiatedBy=me');
    expect((adminsOwn.json.runs as RunView[]).map((r) => r.id)).not.toContain(runId);
  });
});

describe('redelivery after a form submission', () => {
  test("copies of the step messages (the form step's and the next one's) repeat no action", async () => {
    await saveAndPublish(stack, 'redelivered', changeRequest(approvals.id));
    const token = await userToken();
    const runId = (await start('redelivered', item, token)).json.runId;
    held = [];
    expect((await submit(runId, { comment: 'Once' }, token)).status).toBe(202);
    const release = held;
    held = undefined;
    expect(release.flatMap((h) => h.messages.map((m) => m.body))).toEqual([{ tenantId: CONTOSO_USER.tenantId, runId, stepIndex: 1 }]);
    const before = stack.graph.calls.length;
    // The submission's message, then copies under other message ids (as a redelivery after a lost settlement, or a
    // sender that resent): the form step's own message and the next step's.
    const copies = [0, 1].map((stepIndex) => stepMessage({ tenantId: CONTOSO_USER.tenantId, runId, stepIndex, occasion: 'copy' }));
    await stack.bus.send(queueNames.steps, [...release[0].messages, ...copies]);
    await stack.bus.idle();
    const run = await runAs(runId, token);
    expect(run.status).toBe('succeeded');
    expect(run.steps.map((s) => [s.id, s.status, s.attempts])).toEqual([
      ['details', 'succeeded', 0],
      ['note', 'succeeded', 1],
      ['stage', 'succeeded', 1],
    ]);
    expect(patches(callsSince(before))).toEqual([
      [CONTOSO_USER.username, { Comment: 'Once' }, 200],
      [CONTOSO_SVC_APPROVALS.username, { Stage: 'Approved' }, 200],
    ]);
  });
});

describe('the same process without "Execute as"', () => {
  test('fails at "Change stage" with Graph\'s 403 recorded on the step; the field change before it was made as the user', async () => {
    await saveAndPublish(stack, 'change-request-unelevated', changeRequest(undefined));
    const token = await userToken();
    const before = stack.graph.calls.length;
    const { json } = await start('change-request-unelevated', item, token);
    expect((await submit(json.runId, { comment: 'Again' }, token)).status).toBe(202);
    const run = await runAs(json.runId, token);
    expect(run.status).toBe('failed');
    expect(run.steps.map((s) => [s.id, s.status, s.executedAs?.kind])).toEqual([
      ['details', 'succeeded', 'user'],
      ['note', 'succeeded', 'user'],
      ['stage', 'failed', 'user'],
    ]);
    expect(run.steps[2].error).toMatch(/403/);
    expect(run.steps[2].error).toMatch(/accessDenied/);
    expect(patches(callsSince(before))).toEqual([
      [CONTOSO_USER.username, { Comment: 'Again' }, 200],
      [CONTOSO_USER.username, { Stage: 'Approved' }, 403],
    ]);
  });
});

describe('refusals: nothing runs, nothing is stored', () => {
  let token: string;
  beforeAll(async () => {
    await saveAndPublish(stack, 'refusals', changeRequest(approvals.id));
    token = await userToken();
  });

  const myRunCount = async () => ((await stack.api('runs?initiatedBy=me', { token })).json.runs as RunView[]).length;

  test('an item the user cannot open: 403, even though a step would run elevated', async () => {
    const count = await myRunCount();
    const before = stack.graph.calls.length;
    const res = await start('refusals', hidden, token);
    expect(res.status).toBe(403);
    expect(res.json.error.message).toBe('You cannot start this process on an item you cannot open.');
    expect(await myRunCount()).toBe(count);
    expect(callsSince(before).map((c) => [c.method, c.username])).toEqual([['GET', CONTOSO_USER.username]]);
  });

  test('an item that does not exist: 403 the same way (Graph cannot tell the user which)', async () => {
    expect((await start('refusals', { ...item, itemId: '999' }, token)).status).toBe(403);
  });

  test('a subject that is not an item reference: 422 naming the field', async () => {
    const res = await start('refusals', { siteId: 'x', listId: '../lists', itemId: '' }, token);
    expect(res.status).toBe(422);
    expect(res.json.error.details.map((e: { path: string }) => e.path).sort()).toEqual(['subject.itemId', 'subject.listId']);
    expect((await stack.api('processes/refusals/runs', { method: 'POST', token, body: {} })).status).toBe(422);
  });

  test('a missing, system, or unpublished process: 404', async () => {
    expect((await start('no-such-process', item, token)).status).toBe(404);
    await saveAndPublish(stack, 'system-one', {
      name: 'System',
      kind: 'system',
      triggers: [{ event: 'ItemCreated' }],
      steps: [{ id: 'x', type: 'action', action: 'updateFields', inputs: { fields: { Seen: true } } }],
    });
    expect((await start('system-one', item, token)).status).toBe(404);
    const draft = await stack.api('processes/draft-only', { method: 'PUT', body: changeRequest(approvals.id) });
    expect(draft.status).toBe(200);
    expect((await start('draft-only', item, token)).status).toBe(404);
  });

  test("another tenant's user: 404 for the process and for the run", async () => {
    const started = await start('refusals', item, token);
    expect(started.status).toBe(202);
    const fabrikam = await userToken(FABRIKAM_ADMIN);
    expect((await start('refusals', item, fabrikam)).status).toBe(404);
    expect((await stack.api(`runs/${started.json.runId}`, { token: fabrikam })).status).toBe(404);
    expect((await submit(started.json.runId, { comment: 'x' }, fabrikam)).status).toBe(404);
  });

  test('no token, an expired one, or an ID token: 401', async () => {
    expect((await stack.api('processes/refusals/runs', { method: 'POST', token: null, body: { subject: item } })).status).toBe(401);
    expect((await start('refusals', item, await userToken(CONTOSO_USER, -3600))).status).toBe(401);
    expect((await start('refusals', item, await stack.tokenFor(CONTOSO_USER, { kind: 'id' }))).status).toBe(401);
  });
});

describe('form submissions', () => {
  let token: string;
  let runId: string;
  beforeAll(async () => {
    await saveAndPublish(stack, 'forms', changeRequest(approvals.id));
    token = await userToken();
    runId = (await start('forms', item, token)).json.runId;
  });

  test('values that do not fit the fields: 422 with one error per field, and the run still waits', async () => {
    const res = await submit(runId, { priority: 'Urgent', extra: 1 }, token);
    expect(res.status).toBe(422);
    expect(res.json.error.details).toEqual([
      { path: 'values.extra', message: 'is not a field of this form' },
      { path: 'values.comment', message: '"Comment" is required' },
      { path: 'values.priority', message: `"Priority" must be one of the field's options` },
    ]);
    expect((await runAs(runId, token)).status).toBe('waiting');
  });

  test('anyone but the initiator (an admin of the tenant included), an unknown step or a step that is not waiting: 404', async () => {
    expect((await submit(runId, { comment: 'x' }, await stack.tokenFor(CONTOSO_ADMIN))).status).toBe(404);
    expect((await submit(runId, { comment: 'x' }, token, 'note')).status).toBe(404);
    expect((await submit(runId, { comment: 'x' }, token, 'nope')).status).toBe(404);
    expect((await runAs(runId, token)).status).toBe('waiting');
  });

  test('the initiator reads the form the run waits for, with its field definitions; anyone else gets 404', async () => {
    const res = await stack.api(`runs/${runId}/form`, { token });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ runId, stepId: 'details', name: 'Details', fields: changeRequest(undefined).steps[0].fields });
    expect((await stack.api(`runs/${runId}/form`, { token: await stack.tokenFor(CONTOSO_ADMIN) })).status).toBe(404);
  });

  test('a user lists the published user processes they may start, each with what it does and as whom', async () => {
    const res = await stack.api('user-processes', { token });
    expect(res.status).toBe(200);
    const forms = res.json.processes.find((p: { id: string }) => p.id === 'forms');
    expect(forms).toMatchObject({ name: 'Change request', version: expect.any(Number) });
    expect(forms.steps.map((x: { as: string }) => x.as)).toEqual(['you', 'you', 'Approvals']);
  });

  test('a run that is not waiting for the session cannot be resumed: 409', async () => {
    expect((await stack.api(`runs/${runId}/resume`, { method: 'POST', token })).status).toBe(409);
  });

  test('submitted once, the form is not waiting any more', async () => {
    expect((await submit(runId, { comment: 'ok' }, token)).status).toBe(202);
    expect((await submit(runId, { comment: 'again' }, token)).status).toBe(404);
    expect((await stack.api(`runs/${runId}/form`, { token })).status).toBe(404);
  });
});

describe("the user's token expires between steps", () => {
  test('the run waits for the user session, never another identity, and a fresh token resumes it', async () => {
    await saveAndPublish(stack, 'slow-backlog', changeRequest(approvals.id));
    const first = await userToken();
    const runId = (await start('slow-backlog', item, first)).json.runId;
    // Submitted with a token about to expire; the next step is reached after it did (a long backlog).
    const shortLived = await userToken(CONTOSO_USER, 2);
    held = [];
    expect((await submit(runId, { comment: 'Late' }, shortLived)).status).toBe(202);
    // Kept until the next step: one row, encrypted; no part of the token is readable in it.
    const table = await stack.internals.tables(tableNames(stack.context.settings).userSessions);
    const row = JSON.stringify(await table.getEntity(CONTOSO_USER.tenantId, runId));
    for (const part of shortLived.split('.')) expect(row).not.toContain(part);
    expect((await stack.internals.userSessions.get(CONTOSO_USER.tenantId, runId))?.reveal()).toBe(shortLived);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const release = held;
    held = undefined;
    const before = stack.graph.calls.length;
    for (const h of release) await stack.bus.send(h.queue, h.messages);
    await stack.bus.idle();

    let run = await runAs(runId, first);
    expect(run).toMatchObject({
      status: 'waiting',
      waitingFor: { reason: 'user_session' },
      reason: expect.stringContaining("The user's sign-in session can no longer be used"),
    });
    expect(run.steps.map((s) => [s.id, s.status])).toEqual([
      ['details', 'succeeded'],
      ['note', 'pending'],
      ['stage', 'pending'],
    ]);
    expect(callsSince(before)).toEqual([]);
    expect(await stack.internals.userSessions.get(CONTOSO_USER.tenantId, runId)).toBeUndefined();

    // Only the initiator resumes it, with a token that works.
    expect((await stack.api(`runs/${runId}/resume`, { method: 'POST', token: await stack.tokenFor(CONTOSO_ADMIN) })).status).toBe(404);
    const res = await stack.api(`runs/${runId}/resume`, { method: 'POST', token: await userToken() });
    expect(res.status).toBe(202);
    await stack.bus.idle();
    run = await runAs(runId, first);
    expect(run.status).toBe('succeeded');
    expect(run.reason).toBeUndefined();
    expect(run.waitingFor).toBeUndefined();
    expect(patches(callsSince(before))).toEqual([
      [CONTOSO_USER.username, { Comment: 'Late' }, 200],
      [CONTOSO_SVC_APPROVALS.username, { Stage: 'Approved' }, 200],
    ]);
  });
});
