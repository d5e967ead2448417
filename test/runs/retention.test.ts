/**
 * Retention against Azurite with a frozen clock: runs (and their events' received-time rows), dead letters and
 * connection audit entries past their retention are deleted in bounded batches, each timer run continuing where the
 * last one stopped; everything younger stays.
 */
import type { TokenCredential } from '@azure/identity';
import { randomBytes, randomUUID } from 'node:crypto';
import { createTableFactory, type TableFactory } from '../../src/adapters/tables';
import { ConnectionAuditLog } from '../../src/connections/connection-audit';
import type { ProductEvent } from '../../src/events/product-event';
import { startAzurite, type LocalAzurite } from '../../src/local/azurite';
import { DeadLetterLog } from '../../src/runs/dead-letters';
import { Retention, type RetentionOutcome } from '../../src/runs/retention';
import type { Run } from '../../src/runs/run';
import { RunRepository, runIdFor } from '../../src/runs/run-repository';
import { UserAssertion } from '../../src/shared/user';
import { UserSessionStore } from '../../src/tokens/user-session-store';

let azurite: LocalAzurite;
let tables: TableFactory;
const credential: TokenCredential = { getToken: async () => null };
const dayMs = 24 * 3600_000;
const NOW = new Date('2030-06-01T00:00:00.000Z');
const daysAgo = (days: number) => new Date(NOW.getTime() - days * dayMs);
const names = { runs: 'retruns', deadLetters: 'retdead', audit: 'retaudit', sessions: 'retsessions' };
const tenants = [randomUUID(), randomUUID()];

beforeAll(async () => {
  azurite = await startAzurite();
  tables = createTableFactory({ TABLES_CONNECTION_STRING: azurite.connectionString, CONNECTIONS_LOCAL_MODE: true }, credential);
});
afterAll(async () => {
  await azurite?.stop();
});

/** A run of `tenantId` whose event was received `days` ago, stored the way the event processor stores it. */
async function storeRun(runs: RunRepository, tenantId: string, days: number): Promise<string> {
  const at = daysAgo(days);
  const event: ProductEvent = {
    id: randomUUID(),
    type: 'ItemCreated',
    tenantId,
    occurredAt: at.toISOString(),
    subject: { siteId: 's', listId: 'l', itemId: '1' },
    data: { note: 'x'.repeat(2000) },
  };
  const receivedAt = await runs.receivedAt(event, at);
  const run: Run = {
    id: runIdFor(event, 'p', receivedAt),
    tenantId,
    kind: 'system',
    processId: 'p',
    processVersion: 1,
    event,
    subject: event.subject,
    status: 'succeeded',
    createdAt: at.toISOString(),
    finishedAt: at.toISOString(),
    steps: [{ id: 'a', action: 'updateFields', status: 'succeeded', attempts: 1 }],
  };
  expect(await runs.create(run)).toBe(true);
  return run.id;
}

async function rowCount(table: string): Promise<number> {
  let n = 0;
  for await (const _ of (await tables(table)).listEntities()) n++;
  return n;
}

