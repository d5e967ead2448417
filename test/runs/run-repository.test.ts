/**
 * A run record against Azurite, at Azure Tables' limits: long step errors and summaries are cut with a marker (never
 * failing the run), a run of 100 steps fits one entity, and what cannot fit is refused with a clear error instead of
 * a raw storage failure. Also checks that Azurite enforces the string-property limit this relies on.
 */
import type { TokenCredential } from '@azure/identity';
import { randomUUID } from 'node:crypto';
import {
  createTableFactory,
  entitySizeBytes,
  entitySizeProblem,
  isSizeRefusal,
  tableLimits,
  type TableFactory,
} from '../../src/adapters/tables';
import { maxEventChars, type ProductEvent } from '../../src/events/product-event';
import { startAzurite, type LocalAzurite } from '../../src/local/azurite';
import { recordLimits, truncated } from '../../src/runs/record-limits';
import type { Run, StepRecord } from '../../src/runs/run';
import { RunRepository, RunTooLargeError, runIdFor } from '../../src/runs/run-repository';

let azurite: LocalAzurite;
let tables: TableFactory;
let runs: RunRepository;
const tenantId = randomUUID();
const credential: TokenCredential = { getToken: async () => null };

beforeAll(async () => {
  azurite = await startAzurite();
  tables = createTableFactory({ TABLES_CONNECTION_STRING: azurite.connectionString, CONNECTIONS_LOCAL_MODE: true }, credential);
  runs = new RunRepository(tables, 'runlimits');
});
afterAll(async () => {
  await azurite?.stop();
});

function eventOf(dataChars = 0): ProductEvent {
  return {
    id: randomUUID(),
    type: 'ItemCreated',
    tenantId,
    occurredAt: new Date().toISOString(),
    subject: { siteId: 'site', listId: 'list', itemId: '1' },
    data: { pad: 'd'.repeat(dataChars) },
  };
}

function runOf(event: ProductEvent, steps: StepRecord[]): Run {
  return {
    id: runIdFor(event, 'p', new Date()),
    tenantId,
    kind: 'system',
    processId: 'p',
    processVersion: 1,
    event,
    subject: event.subject,
    status: 'running',
    createdAt: new Date().toISOString(),
    steps,
  };
}

test('Azurite refuses a string property beyond 32K characters, as Azure Tables does, and the app recognizes the refusal', async () => {
  const table = await tables('azuritelimits');
  await table.createEntity({ partitionKey: 'p', rowKey: 'at', s: 'x'.repeat(tableLimits.maxStringChars) });
  const refused = await table
    .createEntity({ partitionKey: 'p', rowKey: 'beyond', s: 'x'.repeat(tableLimits.maxStringChars + 1) })
    .catch((e: unknown) => e);
  expect(refused).toMatchObject({ statusCode: 400, details: { odataError: { code: 'PropertyValueTooLarge' } } });
  expect(isSizeRefusal(refused)).toBe(true);
  expect(entitySizeProblem({ partitionKey: 'p', rowKey: 'beyond', s: 'x'.repeat(tableLimits.maxStringChars + 1) })).toMatch(
    /32768 per string property/,
  );
});

test('the entity limits Azurite does not enforce are checked before writing: 1 MiB, 255 properties, 1 KiB keys', () => {
  const props = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, 1]));
  expect(entitySizeProblem({ partitionKey: 'p', rowKey: 'r', ...props(252) })).toBeUndefined();
  expect(entitySizeProblem({ partitionKey: 'p', rowKey: 'r', ...props(253) })).toMatch(/255/);
  expect(entitySizeProblem({ partitionKey: 'p', rowKey: 'k'.repeat(1024) })).toBeUndefined();
  expect(entitySizeProblem({ partitionKey: 'p', rowKey: 'k'.repeat(1025) })).toMatch(/1024/);
  // 1 MiB by the documented formula: at the limit and one byte (half a character) beyond.
  const base = { partitionKey: 'p', rowKey: 'r', a: '' };
  const fill = (tableLimits.maxEntityBytes - entitySizeBytes(base)) / 2;
  const chunks = (chars: number) =>
    Object.fromEntries(
      Array.from({ length: Math.ceil(chars / 30_000) }, (_, i) => [`c${i}`, 'x'.repeat(Math.min(30_000, chars - i * 30_000))]),
    );
  const atLimit = { partitionKey: 'p', rowKey: 'r', ...chunks(fill - 2000) };
  const slack = tableLimits.maxEntityBytes - entitySizeBytes(atLimit);
  const exact = { ...atLimit, z: 'x'.repeat((slack - (8 + 2 + 4)) / 2) };
  expect(entitySizeBytes(exact)).toBe(tableLimits.maxEntityBytes);
  expect(entitySizeProblem(exact)).toBeUndefined();
  expect(entitySizeProblem({ ...exact, z: `${exact.z}x` })).toMatch(/1048576 per entity/);
});

