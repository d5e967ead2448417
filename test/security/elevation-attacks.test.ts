/**
 * An elevated ("Execute as") step of a user process does only what its designer wrote, whatever the user types
 * (outside review, findings 1 and 9), through the whole local stack: real tokens and On-Behalf-Of, Azurite, the Graph
 * stand-in (which hides `restricted-*` lists from users and lets only service accounts write `Stage`).
 *
 * - User-typed values (declared inputs `{{event.data.*}}`, form values `{{form.*}}`) may not decide what an elevated
 *   step addresses or selects: the process is refused at save with 422 naming step, input and placeholder.
 * - Inputs a process does not declare, or of the wrong type, or outside a choice's options, are refused at start.
 * - Before starting, a user sees what each step does and as whom (`GET processes/{id}/summary`).
 */
import { CONTOSO_SVC_APPROVALS, CONTOSO_USER } from '../../src/local/identity-provider/directory';
import type { ConnectionView } from '../../src/connections/connection';
import { authorizeConnection } from '../support/connections';
import { saveAndPublish } from '../support/runs';
import { useTally } from '../support/tally';
import { startTestStack, type TestStack } from '../support/test-stack';

const tally = useTally();
let stack: TestStack;
let approvals: ConnectionView;
let userToken: string;

const SITE = 'contoso.sharepoint.com,site-1';
const open = { siteId: SITE, listId: 'requests', itemId: '21' };
const hidden = { siteId: SITE, listId: 'restricted-hr', itemId: '1' };
const key = (i: typeof open) => `${i.siteId}/${i.listId}/${i.itemId}`;