test('everything past its retention is deleted in batches of the configured size, younger rows are kept', async () => {
  const runs = new RunRepository(tables, names.runs);
  const old: string[] = [];
  const young: string[] = [];
  for (const tenantId of tenants) {
    old.push(await storeRun(runs, tenantId, 31), await storeRun(runs, tenantId, 45));
    young.push(await storeRun(runs, tenantId, 29));
  }
  // Dead letters: 3 recorded 15+ days ago, 1 recorded 13 days ago.
  for (const days of [15, 16, 20, 13]) {
    await new DeadLetterLog(tables, names.deadLetters, () => daysAgo(days)).record({
      queue: days === 20 ? 'process-steps' : 'workpoint-events',
      messageId: `m-${days}`,
      reason: 'test',
      body: {},
    });
  }
  // Audit: 2 entries of one change 401 days ago, 1 of 399 days ago.
  const audit = new ConnectionAuditLog(tables, names.audit);
  const connectionId = randomUUID();
  const entry = (days: number) => ({ connectionId, at: daysAgo(days).toISOString(), action: 'renamed' as const, by: 'a', details: {} });
  await audit.recordOnce(tenants[0], 'old-change', [entry(401), entry(401)]);
  await audit.recordOnce(tenants[0], 'young-change', [entry(399)]);

  expect(await rowCount(names.runs)).toBe(12); // 6 runs + 6 received-time rows
  const retention = new Retention({
    tables,
    batchSize: 3,
    now: () => NOW,
    rules: [
      { name: 'runs', table: names.runs, timeProperties: ['createdAt', 'receivedAt'], days: 30 },
      { name: 'deadLetters', table: names.deadLetters, timeProperties: ['at'], days: 14 },
      { name: 'audit', table: names.audit, timeProperties: ['at'], days: 400 },
    ],
  });

  const passes: RetentionOutcome[][] = [];
  for (let i = 0; i < 10; i++) {
    const outcome = await retention.run();
    passes.push(outcome);
    if (outcome.every((o) => !o.more)) break;
  }
  const deletedBy = (name: string) => passes.map((p) => p.find((o) => o.name === name)!.deleted);
  // 8 old run rows (4 runs + 4 received-time rows), 3 per timer run: 3, 3, 2 — each run continues where the last stopped.
  expect(deletedBy('runs')).toEqual([3, 3, 2]);
  expect(deletedBy('deadLetters')).toEqual([3, 0, 0]);
  expect(deletedBy('audit')).toEqual([2, 0, 0]);
  expect(passes.flat().filter((o) => o.failed)).toEqual([]);
  expect(passes[0].find((o) => o.name === 'runs')).toMatchObject({ cutoff: '2030-05-02T00:00:00.000Z', more: true });

  for (const tenantId of tenants) {
    expect((await runs.list(tenantId)).map((r) => r.id)).toEqual(young.filter((_, i) => tenants[i] === tenantId));
  }
  for (const id of old) expect(await runs.get(tenants[old.indexOf(id) < 2 ? 0 : 1], id)).toBeUndefined();
  expect(await rowCount(names.runs)).toBe(4); // the 2 young runs and their received-time rows
  const deadLeft = [
    ...(await new DeadLetterLog(tables, names.deadLetters).list('workpoint-events')),
    ...(await new DeadLetterLog(tables, names.deadLetters).list('process-steps')),
  ];
  expect(deadLeft.map((d) => d.messageId)).toEqual(['m-13']);
  expect((await audit.list(tenants[0], connectionId)).map((e) => e.at)).toEqual([daysAgo(399).toISOString()]);

  // A further run finds nothing: the retention is idempotent.
  expect((await retention.run()).map((o) => o.deleted)).toEqual([0, 0, 0]);
});

test('user sessions left behind (a run dead-lettered or cut off before it deleted its session) go a day after they expired', async () => {
  const key = randomBytes(32);
  const keys = { current: async () => ({ version: 'v1', key }), byVersion: async () => key };
  const sessions = new UserSessionStore(tables, names.sessions, keys);
  const tenantId = tenants[0];
  // The assertion's expiry dates the row: a session cannot be used after it anyway (steps wait for the user).
  await sessions.put(tenantId, 'run-expired-2-days', new UserAssertion('header.payload.signature', daysAgo(2)));
  await sessions.put(tenantId, 'run-expired-1-hour', new UserAssertion('header.payload.signature', new Date(NOW.getTime() - 3600_000)));
  await sessions.put(tenantId, 'run-live', new UserAssertion('header.payload.signature', new Date(NOW.getTime() + 3600_000)));
  const retention = new Retention({
    tables,
    now: () => NOW,
    rules: [{ name: 'userSessions', table: names.sessions, timeProperties: ['expiresAt'], days: 1 }],
  });

  expect((await retention.run()).map((o) => [o.name, o.deleted])).toEqual([['userSessions', 1]]);
  expect(await sessions.get(tenantId, 'run-expired-2-days')).toBeUndefined();
  expect(await sessions.get(tenantId, 'run-expired-1-hour')).toBeDefined();
  expect(await sessions.get(tenantId, 'run-live')).toBeDefined();
});