test('long step errors and summaries are cut with a marker; the run is stored and reads back', async () => {
  const error = `Graph PATCH /sites/x -> HTTP 400 invalidRequest: ${'e'.repeat(100_000)} The item is locked.`;
  const run = runOf(eventOf(), [
    { id: 'a', status: 'succeeded', summary: 's'.repeat(recordLimits.stepSummaryChars), attempts: 1 },
    { id: 'b', status: 'failed', error, attempts: 1 },
  ]);
  const failed: Run = { ...run, status: 'failed', reason: `Step "b" failed: ${error}` };
  expect(await runs.create(failed)).toBe(true);
  const stored = (await runs.get(tenantId, run.id))!;
  expect(stored.status).toBe('failed');
  expect(stored.steps[0].summary).toBe('s'.repeat(recordLimits.stepSummaryChars)); // at the limit: untouched
  expect(stored.steps[1].error!.length).toBeLessThanOrEqual(recordLimits.stepErrorChars);
  expect(stored.steps[1].error!.length).toBeGreaterThan(recordLimits.stepErrorChars - 5);
  // What was called (the start) and the service's message (the end) both stay.
  expect(stored.steps[1].error).toMatch(
    new RegExp(
      `^Graph PATCH /sites/x -> HTTP 400 invalidRequest: e+ … \\[\\d+ of ${error.length} characters cut\\] … e+ The item is locked\\.$`,
    ),
  );
  expect(stored.reason!.length).toBeLessThanOrEqual(recordLimits.runReasonChars);
  expect(stored.reason).toMatch(/^Step "b" failed: Graph PATCH.* characters cut\] … e+ The item is locked\.$/);
});

test('truncation never splits a surrogate pair', () => {
  const text = '😀'.repeat(3000);
  for (const max of [100, 101, 102, 103]) {
    const cut = truncated(text, max);
    expect(cut.length).toBeLessThanOrEqual(max);
    expect(cut.length).toBeGreaterThan(max - 3);
    expect(cut).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/); // no lone surrogate
  }
});

test('a run of 100 steps with full-length summaries and errors and the largest event fits one entity', async () => {
  const event = eventOf(0);
  event.data.pad = 'd'.repeat(maxEventChars - JSON.stringify(event).length);
  expect(JSON.stringify(event).length).toBe(maxEventChars);
  const username = `${'u'.repeat(100)}@contoso.test`;
  const steps: StepRecord[] = Array.from({ length: 100 }, (_, i) => ({
    id: `step-${String(i).padStart(3, '0')}-${'i'.repeat(55)}`,
    action: 'updateFields',
    status: 'succeeded',
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    // Quotes double in JSON: the worst case for the stored size.
    summary: '"'.repeat(5000),
    error: '\\'.repeat(5000),
    executedAs: { kind: 'connection', connectionId: randomUUID(), username, objectId: randomUUID() },
    attempts: 3,
  }));
  const run = runOf(event, steps);
  expect(await runs.create(run)).toBe(true);
  const stored = (await runs.get(tenantId, run.id))!;
  expect(stored.steps).toHaveLength(100);
  expect(
    stored.steps.every((s) => s.summary!.length <= recordLimits.stepSummaryChars && s.error!.length <= recordLimits.stepErrorChars),
  ).toBe(true);
  expect(stored.event).toEqual(event);
  // Updates go through the same bounds.
  const done = await runs.update(tenantId, run.id, (r) => ({
    ...r,
    status: 'succeeded',
    steps: r.steps.map((s) => ({ ...s, summary: 'x'.repeat(9000) })),
  }));
  expect(done?.status).toBe('succeeded');
  expect((await runs.get(tenantId, run.id))!.steps[99].summary).toMatch(/of 9000 characters cut/);
});

test('a run that cannot fit is refused with a clear error naming the limit, not a raw storage failure', async () => {
  const run = runOf(eventOf(tableLimits.maxStringChars), [{ id: 'a', status: 'pending', attempts: 0 }]);
  const refused = await runs.create(run).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(RunTooLargeError);
  expect((refused as Error).message).toMatch(/eventJson is \d+ characters; Azure Tables holds 32768 per string property/);
  expect(await runs.get(tenantId, run.id)).toBeUndefined();
});
