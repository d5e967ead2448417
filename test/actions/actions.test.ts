import { ActionError, DEPTH_HEADER, PROCESS_HEADER, RUN_HEADER } from '../../src/actions/action';
import { clientRequestIdFor } from '../../src/actions/graph-client';
import { actionNames, actionRegistry, getAction, renderInputs, validateActionInputs } from '../../src/actions';
import { CONTOSO_SVC_APPROVALS, CONTOSO_SVC_WORKPOINT, FABRIKAM_SVC } from '../../src/local/identity-provider/directory';
import { invocation, LIST_ID, productEvent, SITE_ID, startActionsFixture, type ActionsFixture } from './fixture';

let f: ActionsFixture;
let workpoint: string;
let approvals: string;

beforeAll(async () => {
  f = await startActionsFixture();
  [workpoint, approvals] = await Promise.all([f.tokenFor(CONTOSO_SVC_WORKPOINT), f.tokenFor(CONTOSO_SVC_APPROVALS)]);
});
afterAll(async () => {
  await f?.stop();
});
beforeEach(() => f.reset());

const action = (name: string) => {
  const a = getAction(name);
  if (!a) throw new Error(`no action ${name}`);
  return a;
};
const itemKey = `${SITE_ID}/${LIST_ID}/42`;
const itemPath = `/sites/${SITE_ID}/lists/${LIST_ID}/items/42/fields`;

async function failure(promise: Promise<unknown>): Promise<ActionError> {
  const e = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ActionError);
  return e as ActionError;
}

it('registers the actions by name', () => {
  expect(actionNames()).toEqual(['changeStage', 'updateFields', 'sendMail', 'graphRequest']);
  for (const [name, a] of actionRegistry) expect(a.name).toBe(name);
  expect(getAction('nope')).toBeUndefined();
});

describe('changeStage', () => {
  it("PATCHes the event's item as the executing account, with the run marker", async () => {
    const result = await action('changeStage').run(invocation(f, workpoint, { stage: 'Approved' }));
    expect(result.summary).toBe('Set Stage to "Approved" on item 42');
    expect(result.output).toEqual({ itemId: '42', fields: { Stage: 'Approved' } });
    expect(f.graph.calls).toEqual([
      expect.objectContaining({
        method: 'PATCH',
        path: itemPath,
        status: 200,
        username: CONTOSO_SVC_WORKPOINT.username,
        objectId: CONTOSO_SVC_WORKPOINT.objectId,
        body: { Stage: 'Approved' },
        clientRequestId: clientRequestIdFor('run-1:step-1'),
        runHeader: 'run-1',
      }),
    ]);
    expect(f.graph.items.get(itemKey)).toEqual({ Stage: 'Approved' });
    // What the product is expected to copy onto the event it raises for this change.
    expect(f.changes).toEqual([
      expect.objectContaining({
        itemId: '42',
        changed: { Stage: 'Approved' },
        causedBy: { runId: 'run-1', processId: 'proc-1', depth: 1 },
      }),
    ]);
  });

  it('uses a templated stage and a custom field', async () => {
    const event = productEvent({ data: { next: 'Review' } });
    const inputs = renderInputs({ stage: '{{event.data.next}}', field: 'ApprovalStage' }, { event }) as Record<string, unknown>;
    await action('changeStage').run(invocation(f, approvals, inputs, { event }));
    expect(f.graph.calls[0]).toMatchObject({ username: CONTOSO_SVC_APPROVALS.username, body: { ApprovalStage: 'Review' } });
  });

  it('addresses only the event subject: a hostile item id cannot leave the item path', async () => {
    const event = productEvent({ subject: { siteId: SITE_ID, listId: LIST_ID, itemId: '../../../me' } });
    const error = await failure(action('changeStage').run(invocation(f, workpoint, { stage: 'x' }, { event })));
    expect(error.kind).toBe('permanent');
    expect(f.graph.calls).toEqual([]);
  });

  it('refuses invalid inputs before calling Graph', async () => {
    for (const inputs of [{}, { stage: '' }, { stage: 'x', field: 'bad field' }, { stage: 'x', field: '__proto__' }, { stage: 7 }]) {
      const error = await failure(action('changeStage').run(invocation(f, workpoint, inputs)));
      expect(error.kind).toBe('permanent');
      expect(error.message).toMatch(/^Invalid inputs for changeStage: /);
    }
    expect(f.graph.calls).toEqual([]);
  });
});

