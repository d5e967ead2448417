/**
 * Attacks carried by the data of product events into actions (issue 12, findings 2 and 3), through the whole local
 * stack: the HTTP API, the engine, the actions and the Graph stand-in, which records what actually reached Graph.
 *
 * - Event values re-targeting a `graphRequest` path or query (a list-item DELETE turned into a drive-file DELETE).
 * - Markup in event values injected into an HTML mail sent from the service account.
 */
import { randomUUID } from 'node:crypto';
import { CONTOSO_SVC_WORKPOINT } from '../../src/local/identity-provider/directory';
import { authorizeConnection } from '../support/connections';
import { useTally } from '../support/tally';
import { startTestStack, type TestStack } from '../support/test-stack';
import type { RunView } from '../../src/runs/run';

const tally = useTally();
let stack: TestStack;

const SITE = 'contoso.sharepoint.com,site-1';
const subject = { siteId: SITE, listId: 'list-1', itemId: '7' };

const processes = {
  // The shape from the review: delete the list item the event is about.
  'delete-item': {
    kind: 'delete',
    step: {
      action: 'graphRequest',
      inputs: { method: 'DELETE', path: '/sites/{{event.subject.siteId}}/lists/{{event.subject.listId}}/items/{{event.subject.itemId}}' },
    },
  },
  'lookup-me': {
    kind: 'lookup',
    step: { action: 'graphRequest', inputs: { method: 'GET', path: '/me?$select={{event.data.select}}' } },
  },
  'notify-owner': {
    kind: 'mail',
    step: {
      action: 'sendMail',
      inputs: {
        to: 'owner@contoso.test',
        subject: 'New item: {{event.data.title}}',
        body: '<p>Hello,</p><p>{{event.data.title}} was created by <b>{{event.data.author}}</b>.</p>',
        contentType: 'HTML',
      },
    },
  },
} as const;

beforeAll(async () => {
  stack = await startTestStack();
  await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  for (const [id, p] of Object.entries(processes)) {
    const body = {
      name: id,
      kind: 'system',
      triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.data.kind', op: 'eq', value: p.kind }] }],
      steps: [{ id: 'only', type: 'action', ...p.step }],
    };
    expect((await stack.api(`processes/${id}`, { method: 'PUT', body })).status).toBe(200);
    expect((await stack.api(`processes/${id}/publish`, { method: 'POST' })).status).toBe(200);
  }
});
afterAll(async () => {
  await stack?.stop();
});

async function post(event: Record<string, unknown>) {
  return stack.api('events', { method: 'POST', body: { type: 'ItemCreated', subject, ...event } });
}

/** Posts an event, lets the engine finish, and answers the run it started for `processId`. */
async function runOf(processId: keyof typeof processes, event: { data: Record<string, unknown>; subject?: Record<string, unknown> }) {
  const id = randomUUID();
  const res = await post({ id, ...event, data: { kind: processes[processId].kind, ...event.data } });
  expect(res.status).toBe(202);
  await stack.bus.idle();
  const runs = (await stack.api(`runs?processId=${processId}&limit=200`)).json.runs as RunView[];
  const run = runs.find((r) => r.event?.id === id);
  expect(run).toBeDefined();
  return run;
}

const graphCallsOf = (runId: string) => stack.graph.calls.filter((c) => c.runHeader === runId);

