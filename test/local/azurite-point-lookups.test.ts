/**
 * The local Azurite finds a row by PartitionKey + RowKey through LokiJS's RowKey index instead of scanning the
 * row's partition (src/local/azurite.ts, childScript): Azure Tables' point query is its clustered index, and a scan
 * made every read and write of a run cost in proportion to its tenant's runs. The lookup only changes its order,
 * so each answer the app relies on must stay Azure's: the row of the right partition when two partitions hold the
 * same RowKey, 404 for a missing row, 409 for a second insert, 412 for a stale ETag, and a delete that removes
 * only its own partition's row.
 */
import { TableClient } from '@azure/data-tables';
import { randomUUID } from 'node:crypto';
import { startAzurite, type LocalAzurite } from '../../src/local/azurite';

let azurite: LocalAzurite;
let table: TableClient;

beforeAll(async () => {
  azurite = await startAzurite();
  table = TableClient.fromConnectionString(azurite.connectionString, 'pointlookups', { allowInsecureConnection: true });
  await table.createTable();
});
afterAll(async () => {
  await azurite?.stop();
});

const statusOf = async (work: Promise<unknown>): Promise<number | undefined> =>
  work.then(
    () => undefined,
    (e: { statusCode?: number }) => e.statusCode,
  );

// That the patch is installed, not that LokiJS then uses the index (no answer shows it; the step bench's Azurite CPU
// per step, `cpu_ms_per_step`, does): an Azurite or LokiJS upgrade that removes Collection.findOne fails here.
test('the installed Azurite has its point lookups patched', () => {
  expect(azurite.pointLookups).toBe('indexed');
});

test.each([
  ['a GUID', randomUUID()],
  ['a number-like key', '1'],
  ['a key that is another as a number', '01'],
  ['an empty key', ''],
])(
  'two partitions holding the same RowKey (%s): reads, conditional writes and deletes reach their own partition only',
  async (_kind, rowKey) => {
    const [a, b] = ['tenant-a', 'tenant-b'];
    // Rows of other keys in both partitions, before and after, so neither lookup order finds the row by accident.
    for (const pk of [a, b])
      for (let i = 0; i < 20; i++) await table.createEntity({ partitionKey: pk, rowKey: `${i}-${randomUUID()}`, n: i });
    const etagA = (await table.createEntity({ partitionKey: a, rowKey, owner: 'a' })).etag!;
    const etagB = (await table.createEntity({ partitionKey: b, rowKey, owner: 'b' })).etag!;

    expect((await table.getEntity<{ owner: string }>(a, rowKey)).owner).toBe('a');
    expect((await table.getEntity<{ owner: string }>(b, rowKey)).owner).toBe('b');
    expect(await statusOf(table.getEntity('tenant-c', rowKey))).toBe(404);
    expect(await statusOf(table.createEntity({ partitionKey: b, rowKey, owner: 'again' }))).toBe(409);

    // B's ETag does not fit A's row: 412, and A is unchanged.
    expect(await statusOf(table.updateEntity({ partitionKey: a, rowKey, owner: 'wrong' }, 'Replace', { etag: etagB }))).toBe(412);
    const newA = (await table.updateEntity({ partitionKey: a, rowKey, owner: 'a2' }, 'Replace', { etag: etagA })).etag!;
    expect(await statusOf(table.updateEntity({ partitionKey: a, rowKey, owner: 'stale' }, 'Merge', { etag: etagA }))).toBe(412);
    expect((await table.getEntity<{ owner: string }>(a, rowKey)).owner).toBe('a2');
    expect((await table.getEntity<{ owner: string }>(b, rowKey)).owner).toBe('b');

    await table.deleteEntity(a, rowKey, { etag: newA });
    expect(await statusOf(table.getEntity(a, rowKey))).toBe(404);
    expect((await table.getEntity<{ owner: string }>(b, rowKey)).owner).toBe('b');
    expect(await statusOf(table.updateEntity({ partitionKey: a, rowKey, owner: 'gone' }, 'Merge', { etag: '*' }))).toBe(404);
  },
);