beforeAll(async () => {
  stack = await startTestStack();
  approvals = await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Approvals');
  stack.graph.items.set(key(open), { Title: 'Laptop request', Stage: 'New' });
  stack.graph.items.set(key(hidden), { Title: 'Salary review', Stage: 'New' });
  userToken = await stack.tokenFor(CONTOSO_USER);
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const pickForm = (name: string) => ({ id: 'pick', type: 'form', fields: [{ name, label: name, type: 'text', required: true }] });
const elevated = (action: string, inputs: Record<string, unknown>) => ({
  id: 'act',
  type: 'action',
  action,
  inputs,
  permissions: { executeAs: approvals.id },
});

/** Processes from the review, each steering what an elevated step touches with something the user types. */
const steering: {
  name: string;
  inputs?: unknown[];
  steps: () => unknown[];
  refused: { path: string; input: string; placeholder: string };
}[] = [
  {
    name: 'undeclared inputs in the path of an elevated PATCH (the reproduced attack)',
    steps: () => [
      elevated('graphRequest', {
        method: 'PATCH',
        path: '/sites/{{event.subject.siteId}}/lists/{{event.data.list}}/items/{{event.data.item}}/fields',
        body: { Title: '{{event.data.title}}' },
      }),
    ],
    refused: { path: 'steps[0].inputs.path', input: 'list', placeholder: '{{event.data.list}}' },
  },
  {
    name: 'declared text inputs in the path of an elevated PATCH',
    inputs: [
      { name: 'list', label: 'List', type: 'text' },
      { name: 'item', label: 'Item', type: 'text' },
    ],
    steps: () => [
      elevated('graphRequest', {
        method: 'PATCH',
        path: '/sites/{{event.subject.siteId}}/lists/{{event.data.list}}/items/{{event.data.item}}/fields',
        body: { Stage: 'Approved' },
      }),
    ],
    refused: { path: 'steps[0].inputs.path', input: 'item', placeholder: '{{event.data.item}}' },
  },
  {
    name: 'a form value chooses the item an elevated DELETE hits',
    steps: () => [
      pickForm('item'),
      {
        ...elevated('graphRequest', {
          method: 'DELETE',
          path: '/sites/{{event.subject.siteId}}/lists/{{event.subject.listId}}/items/{{form.pick.item}}',
        }),
        id: 'del',
      },
    ],
    refused: { path: 'steps[1].inputs.path', input: 'pick.item', placeholder: '{{form.pick.item}}' },
  },
  {
    name: 'the user chooses which columns the service account writes (whole-object fields)',
    inputs: [{ name: 'fields', label: 'Fields', type: 'text' }],
    steps: () => [elevated('updateFields', { fields: '{{event.data.fields}}' })],
    refused: { path: 'steps[0].inputs.fields', input: 'fields', placeholder: '{{event.data.fields}}' },
  },
  {
    name: 'a form value names the column an elevated changeStage writes',
    steps: () => [pickForm('column'), { ...elevated('changeStage', { stage: 'Approved', field: '{{form.pick.column}}' }), id: 'stage' }],
    refused: { path: 'steps[1].inputs.field', input: 'pick.column', placeholder: '{{form.pick.column}}' },
  },
  {
    name: 'an input chooses the recipients of mail sent as the service account',
    inputs: [{ name: 'to', label: 'To', type: 'text' }],
    steps: () => [elevated('sendMail', { to: '{{event.data.to}}', subject: 'Report', body: 'See attached' })],
    refused: { path: 'steps[0].inputs.to', input: 'to', placeholder: '{{event.data.to}}' },
  },
  {
    name: 'an input chooses the method of an elevated Graph request',
    inputs: [{ name: 'verb', label: 'Verb', type: 'text' }],
    steps: () => [
      elevated('graphRequest', {
        method: '{{event.data.verb}}',
        path: '/sites/{{event.subject.siteId}}/lists/{{event.subject.listId}}/items/{{event.subject.itemId}}',
      }),
    ],
    refused: { path: 'steps[0].inputs.method', input: 'verb', placeholder: '{{event.data.verb}}' },
  },
  {
    name: 'a form value is a recipient of mail sent through an elevated graphRequest',
    steps: () => [
      pickForm('to'),
      {
        ...elevated('graphRequest', {
          method: 'POST',
          path: '/me/sendMail',
          body: {
            message: {
              subject: 'x',
              body: { contentType: 'Text', content: 'x' },
              toRecipients: [{ emailAddress: { address: '{{form.pick.to}}' } }],
            },
          },
        }),
        id: 'mail',
      },
    ],
    refused: {
      path: 'steps[1].inputs.body.message.toRecipients[0].emailAddress.address',
      input: 'pick.to',
      placeholder: '{{form.pick.to}}',
    },
  },
];

test('a user process whose elevated step is addressed by user-typed values is refused at save (422 naming step, input, placeholder); nothing reaches the hidden item', async () => {
  const callsBefore = stack.graph.calls.length;
  let refused = 0;
  for (const [i, attack] of steering.entries()) {
    const id = `steer-${i}`;
    const body = { name: attack.name, kind: 'user', ...(attack.inputs ? { inputs: attack.inputs } : {}), steps: attack.steps() };
    const saved = await stack.api(`processes/${id}`, { method: 'PUT', body });
    if (saved.status === 200 && (await stack.api(`processes/${id}/publish`, { method: 'POST' })).status === 200) {
      // The attack as the review ran it: start on an item the user can open, aim at one they cannot.
      const inputs = { list: hidden.listId, item: hidden.itemId, title: 'changed', fields: 'x', to: 'x@contoso.test', verb: 'DELETE' };
      const declared = new Set(((attack.inputs ?? []) as { name: string }[]).map((f) => f.name));
      const start = await stack.api(`processes/${id}/runs`, {
        method: 'POST',
        token: userToken,
        body: {
          subject: open,
          inputs: attack.inputs ? Object.fromEntries(Object.entries(inputs).filter(([k]) => declared.has(k))) : inputs,
        },
      });
      await stack.bus.idle();
      const run = start.json?.runId ? (await stack.api(`runs/${start.json.runId}`, { token: userToken })).json : undefined;
      if (run?.status === 'waiting') {
        await stack.api(`runs/${run.id}/steps/pick/submit`, {
          method: 'POST',
          token: userToken,
          body: { values: { item: hidden.itemId, column: 'Title', to: 'x@contoso.test' } },
        });
        await stack.bus.idle();
      }
      continue;
    }
    if (saved.status !== 422) continue;
    const details = saved.json.error.details as { path: string; message: string }[];
    const named = details.find(
      (d) =>
        d.path === attack.refused.path && d.message.includes(attack.refused.placeholder) && d.message.includes(`"${attack.refused.input}"`),
    );
    expect({ attack: attack.name, details }).toEqual({
      attack: attack.name,
      details: expect.arrayContaining([named ?? { path: attack.refused.path, message: 'naming step, input and placeholder' }]),
    });
    expect(named!.message).toMatch(/step "\w+" runs as a connection/);
    refused++;
  }
  const reached = stack.graph.calls
    .slice(callsBefore)
    .filter((c) => c.path.includes(`/lists/${hidden.listId}`) || c.path.includes(`/items/${hidden.itemId}`));
  expect(reached).toEqual([]);
  expect(refused).toBe(steering.length);
  tally.record({
    kind: 'attack',
    category: 'Elevation: user-typed values addressing an elevated step',
    tried: steering.length,
    handled: refused,
    faultsInjected: 0,
    lost: reached.length,
  });
});

test('the same user-typed values are allowed where they are values, and a declared choice may address an elevated step', async () => {
  await saveAndPublish(stack, 'comment-as-approvals', {
    name: 'Comment as Approvals',
    kind: 'user',
    inputs: [
      { name: 'note', label: 'Note', type: 'text', required: true, maxLength: 200 },
      { name: 'list', label: 'List', type: 'choice', options: ['requests'], required: true },
    ],
    steps: [
      pickForm('comment'),
      elevated('graphRequest', {
        method: 'PATCH',
        path: '/sites/{{event.subject.siteId}}/lists/{{event.data.list}}/items/{{event.subject.itemId}}/fields',
        body: { Comment: '{{form.pick.comment}}: {{event.data.note}}' },
      }),
    ],
  });
  const start = await stack.api('processes/comment-as-approvals/runs', {
    method: 'POST',
    token: userToken,
    body: { subject: open, inputs: { note: 'ok', list: 'requests' } },
  });
  expect(start.status).toBe(202);
  await stack.bus.idle();
  const submit = await stack.api(`runs/${start.json.runId}/steps/pick/submit`, {
    method: 'POST',
    token: userToken,
    body: { values: { comment: 'Looks fine' } },
  });
  expect(submit.status).toBe(202);
  await stack.bus.idle();
  const run = (await stack.api(`runs/${start.json.runId}`, { token: userToken })).json;
  expect(run.status).toBe('succeeded');
  expect(stack.graph.items.get(key(open))).toMatchObject({ Comment: 'Looks fine: ok' });
  tally.uncounted();
});

test('inputs a process does not declare, of the wrong type, beyond their length or outside a choice are refused at start (422), and nothing runs', async () => {
  await saveAndPublish(stack, 'declared-inputs', {
    name: 'Declared inputs',
    kind: 'user',
    inputs: [
      { name: 'reason', label: 'Reason', type: 'text', maxLength: 10 },
      { name: 'list', label: 'List', type: 'choice', options: ['requests'], required: true },
    ],
    steps: [
      elevated('graphRequest', {
        method: 'GET',
        path: '/sites/{{event.subject.siteId}}/lists/{{event.data.list}}/items/{{event.subject.itemId}}',
      }),
    ],
  });
  const attempts: [unknown, string][] = [
    [{ list: 'requests', item: hidden.itemId }, 'inputs.item'],
    [{ list: hidden.listId }, 'inputs.list'],
    [{ list: 'requests', reason: 'x'.repeat(11) }, 'inputs.reason'],
    [{ list: { $ne: 'x' } }, 'inputs.list'],
    [{ list: ['requests', hidden.listId] }, 'inputs.list'],
    [{}, 'inputs.list'],
  ];
  const runsBefore = (await stack.api('runs?processId=declared-inputs')).json.runs.length;
  let refused = 0;
  for (const [inputs, path] of attempts) {
    const res = await stack.api('processes/declared-inputs/runs', { method: 'POST', token: userToken, body: { subject: open, inputs } });
    expect({ inputs, status: res.status }).toEqual({ inputs, status: 422 });
    expect(res.json.error.details.map((d: { path: string }) => d.path)).toContain(path);
    refused++;
  }
  await stack.bus.idle();
  expect((await stack.api('runs?processId=declared-inputs')).json.runs.length).toBe(runsBefore);
  tally.record({
    kind: 'attack',
    category: 'Elevation: undeclared or ill-typed inputs at start',
    tried: attempts.length,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});

test('before starting, a user sees each step, its target and as whom it runs (GET processes/{id}/summary)', async () => {
  await saveAndPublish(stack, 'visible-steps', {
    name: 'Visible steps',
    kind: 'user',
    steps: [
      { id: 'mine', type: 'action', action: 'graphRequest', inputs: { method: 'GET', path: '/me/messages' } },
      elevated('changeStage', { stage: 'Approved' }),
    ],
  });
  const res = await stack.api('processes/visible-steps/summary', { token: userToken });
  expect(res.status).toBe(200);
  expect(res.json).toMatchObject({
    id: 'visible-steps',
    version: 1,
    steps: [
      { id: 'mine', action: 'graphRequest', target: 'GET /me/messages', as: 'you', elevated: false },
      { id: 'act', action: 'changeStage', target: expect.stringContaining('Stage to Approved'), as: 'Approvals', elevated: true },
    ],
  });
  // A process that is not a published user process has no summary.
  expect((await stack.api('processes/nope/summary', { token: userToken })).status).toBe(404);
  tally.record({
    kind: 'attack',
    category: 'Hidden steps: every step shown with its target and identity',
    tried: 2,
    handled: res.json.steps.length,
    faultsInjected: 0,
    lost: 0,
  });
});