describe('finding 2: event data cannot re-target a graphRequest', () => {
  test('values fill one path segment each: segments, queries, fragments and encoded tricks are refused before any Graph call', async () => {
    const hostile: [string, Record<string, string>][] = [
      ['the review: a list item DELETE turned into a drive file DELETE', { siteId: 'root/drive/items/01SECRETFILEID?x=' }],
      ['dot segments', { itemId: '../../../drive/items/01SECRETFILEID' }],
      ['a query in a segment', { itemId: '7?$expand=driveItem' }],
      ['a fragment', { listId: 'list-1#x' }],
      ['an encoded slash', { siteId: 'root%2Fdrive%2Fitems%2F01SECRETFILEID' }],
      ['a backslash', { siteId: 'root\\drive\\items\\01SECRETFILEID' }],
      ['Graph path-based addressing', { siteId: 'contoso.sharepoint.com:' }],
      ['an OData function call', { listId: "getByTitle('Payroll')" }],
      ['a whole relative segment', { listId: '..' }],
    ];
    let refused = 0;
    for (const [, bad] of hostile) {
      const run = (await runOf('delete-item', { data: {}, subject: { ...subject, ...bad } }))!;
      expect(run.status).toBe('failed');
      expect(run.steps[0]).toMatchObject({
        status: 'failed',
        attempts: 0,
        error: expect.stringMatching(/^Cannot fill in the inputs: path: /),
      });
      expect(graphCallsOf(run.id)).toEqual([]);
      if (run.status === 'failed' && graphCallsOf(run.id).length === 0) refused++;
    }
    expect(stack.graph.calls.filter((c) => c.method === 'DELETE' && !c.path.startsWith(`/sites/${SITE}/lists/`))).toEqual([]);

    // The control: an ordinary subject is addressed exactly, and text that is only data is percent-encoded.
    const ok = (await runOf('delete-item', { data: {}, subject: { siteId: SITE, listId: 'Shared Documents', itemId: '7' } }))!;
    expect(ok.status).toBe('succeeded');
    expect(graphCallsOf(ok.id)).toEqual([
      expect.objectContaining({ method: 'DELETE', path: `/sites/${SITE}/lists/Shared%20Documents/items/7`, query: '' }),
    ]);

    tally.record({
      kind: 'attack',
      category: 'Event data re-targeting Graph paths and queries',
      tried: hostile.length,
      handled: refused,
      faultsInjected: 0,
      lost: 0,
    });
  });

  test('a value rendered unquoted into the query that is not a plain word is refused: it adds no parameters', async () => {
    const attempts = ['id&$expand=manager', 'id#', "id&$filter=startswith(displayName,'a')", 'id\n&x=1'];
    let handled = 0;
    for (const select of attempts) {
      const run = (await runOf('lookup-me', { data: { select } }))!;
      expect(run.status).toBe('failed');
      expect(graphCallsOf(run.id)).toEqual([]);
      if (run.status === 'failed' && graphCallsOf(run.id).length === 0) handled++;
    }
    // A plain word is one query value.
    const ok = (await runOf('lookup-me', { data: { select: 'displayName' } }))!;
    expect(ok.status).toBe('succeeded');
    expect([...new URLSearchParams(graphCallsOf(ok.id)[0]!.query).entries()]).toEqual([['$select', 'displayName']]);
    tally.record({
      kind: 'attack',
      category: 'Event data re-targeting Graph paths and queries',
      tried: attempts.length,
      handled,
      faultsInjected: 0,
      lost: 0,
    });
  });
});

describe('finding 3: markup in event data is text in HTML mail', () => {
  test("values are escaped in an HTML body; the template's own markup stays", async () => {
    const phishing = '<a href="https://evil.example/reset">Your password expires: re-enter it here</a>';
    const run = (await runOf('notify-owner', { data: { title: phishing, author: `Ann<img src=x onerror="alert(1)">` } }))!;
    expect(run.status).toBe('succeeded');
    const mail = stack.graph.mail.at(-1)!;
    expect(mail.contentType).toBe('HTML');
    expect(mail.content).toBe(
      '<p>Hello,</p><p>&lt;a href=&quot;https:&#47;&#47;evil.example&#47;reset&quot;&gt;Your password expires: re-enter it here&lt;&#47;a&gt; was created by ' +
        '<b>Ann&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</b>.</p>',
    );
    expect(mail.content).not.toMatch(/<a |<img /);
    // The subject is plain text in Outlook: it keeps the text as it is.
    expect(mail.subject).toBe(`New item: ${phishing}`);
    tally.record({
      kind: 'attack',
      category: 'HTML injection into mail sent as a service account',
      tried: 2,
      handled: mail.content.includes('<a ') ? 0 : 2,
      faultsInjected: 0,
      lost: 0,
    });
  });
});
