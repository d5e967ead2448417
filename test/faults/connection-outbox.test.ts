/**
 * Issue 16, item 1: a crash between a connection's status write and its `ConnectionStatusChanged` message loses
 * nothing. The crashing instance is a second app on the same Tables and bus whose sender fails (before or after the
 * message reached the queue) the way a killed process would: nothing after that point runs. The "restarted"
 * instance is the stack's own app; it delivers what was left from the outbox on the next change of the tenant and
 * from the maintenance timer, and the queue holds each message once.
 */
import { InvocationContext, type Timer } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { functionDefinitions } from '../../functions/definitions';
import type { TimerFunction } from '../../functions/registry';
import type { MessageSender, OutgoingMessage } from '../../src/adapters/message-queue';
import { createApp } from '../../src/app-context';
import { queueNames, type QueueName } from '../../src/config/queues';
import type { ConnectionView } from '../../src/connections/connection';
import { CONTOSO_ADMIN, CONTOSO_SVC_APPROVALS, CONTOSO_SVC_WORKPOINT, TENANT_A } from '../../src/local/identity-provider/directory';
import { auditOf, authorizeConnection, getConnection, observeConnectionEvents, type ConnectionNotice } from '../support/connections';
import { useTally } from '../support/tally';
import { startTestStack, type TestStack } from '../support/test-stack';

const tally = useTally();
let stack: TestStack;
let notices: ConnectionNotice[];
let workpoint: ConnectionView;
let approvals: ConnectionView;

beforeAll(async () => {
  stack = await startTestStack();
  notices = observeConnectionEvents(stack);
  workpoint = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  approvals = await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Approvals');
});
afterAll(async () => {
  await stack?.stop();
});

class SimulatedCrash extends Error {
  constructor() {
    super('simulated crash: the process died here');
    this.name = 'SimulatedCrash';
  }
}

/** A sender that "dies" on connection-events: before the message reaches the queue, or right after it did. */
function crashingSender(bus: MessageSender, when: 'before send' | 'after send'): MessageSender & { crashes: number } {
  const sender = {
    crashes: 0,
    async send(queue: QueueName, messages: OutgoingMessage[]) {
      if (queue !== queueNames.connectionEvents) return bus.send(queue, messages);
      sender.crashes++;
      if (when === 'after send') await bus.send(queue, messages);
      throw new SimulatedCrash();
    },
  };
  return sender;
}

/** A second instance on the same Tables and bus, whose sends to connection-events crash. */
function crashingInstance(when: 'before send' | 'after send') {
  const sender = crashingSender(stack.bus, when);
  const app = createApp(stack.context.settings, { ...stack.overrides, sender });
  return { ...app, sender };
}

const maintenanceTimer = () =>
  functionDefinitions.find((f): f is TimerFunction => f.kind === 'timer' && f.name === 'connections-maintenance');

async function runMaintenanceTimer(): Promise<string[]> {
  const lines: string[] = [];
  const context = new InvocationContext({
    invocationId: randomUUID(),
    functionName: 'connections-maintenance',
    logHandler: (level, ...args) => lines.push(`[${level}] ${args.join(' ')}`),
  });
  const timer: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
  const timerFunction = maintenanceTimer();
  if (!timerFunction) throw new Error('no connections-maintenance timer function');
  await timerFunction.handler(timer, context);
  return lines;
}

const noticesOf = (id: string, to: string) => notices.filter((n) => n.body.connectionId === id && n.body.to === to);
const queueStats = () => stack.bus.stats()[queueNames.connectionEvents] ?? { accepted: 0, duplicatesDropped: 0 };

test('a crash after a status write (before or after the send): after a restart each notification reaches the queue once', async () => {
  const before = queueStats();

  // 1. Instance 1 marks WorkPoint needs_reauth and dies before the message reaches the queue.
  const first = crashingInstance('before send');
  await first.internals.connectionLifecycle
    .markNeedsReauth({ tenantId: TENANT_A.id, id: workpoint.id }, 'The grant was revoked (test).')
    .catch(() => undefined);
  expect(first.sender.crashes).toBe(1);
  expect((await getConnection(stack, workpoint.id)).status).toBe('needs_reauth');
  expect(noticesOf(workpoint.id, 'needs_reauth')).toHaveLength(0);

  // The restarted instance (the stack's own app) delivers it with the tenant's next change: a rename of another connection.
  const renamed = await stack.api(`connections/${approvals.id}`, { method: 'PATCH', body: { displayName: 'Approvals (renamed)' } });
  expect(renamed.status).toBe(200);
  expect(noticesOf(workpoint.id, 'needs_reauth')).toHaveLength(1);

  // 2. Instance 2 deletes Approvals and dies right after the message reached the queue, before it cleared its outbox.
  const second = crashingInstance('after send');
  const admin = { tenantId: TENANT_A.id, username: CONTOSO_ADMIN.username, objectId: CONTOSO_ADMIN.objectId };
  await expect(second.context.connections.delete(admin, approvals.id, { force: true })).resolves.toBeUndefined();
  expect(second.sender.crashes).toBe(1);
  expect((await stack.api(`connections/${approvals.id}`)).status).toBe(404);

  // The restarted instance's timer sends it again: the queue's duplicate detection drops the copy.
  const lines = await runMaintenanceTimer();
  expect(lines.join('\n')).toMatch(/pending connection notifications .*"delivered":1,/);

  // A second timer run finds nothing left.
  expect((await runMaintenanceTimer()).join('\n')).toMatch(/pending connection notifications .*"delivered":0,/);

  const after = queueStats();
  const deleted = noticesOf(approvals.id, 'deleted');
  expect(noticesOf(workpoint.id, 'needs_reauth').map((n) => n.body)).toEqual([
    expect.objectContaining({ from: 'active', to: 'needs_reauth', reason: 'The grant was revoked (test).' }),
  ]);
  expect(deleted.length).toBe(2); // sent by the crashed instance, then again by the restarted one
  expect(new Set(deleted.map((n) => n.messageId)).size).toBe(1);
  expect(after.accepted - before.accepted).toBe(2); // needs_reauth + deleted, once each
  expect(after.duplicatesDropped - before.duplicatesDropped).toBe(1);

  // The audit entries were written once each, too.
  const workpointAudit = (await auditOf(stack, workpoint.id)).filter((e) => e.action === 'marked_needs_reauth');
  const approvalsAudit = (await auditOf(stack, approvals.id)).filter((e) => e.action === 'deleted');
  expect(workpointAudit).toHaveLength(1);
  expect(approvalsAudit).toHaveLength(1);

  const expected = [
    { id: workpoint.id, to: 'needs_reauth' },
    { id: approvals.id, to: 'deleted' },
  ];
  const queued = after.accepted - before.accepted;
  const lost = expected.filter((e) => noticesOf(e.id, e.to).length === 0).length;
  tally.record({
    kind: 'fault',
    category: "Crash between a connection's status change and its notification",
    tried: expected.length,
    handled: expected.length - lost,
    faultsInjected: first.sender.crashes + second.sender.crashes,
    lost: lost + Math.max(0, queued - expected.length) + (workpointAudit.length - 1) + (approvalsAudit.length - 1),
  });
  first.internals.broker.close();
  second.internals.broker.close();
});