describe('updateFields', () => {
  it('merges fields into the item as the executing account', async () => {
    f.graph.items.set(itemKey, { Title: 'Contract', Stage: 'Draft' });
    const result = await action('updateFields').run(
      invocation(f, approvals, { fields: { Stage: 'Signed', Amount: 1250, Urgent: true, Notes: null } }),
    );
    expect(result.summary).toBe('Set Stage, Amount, Urgent, Notes on item 42');
    expect(f.graph.items.get(itemKey)).toEqual({ Title: 'Contract', Stage: 'Signed', Amount: 1250, Urgent: true, Notes: null });
    expect(f.graph.calls).toEqual([
      expect.objectContaining({ method: 'PATCH', path: itemPath, username: CONTOSO_SVC_APPROVALS.username, runHeader: 'run-1' }),
    ]);
    const item = await fetch(`${f.graph.url}/sites/${SITE_ID}/lists/${LIST_ID}/items/42?expand=fields`, {
      headers: { authorization: `Bearer ${approvals}` },
    });
    expect(await item.json()).toMatchObject({ id: '42', fields: { Stage: 'Signed', Amount: 1250 } });
  });

  it('refuses empty, nested or prototype-named fields', async () => {
    for (const fields of [{}, { A: { nested: 1 } }, { A: [1] }, JSON.parse('{"__proto__": "x"}')]) {
      expect((await failure(action('updateFields').run(invocation(f, approvals, { fields })))).kind).toBe('permanent');
    }
    expect(f.graph.calls).toEqual([]);
  });
});

describe('sendMail', () => {
  it('sends from the executing account', async () => {
    const event = productEvent();
    const inputs = renderInputs(
      {
        to: '{{event.data.requester}}',
        subject: 'Item {{event.subject.itemId}} approved',
        body: '<b>{{event.data.Stage}}</b>',
        contentType: 'HTML',
      },
      { event },
    ) as Record<string, unknown>;
    const result = await action('sendMail').run(invocation(f, approvals, inputs, { event }));
    expect(result.summary).toBe('Sent "Item 42 approved" to 1 recipient');
    expect(f.graph.mail).toEqual([
      expect.objectContaining({
        from: {
          username: CONTOSO_SVC_APPROVALS.username,
          objectId: CONTOSO_SVC_APPROVALS.objectId,
          tenantId: CONTOSO_SVC_APPROVALS.tenantId,
        },
        to: ['requester@contoso.test'],
        subject: 'Item 42 approved',
        contentType: 'HTML',
        content: '<b>Draft</b>',
      }),
    ]);
    expect(f.graph.calls).toEqual([expect.objectContaining({ method: 'POST', path: '/me/sendMail', status: 202 })]);
  });

  it('refuses recipients that are not email addresses', async () => {
    const error = await failure(action('sendMail').run(invocation(f, approvals, { to: ['not-an-address'], subject: 's', body: 'b' })));
    expect(error.kind).toBe('permanent');
    expect(f.graph.calls).toEqual([]);
  });
});

describe('graphRequest', () => {
  it('calls a relative path as the executing account', async () => {
    const result = await action('graphRequest').run(invocation(f, await f.tokenFor(FABRIKAM_SVC), { method: 'GET', path: '/me' }));
    expect(result.summary).toBe('GET /v1.0/me succeeded');
    expect(result.output).toMatchObject({ userPrincipalName: FABRIKAM_SVC.username, tenantId: FABRIKAM_SVC.tenantId });
    expect(f.graph.calls[0]).toMatchObject({ username: FABRIKAM_SVC.username, tenantId: FABRIKAM_SVC.tenantId });
  });

  it('never sends the token to another host', async () => {
    for (const path of [`${f.attacker.url}/x`, `//${f.attacker.host}/x`, '../../x']) {
      const error = await failure(action('graphRequest').run(invocation(f, workpoint, { method: 'POST', path, body: { a: 1 } })));
      expect(error.kind).toBe('permanent');
    }
    expect(f.graph.calls).toEqual([]);
    expect(f.attacker.requests).toEqual([]);
  });

  it('passes Graph’s 4xx message on and keeps big outputs recordable', async () => {
    const error = await failure(
      action('graphRequest').run(invocation(f, workpoint, { method: 'POST', path: '/me/sendMail', body: { message: {} } })),
    );
    expect(error).toMatchObject({ kind: 'permanent', status: 400 });
    expect(error.message).toContain('At least one recipient is required, but none were found.');

    f.graph.items.set('s/l/1', { Big: 'x'.repeat(40_000) });
    const result = await action('graphRequest').run(invocation(f, workpoint, { method: 'GET', path: '/sites/s/lists/l/items/1/fields' }));
    expect(result.output).toEqual({ truncated: true, jsonLength: expect.any(Number) });
  });
});

