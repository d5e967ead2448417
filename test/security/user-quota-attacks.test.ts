/**
 * No quota on user starts (outside review, finding 2): one ordinary user started 250 runs in 4.7 s, each costing an
 * On-Behalf-Of exchange, a Graph read, Table rows kept 30 days and a message; submissions and resumes were unbounded
 * too. Now each of starts, submissions and resumes has a per-user (tid + oid) and a per-tenant rate (429 with
 * Retry-After), and one user may have at most QUOTA_USER_ACTIVE_RUNS runs running or waiting at once (429 too). The
 * stack runs with small limits so a test stays short.
 */
import { CONTOSO_ADMIN, CONTOSO_USER } from '../../src/local/identity-provider/directory';
import { saveAndPublish } from '../support/runs';
import { useTally } from '../support/tally';
import { startTestStack, type RecordedResponse, type TestStack } from '../support/test-stack';

const tally = useTally();
let stack: TestStack;
const limits = { perUser: 4, perTenant: 6, active: 3 };
const SITE = 'contoso.sharepoint.com,site-1';
const item = { siteId: SITE, listId: 'requests', itemId: '41' };

beforeAll(async () => {
  stack = await startTestStack({
    env: {
      QUOTA_USER_RUN_CALLS_PER_MINUTE: String(limits.perUser),
      QUOTA_TENANT_RUN_CALLS_PER_MINUTE: String(limits.perTenant),
      QUOTA_USER_ACTIVE_RUNS: String(limits.active),
    },
  });
  stack.graph.items.set(`${item.siteId}/${item.listId}/${item.itemId}`, { Title: 'Request' });
  // A process that waits for a form: each started run stays `waiting`.
  await saveAndPublish(stack, 'ask', {
    name: 'Ask',
    kind: 'user',
    steps: [{ id: 'ask', type: 'form', fields: [{ name: 'note', label: 'Note', type: 'text' }] }],
  });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const throttled = (res: { status: number; headers: Headers; json: RecordedResponse['json'] }) =>
  res.status === 429 && /^[1-9][0-9]*$/.test(res.headers.get('retry-after') ?? '') && typeof res.json?.error?.message === 'string';

const start = async (token: string) => {
  const res = await stack.api('processes/ask/runs', { method: 'POST', token, body: { subject: item } });
  await stack.bus.idle();
  return res;
};

test('one user cannot keep more than QUOTA_USER_ACTIVE_RUNS runs running or waiting, nor start faster than their rate; 429 with Retry-After', async () => {
  const token = await stack.tokenFor(CONTOSO_USER);
  for (let i = 0; i < limits.active; i++) expect((await start(token)).status).toBe(202);
  const capped = await start(token);
  expect(capped.status).toBe(429);
  expect(capped.json.error.message).toMatch(/3 runs running or waiting/);
  expect(throttled(capped)).toBe(true);
  // Finishing one frees a place.
  const mine = (await stack.api('runs?initiatedBy=me', { token })).json.runs as { id: string }[];
  expect((await stack.api(`runs/${mine[0]!.id}/steps/ask/submit`, { method: 'POST', token, body: { values: { note: 'x' } } })).status).toBe(
    202,
  );
  // The user's own rate is spent now (3 starts + 1 capped + 1 submission counted separately): the next start is throttled by rate.
  let refused = capped.status === 429 ? 1 : 0;
  const flood = 10;
  for (let i = 0; i < flood; i++) if (throttled(await start(token))) refused++;
  const runs = (await stack.api('runs?initiatedBy=me&limit=200', { token })).json.runs as unknown[];
  expect(runs.length).toBeLessThanOrEqual(limits.perUser);
  expect(refused).toBe(flood + 1);
  tally.record({
    kind: 'attack',
    category: 'Quotas: user run starts, submissions, resumes',
    tried: flood + 1,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});

test("the tenant's rate bounds many users together, and submissions and resumes are bounded per user", async () => {
  // Another user of the same tenant (an admin, starting as any user): their own rate is fresh, the tenant's mostly spent.
  const token = await stack.tokenFor(CONTOSO_ADMIN);
  let refused = 0;
  let accepted = 0;
  const tries = 6;
  for (let i = 0; i < tries; i++) {
    const res = await start(token);
    if (throttled(res)) refused++;
    else if (res.status === 202) accepted++;
  }
  expect(accepted).toBeLessThan(limits.perUser);
  expect(refused).toBeGreaterThan(0);
  // Resumes of a run that is not waiting for the session are cheap refusals (409) until the rate is spent: then 429.
  const resumes = 8;
  let resumeRefused = 0;
  const [run] = (await stack.api('runs?initiatedBy=me', { token })).json.runs as { id: string }[];
  for (let i = 0; i < resumes; i++) {
    const res = await stack.api(`runs/${run!.id}/resume`, { method: 'POST', token });
    if (throttled(res)) resumeRefused++;
  }
  expect(resumeRefused).toBe(resumes - limits.perUser);
  tally.record({
    kind: 'attack',
    category: 'Quotas: user run starts, submissions, resumes',
    tried: tries - accepted + resumes - limits.perUser,
    handled: refused + resumeRefused,
    faultsInjected: 0,
    lost: 0,
  });
});
