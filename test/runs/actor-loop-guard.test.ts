/**
 * The loop guard by identity (issue 16, item 3) on the local stack: a product event names the account that made the
 * change (`actor.objectId`); a system process whose steps run as that account is recorded `not_started` with the
 * reason, unless its trigger opts in with `allowSelfTrigger`; processes running as other accounts start as usual.
 */
import { CONTOSO_SVC_APPROVALS, CONTOSO_SVC_WORKPOINT } from '../../src/local/identity-provider/directory';
import type { ConnectionView } from '../../src/connections/connection';
import { authorizeConnection } from '../support/connections';
import { latestRun, postEvent, runsOf, saveAndPublish } from '../support/runs';
import { startTestStack, type TestStack } from '../support/test-stack';

let stack: TestStack;
let approvals: ConnectionView;

const trigger = { event: 'ItemUpdated', conditions: [{ path: 'event.data.kind', op: 'eq', value: 'actor' }] };
const step = { id: 'mark', type: 'action', action: 'updateFields', inputs: { fields: { Seen: 'yes' } } };

beforeAll(async () => {
  stack = await startTestStack();
  await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint'); // the default
  approvals = await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Approvals');
  await saveAndPublish(stack, 'as-default', { name: 'As default', kind: 'system', triggers: [trigger], steps: [step] });
  await saveAndPublish(stack, 'as-approvals', {
    name: 'As Approvals',
    kind: 'system',
    triggers: [trigger],
    runAs: approvals.id,
    steps: [step],
  });
  await saveAndPublish(stack, 'opted-in', {
    name: 'Opted in',
    kind: 'system',
    triggers: [{ ...trigger, allowSelfTrigger: true }],
    steps: [step],
  });
});
afterAll(async () => {
  await stack?.stop();
});

test("an event made by a process's own account does not start it and says why; other processes and opted-in triggers start", async () => {
  const callsBefore = stack.graph.calls.length;
  await postEvent(stack, 'ItemUpdated', { kind: 'actor' }, { actor: { objectId: CONTOSO_SVC_WORKPOINT.objectId } });

  const guarded = await latestRun(stack, 'as-default');
  expect(guarded).toMatchObject({ status: 'not_started' });
  expect(guarded.reason).toMatch(
    new RegExp(`made by ${CONTOSO_SVC_WORKPOINT.username.replace('.', '\\.')} .*loop guard.*allowSelfTrigger`),
  );
  expect(guarded.steps.map((s) => s.status)).toEqual(['pending']);

  expect(await latestRun(stack, 'as-approvals')).toMatchObject({ status: 'succeeded' });
  const optedIn = await latestRun(stack, 'opted-in');
  expect(optedIn).toMatchObject({ status: 'succeeded' });
  expect(optedIn.steps[0].executedAs?.username).toBe(CONTOSO_SVC_WORKPOINT.username);
  expect(stack.graph.calls.length - callsBefore).toBe(2); // as-approvals and opted-in, nothing as as-default

  // The same change made by the Approvals account: now as-approvals is the one that holds back.
  await postEvent(stack, 'ItemUpdated', { kind: 'actor' }, { actor: { objectId: CONTOSO_SVC_APPROVALS.objectId } });
  expect(await latestRun(stack, 'as-default')).toMatchObject({ status: 'succeeded' });
  expect(await latestRun(stack, 'as-approvals')).toMatchObject({
    status: 'not_started',
    reason: expect.stringContaining(CONTOSO_SVC_APPROVALS.username),
  });
});

test('an actor that is not an object id is refused with 400 naming the field, and nothing is queued', async () => {
  const runsBefore = (await runsOf(stack, 'as-approvals')).length;
  const res = await stack.api('events', {
    method: 'POST',
    body: { type: 'ItemUpdated', subject: { siteId: 's', listId: 'l', itemId: '1' }, data: { kind: 'actor' }, actor: { objectId: 'svc' } },
  });
  expect(res.status).toBe(400);
  expect(res.text).toContain('actor');
  await stack.bus.idle();
  expect((await runsOf(stack, 'as-approvals')).length).toBe(runsBefore);
});
