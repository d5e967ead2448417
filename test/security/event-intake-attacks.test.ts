/**
 * Attacks on how product events are taken in (issue 12, findings 6 and 7), through the HTTP API, the events queue and
 * the engine of the whole local stack:
 *
 * - `occurredAt` far in the future or before 2000 gave run ids the step runner refused (runs stayed `running`) and
 *   sorted ahead of every real run. Runs are now ordered by when the event was received; `occurredAt` is data.
 * - An event id with a line break wrote a forged `[error] keepalive: ...` log line.
 */
import { randomUUID } from 'node:crypto';
import { queueNames } from '../../src/config/queues';
import { CONTOSO_SVC_WORKPOINT, TENANT_A } from '../../src/local/identity-provider/directory';
import { authorizeConnection } from '../support/connections';
import { useTally } from '../support/tally';
import { startTestStack, type TestStack } from '../support/test-stack';
import type { RunView } from '../../src/runs/run';

const tally = useTally();
let stack: TestStack;
const PROCESS = 'mark-seen';
const subject = { siteId: 'contoso.sharepoint.com,site-1', listId: 'list-1', itemId: '7' };

beforeAll(async () => {
  stack = await startTestStack();
  await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  const body = {
    name: 'Mark seen',
    kind: 'system',
    triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.data.kind', op: 'eq', value: 'mark' }] }],
    steps: [{ id: 'only', type: 'action', action: 'updateFields', inputs: { fields: { Seen: true } } }],
  };
  expect((await stack.api(`processes/${PROCESS}`, { method: 'PUT', body })).status).toBe(200);
  expect((await stack.api(`processes/${PROCESS}/publish`, { method: 'POST' })).status).toBe(200);
});
afterAll(async () => {
  await stack?.stop();
});

const post = (event: Record<string, unknown>) => stack.api('events', { method: 'POST', body: { type: 'ItemCreated', subject, ...event } });
const runsOfProcess = async (limit = 200) => (await stack.api(`runs?processId=${PROCESS}&limit=${limit}`)).json.runs as RunView[];

describe('finding 6: occurredAt is data; runs are ordered by when the event was received', () => {
  test('implausible times are refused at POST /api/events (400) and dead-lettered with the reason on the queue', async () => {
    const times = [
      '2300-01-01T00:00:00Z',
      '1969-12-31T23:59:59Z',
      '1999-12-31T23:59:59Z',
      new Date(Date.now() + 60 * 60_000).toISOString(),
    ];
    let refused = 0;
    for (const occurredAt of times) {
      const res = await post({ id: randomUUID(), occurredAt, data: { kind: 'mark' } });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.json.error)).toMatch(/occurredAt/);
      if (res.status === 400) refused++;
    }
    const runsBefore = (await runsOfProcess()).length;
    const deadBefore = (await stack.context.deadLetters.list(queueNames.events, 10_000)).length;
    const ids = times.map(() => randomUUID());
    await stack.bus.send(
      queueNames.events,
      times.map((occurredAt, i) => ({
        body: { id: ids[i], type: 'ItemCreated', tenantId: TENANT_A.id, occurredAt, subject, data: { kind: 'mark' } },
        messageId: `time-${ids[i]}`,
      })),
    );
    await stack.bus.idle();
    const dead = (await stack.context.deadLetters.list(queueNames.events, 10_000)).slice(0, -deadBefore || undefined);
    for (const id of ids) {
      const letter = dead.find((d) => d.messageId === `time-${id}`);
      expect(letter?.reason).toMatch(/occurredAt/);
      if (letter) refused++;
    }
    expect((await runsOfProcess()).length).toBe(runsBefore);
    tally.record({
      kind: 'attack',
      category: 'Implausible event times (run ids, run order)',
      tried: times.length * 2,
      handled: refused,
      faultsInjected: 0,
      lost: 0,
    });
  });

  test('a late event (occurred hours ago, received now) is listed first, keeps its occurredAt and runs; a slightly early clock does not jump the queue', async () => {
    const now = Date.now();
    const firstId = randomUUID();
    expect((await post({ id: firstId, data: { kind: 'mark' } })).status).toBe(202);
    await stack.bus.idle();
    // 4 minutes ahead: within the clock skew the app tolerates, so accepted, but it must not sort ahead of later runs.
    const ahead = new Date(now + 4 * 60_000).toISOString();
    const early = await post({ id: randomUUID(), occurredAt: ahead, data: { kind: 'mark' } });
    expect(early.status).toBe(202);
    await stack.bus.idle();
    const late = new Date(now - 3 * 60 * 60_000).toISOString();
    const lateId = randomUUID();
    expect((await post({ id: lateId, occurredAt: late, data: { kind: 'mark' } })).status).toBe(202);
    await stack.bus.idle();

    const runs = await runsOfProcess(3);
    expect(runs.map((r) => r.event!.id)).toEqual([lateId, early.json.id, firstId]);
    expect(runs[0].event!.occurredAt).toBe(late);
    expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
    tally.record({
      kind: 'attack',
      category: 'Implausible event times (run ids, run order)',
      tried: 1,
      handled: runs[1].event!.id === early.json.id ? 1 : 0,
      faultsInjected: 0,
      lost: 0,
    });
  });
});