it('sends the loop-guard marker on every action call', async () => {
  const causedBy = { runId: 'run-9', processId: 'proc-3', depth: 2 };
  const seen: Record<string, string | undefined>[] = [];
  const spy: typeof fetch = async (input, init) => {
    const h = new Headers(init?.headers);
    seen.push({
      run: h.get(RUN_HEADER) ?? undefined,
      process: h.get(PROCESS_HEADER) ?? undefined,
      depth: h.get(DEPTH_HEADER) ?? undefined,
    });
    return fetch(input, init);
  };
  await action('changeStage').run(invocation(f, workpoint, { stage: 'A' }, { causedBy, fetch: spy }));
  await action('updateFields').run(invocation(f, workpoint, { fields: { B: 1 } }, { causedBy, fetch: spy }));
  await action('sendMail').run(invocation(f, workpoint, { to: ['a@contoso.test'], subject: 's', body: 'b' }, { causedBy, fetch: spy }));
  await action('graphRequest').run(
    invocation(f, workpoint, { method: 'PATCH', path: '/sites/s/lists/l/items/2/fields', body: { C: 2 } }, { causedBy, fetch: spy }),
  );
  expect(seen).toEqual(Array(4).fill({ run: 'run-9', process: 'proc-3', depth: '2' }));
  expect(f.changes.map((c) => c.causedBy)).toEqual([causedBy, causedBy, causedBy]);
});

it('maps an invalid token (stand-in 401) to a permanent failure', async () => {
  const expired = await f.tokenFor(CONTOSO_SVC_WORKPOINT, { expiresInSeconds: -60 });
  const error = await failure(action('changeStage').run(invocation(f, expired, { stage: 'A' })));
  expect(error).toMatchObject({ kind: 'permanent', status: 401, code: 'InvalidAuthenticationToken' });
  expect(error.message).not.toContain(expired);
  expect(f.graph.items.size).toBe(0);
});

describe('validateActionInputs (process save/publish)', () => {
  it('names unknown actions and missing inputs', () => {
    expect(validateActionInputs('launchRockets', {})).toEqual([
      { path: '', message: expect.stringContaining('unknown action "launchRockets"') },
    ]);
    expect(validateActionInputs('changeStage', {})).toEqual([{ path: 'stage', message: expect.any(String) }]);
    expect(validateActionInputs('sendMail', { to: [], subject: 's' }).map((p) => p.path)).toEqual(['to', 'body']);
  });

  it('accepts placeholders where the value is only known when the step runs', () => {
    expect(validateActionInputs('changeStage', { stage: '{{event.data.next}}' })).toEqual([]);
    expect(validateActionInputs('updateFields', { fields: { Amount: '{{event.data.amount}}' } })).toEqual([]);
    expect(validateActionInputs('sendMail', { to: '{{event.data.requester}}', subject: 'Hi', body: 'x' })).toEqual([]);
  });

  it('names bad placeholders and host-escaping Graph paths', () => {
    expect(validateActionInputs('changeStage', { stage: '{{event.nope}}' })).toEqual([
      { path: 'stage', message: 'unknown path {{event.nope}}' },
    ]);
    expect(validateActionInputs('graphRequest', { method: 'GET', path: 'https://evil.example/' })).toEqual([
      { path: 'path', message: expect.stringContaining('not an absolute URL') },
    ]);
    expect(validateActionInputs('graphRequest', { method: 'GET', path: '/sites/{{event.subject.siteId}}' })).toEqual([]);
  });
});
