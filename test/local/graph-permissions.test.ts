/**
 * The Graph stand-in's permission model, which makes elevation visible: every tenant account reads and writes ordinary
 * list items, only service accounts change `Stage` (others: 403 accessDenied) and see `restricted*` lists (others:
 * 404 itemNotFound, as SharePoint trims what a caller cannot see); `_local/calls` names who changed which fields.
 */
import {
  CONTOSO_ADMIN,
  CONTOSO_SVC_APPROVALS,
  CONTOSO_USER,
  GRAPH_AUDIENCE,
  type LocalUser,
} from '../../src/local/identity-provider/directory';
import { mintLocalToken, startIdentityProvider, type LocalIdentityProvider } from '../../src/local/identity-provider/launch';
import { startGraphStandIn, type GraphStandIn } from '../../src/local/graph-stand-in';

let idp: LocalIdentityProvider;
let graph: GraphStandIn;

beforeAll(async () => {
  idp = await startIdentityProvider({ redirectUris: ['http://localhost:7071/api/connections/callback'] });
  graph = await startGraphStandIn({ jwksUri: idp.jwksUri, issuer: idp.issuer });
});
afterAll(async () => {
  await graph?.close();
  await idp?.stop();
});
beforeEach(() => {
  graph.reset();
  graph.items.set('site-1/list-1/7', { Title: 'Laptop request', Stage: 'New' });
  graph.items.set('site-1/restricted-hr/5', { Title: 'Salary review', Stage: 'New' });
});

const tokens = new Map<string, string>();
async function graphToken(user: LocalUser): Promise<string> {
  if (!tokens.has(user.username)) {
    const { access_token } = await mintLocalToken(idp.url, {
      username: user.username,
      audience: GRAPH_AUDIENCE,
      scp: 'Sites.ReadWrite.All',
    });
    tokens.set(user.username, access_token);
  }
  return tokens.get(user.username)!;
}

async function call(user: LocalUser, method: 'GET' | 'PATCH' | 'POST' | 'DELETE', path: string, body?: unknown) {
  const res = await fetch(`${graph.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${await graphToken(user)}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    json: (text ? JSON.parse(text) : {}) as { error: { code: string; message: string } } & Record<string, unknown>,
  };
}

const item = '/sites/site-1/lists/list-1/items/7';
const hidden = '/sites/site-1/lists/restricted-hr/items/5';

describe('Graph stand-in permissions', () => {
  it('lets an ordinary user read an item and change an ordinary field, recorded as that user with the fields changed', async () => {
    expect((await call(CONTOSO_USER, 'GET', item)).status).toBe(200);
    const patched = await call(CONTOSO_USER, 'PATCH', `${item}/fields`, { Comment: 'Needed for the new hire' });
    expect(patched.status).toBe(200);
    expect(graph.items.get('site-1/list-1/7')).toMatchObject({ Comment: 'Needed for the new hire', Stage: 'New' });
    const calls = (await (await fetch(`${graph.url}/_local/calls`)).json()) as { calls: Record<string, unknown>[] };
    expect(calls.calls.at(-1)).toMatchObject({
      method: 'PATCH',
      status: 200,
      username: CONTOSO_USER.username,
      objectId: CONTOSO_USER.objectId,
      changedFields: ['Comment'],
    });
  });

  it("refuses an ordinary user's Stage change with Graph's 403 accessDenied and changes nothing (an admin is no service account either)", async () => {
    for (const user of [CONTOSO_USER, CONTOSO_ADMIN]) {
      const refused = await call(user, 'PATCH', `${item}/fields`, { Stage: 'Approved', Comment: 'sneaky' });
      expect(refused.status).toBe(403);
      expect(refused.json.error).toMatchObject({ code: 'accessDenied', message: expect.any(String) });
    }
    expect(graph.items.get('site-1/list-1/7')).toEqual({ Title: 'Laptop request', Stage: 'New' });
    expect(graph.calls.at(-1)).toMatchObject({ status: 403, username: CONTOSO_ADMIN.username });
    expect(graph.calls.at(-1)?.changedFields).toBeUndefined();
  });

  it('lets a service account change Stage, recorded as the service account', async () => {
    const patched = await call(CONTOSO_SVC_APPROVALS, 'PATCH', `${item}/fields`, { Stage: 'Approved' });
    expect(patched.status).toBe(200);
    expect(graph.items.get('site-1/list-1/7')?.Stage).toBe('Approved');
    expect(graph.calls.at(-1)).toMatchObject({ username: CONTOSO_SVC_APPROVALS.username, changedFields: ['Stage'] });
  });

  it('hides restricted lists from ordinary users (404 itemNotFound for read and write) and shows them to service accounts', async () => {
    for (const [method, path, body] of [
      ['GET', hidden, undefined],
      ['GET', `${hidden}/fields`, undefined],
      ['PATCH', `${hidden}/fields`, { Comment: 'x' }],
    ] as const) {
      const refused = await call(CONTOSO_USER, method, path, body);
      expect(refused.status).toBe(404);
      expect(refused.json.error.code).toBe('itemNotFound');
    }
    expect(graph.items.get('site-1/restricted-hr/5')).toEqual({ Title: 'Salary review', Stage: 'New' });
    const read = await call(CONTOSO_SVC_APPROVALS, 'GET', `${hidden}?expand=fields`);
    expect(read).toMatchObject({ status: 200, json: { id: '5', fields: { Title: 'Salary review' } } });
    expect((await call(CONTOSO_SVC_APPROVALS, 'PATCH', `${hidden}/fields`, { Stage: 'Done' })).status).toBe(200);
  });

  it('applies the same rules to every list request, not only to the modelled ones (create, delete, item PATCH)', async () => {
    const listItems = '/sites/site-1/lists/list-1/items';
    for (const [method, path, body] of [
      ['POST', '/sites/site-1/lists/restricted-hr/items', { fields: { Title: 'x' } }],
      ['DELETE', hidden, undefined],
      ['PATCH', hidden, { fields: { Comment: 'x' } }],
      ['GET', '/sites/site-1/lists/restricted-hr/items', undefined],
    ] as const) {
      const refused = await call(CONTOSO_USER, method, path, body);
      expect({ method, path, status: refused.status, code: refused.json.error?.code }).toEqual({
        method,
        path,
        status: 404,
        code: 'itemNotFound',
      });
    }
    for (const [method, path] of [
      ['POST', listItems],
      ['PATCH', item],
    ] as const) {
      const refused = await call(CONTOSO_USER, method, path, { fields: { Stage: 'Approved' } });
      expect({ method, status: refused.status, code: refused.json.error?.code }).toEqual({ method, status: 403, code: 'accessDenied' });
    }
    expect((await call(CONTOSO_USER, 'POST', listItems, { fields: { Title: 'New request' } })).status).toBeLessThan(300);
    expect((await call(CONTOSO_SVC_APPROVALS, 'DELETE', hidden)).status).toBe(204);
  });
});
