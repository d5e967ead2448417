/**
 * Values rendered into Graph requests (outside review, findings 3 and 4), through the whole local stack:
 * - markup in a value rendered into a `graphRequest` body beside a `contentType` of html (any case) is escaped, as
 *   `sendMail` escapes it: a form or event value cannot put a link into mail sent as the service account;
 * - Graph decodes a query value before it parses `$filter`, so a value outside a quoted literal is accepted only as a
 *   number, a boolean or a plain word (`0 or true` would add a condition); inside quotes, `'` is doubled.
 */
import { randomUUID } from 'node:crypto';
import { CONTOSO_SVC_WORKPOINT } from '../../src/local/identity-provider/directory';
import { authorizeConnection } from '../support/connections';
import { saveAndPublish, type RunView } from '../support/runs';
import { useTally } from '../support/tally';
import { startTestStack, type TestStack } from '../support/test-stack';

const tally = useTally();
let stack: TestStack;
const SITE = 'contoso.sharepoint.com,site-1';
const subject = { siteId: SITE, listId: 'list-1', itemId: '7' };

const mailThroughGraph = (contentType: string) => ({
  action: 'graphRequest',
  inputs: {
    method: 'POST',
    path: '/me/sendMail',
    body: {
      message: {
        subject: 'New item',
        body: { contentType, content: '<p>New item: <b>{{event.data.title}}</b></p>' },
        toRecipients: [{ emailAddress: { address: 'owner@contoso.test' } }],
      },
    },
  },
});

const processes: Record<string, { action: string; inputs: Record<string, unknown> }> = {
  'mail-HTML': mailThroughGraph('HTML'),
  'mail-html': mailThroughGraph('html'),
  'mail-Html': mailThroughGraph(' Html '),
  'filter-unquoted': {
    action: 'graphRequest',
    inputs: { method: 'GET', path: '/sites/{{event.subject.siteId}}/lists/list-1/items?$filter=fields/Amount lt {{event.data.max}}' },
  },
  'filter-quoted': {
    action: 'graphRequest',
    inputs: { method: 'GET', path: "/sites/{{event.subject.siteId}}/lists/list-1/items?$filter=fields/Title eq '{{event.data.max}}'" },
  },
};

beforeAll(async () => {
  stack = await startTestStack();
  await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  for (const [id, step] of Object.entries(processes)) {
    await saveAndPublish(stack, id, {
      name: id,
      kind: 'system',
      triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.data.kind', op: 'eq', value: id }] }],
      steps: [{ id: 'only', type: 'action', ...step }],
    });
  }
});
afterAll(async () => {
  await stack?.stop();
});

async function runOf(processId: string, data: Record<string, unknown>): Promise<RunView> {
  const id = randomUUID();
  const res = await stack.api('events', { method: 'POST', body: { id, type: 'ItemCreated', subject, data: { kind: processId, ...data } } });
  expect(res.status).toBe(202);
  await stack.bus.idle();
  const runs = (await stack.api(`runs?processId=${processId}&limit=200`)).json.runs as RunView[];
  return runs.find((r) => r.event?.id === id)!;
}
const callsOf = (runId: string) => stack.graph.calls.filter((c) => c.runHeader === runId);

test('values beside a contentType of html (any case) in a graphRequest body are escaped; the template markup stays', async () => {
  const phishing = '<a href="https://evil.example/reset">Re-enter your password</a>';
  let escaped = 0;
  for (const id of ['mail-HTML', 'mail-html', 'mail-Html']) {
    const run = await runOf(id, { title: phishing });
    expect(run.status).toBe('succeeded');
    const mail = stack.graph.mail.at(-1)!;
    expect(mail.content).toBe(
      '<p>New item: <b>&lt;a href=&quot;https:&#47;&#47;evil.example&#47;reset&quot;&gt;Re-enter your password&lt;&#47;a&gt;</b></p>',
    );
    if (!mail.content.includes('<a ')) escaped++;
  }
  tally.record({
    kind: 'attack',
    category: 'HTML injection into mail sent as a service account',
    tried: 3,
    handled: escaped,
    faultsInjected: 0,
    lost: 0,
  });
});

test('a value outside quotes in a query is only a number, boolean or plain word; inside quotes it stays one literal', async () => {
  const hostile = ['0 or true', '1) or (true', "0 or fields/Secret eq 'x'", '5&$expand=fields', '0%20or%20true'];
  let refused = 0;
  for (const max of hostile) {
    const run = await runOf('filter-unquoted', { max });
    expect({ max, status: run.status, calls: callsOf(run.id).length }).toEqual({ max, status: 'failed', calls: 0 });
    expect(run.steps[0]!.error).toMatch(/not a number, a boolean or a plain word/);
    if (run.status === 'failed' && callsOf(run.id).length === 0) refused++;
  }
  // The controls (sent to Graph): a number unquoted, and the same hostile text inside a quoted literal (quotes doubled).
  const ok = await runOf('filter-unquoted', { max: 5 });
  // (The Graph stand-in answers 404 to list-item collections: what matters is the request Graph received.)
  expect(new URLSearchParams(callsOf(ok.id)[0]!.query).get('$filter')).toBe('fields/Amount lt 5');
  const quoted = await runOf('filter-quoted', { max: "x' or 1 eq 1 or 'a" });
  expect(new URLSearchParams(callsOf(quoted.id)[0]!.query).get('$filter')).toBe("fields/Title eq 'x'' or 1 eq 1 or ''a'");
  tally.record({
    kind: 'attack',
    category: 'OData injection through query values',
    tried: hostile.length,
    handled: refused,
    faultsInjected: 0,
    lost: 0,
  });
});