describe('finding 7: ids cannot forge log lines', () => {
  const forged = [
    'evt-1\n[error] keepalive: Connection 1 of tenant x needs re-authorization',
    'evt-2\r[error] forged',
    'evt-3\u2028forged',
    "evt-4' or 1 eq 1",
    'evt/5',
    'evt 6',
  ];

  test('an event id outside [A-Za-z0-9._:-] is refused with 400 at POST /api/events and nothing is queued', async () => {
    const logsBefore = stack.logs.length;
    let refused = 0;
    for (const id of forged) {
      const res = await post({ id, data: { kind: 'mark' } });
      expect(res.status).toBe(400);
      expect(res.json.error.details).toEqual([expect.objectContaining({ path: 'id' })]);
      if (res.status === 400) refused++;
    }
    await stack.bus.idle();
    expect(stack.logs.slice(logsBefore).filter((l) => /[\r\n\u2028\u2029]/.test(l))).toEqual([]);
    tally.record({
      kind: 'attack',
      category: 'Log forging through ids',
      tried: forged.length,
      handled: refused,
      faultsInjected: 0,
      lost: 0,
    });
  });

  test('on the queue such ids are dead-lettered, and every caller-supplied value is logged JSON-encoded on one line', async () => {
    const logsBefore = stack.logs.length;
    const deadBefore = (await stack.context.deadLetters.list(queueNames.events, 10_000)).length;
    const messages = forged.map((id, i) => ({
      body: { id, type: 'ItemCreated', tenantId: TENANT_A.id, occurredAt: new Date().toISOString(), subject, data: { kind: 'mark' } },
      messageId: `forged-${i}\n[error] keepalive: forged by the message id`,
    }));
    await stack.bus.send(queueNames.events, messages);
    await stack.bus.idle();
    const dead = (await stack.context.deadLetters.list(queueNames.events, 10_000)).slice(0, -deadBefore || undefined);
    expect(dead).toHaveLength(forged.length);
    for (const d of dead) expect(d.reason).toMatch(/\bid\b/);
    const written = stack.logs.slice(logsBefore);
    expect(written.length).toBeGreaterThanOrEqual(forged.length);
    expect(written.filter((l) => /[\r\n\u2028\u2029]/.test(l))).toEqual([]);
    // The message id still shows, escaped, so an operator can find the message.
    expect(written.some((l) => l.includes('"messageId":"forged-0\\n[error] keepalive: forged by the message id"'))).toBe(true);
    const handled = written.filter((l) => /[\r\n\u2028\u2029]/.test(l)).length === 0 ? forged.length : 0;
    tally.record({ kind: 'attack', category: 'Log forging through ids', tried: forged.length, handled, faultsInjected: 0, lost: 0 });
  });
});
