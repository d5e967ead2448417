/**
 * The published processes events are matched against, read from Azurite: the latest version of each published
 * process (drafts never), and the same object for a process while its version is unchanged, so event matching
 * compiles each published version once per instance (src/events/matching.ts).
 */
import type { TokenCredential } from '@azure/identity';
import { randomUUID } from 'node:crypto';
import { createTableFactory, type TableFactory } from '../../src/adapters/tables';
import { startAzurite, type LocalAzurite } from '../../src/local/azurite';
import type { ProcessDefinition } from '../../src/processes/process-definition';
import { ProcessRepository } from '../../src/processes/process-repository';

let azurite: LocalAzurite;
let tables: TableFactory;
const credential: TokenCredential = { getToken: async () => null };

beforeAll(async () => {
  azurite = await startAzurite();
  tables = createTableFactory({ TABLES_CONNECTION_STRING: azurite.connectionString, CONNECTIONS_LOCAL_MODE: true }, credential);
});
afterAll(async () => {
  await azurite?.stop();
});

const definition = (id: string, stage: string): ProcessDefinition => ({
  id,
  name: id,
  kind: 'system',
  triggers: [{ event: 'ItemCreated' }],
  steps: [{ id: 's', type: 'action', action: 'changeStage', inputs: { stage } }],
});

test('lists the latest published version of each process, never a draft, and keeps unchanged versions the same object', async () => {
  const tenantId = randomUUID();
  // No cache between reads: every listPublished reads the table, as after the cache period.
  const repository = new ProcessRepository(tables, 'processlist', 0);
  await repository.saveDraft(tenantId, definition('b-published', 'one'), 'admin');
  await repository.publish(tenantId, definition('b-published', 'one'), 'admin');
  await repository.saveDraft(tenantId, definition('a-republished', 'first'), 'admin');
  await repository.publish(tenantId, definition('a-republished', 'first'), 'admin');
  await repository.saveDraft(tenantId, definition('c-draft-only', 'never'), 'admin');
  await repository.saveDraft(tenantId, definition('b-published', 'draft after publish'), 'admin');

  const first = await repository.listPublished(tenantId);
  expect(first.map((p) => [p.definition.id, p.version, p.definition.steps[0].inputs])).toEqual([
    ['a-republished', 1, { stage: 'first' }],
    ['b-published', 1, { stage: 'one' }],
  ]);

  await repository.publish(tenantId, definition('a-republished', 'second'), 'admin');
  const second = await repository.listPublished(tenantId);
  expect(second.map((p) => [p.definition.id, p.version, p.definition.steps[0].inputs])).toEqual([
    ['a-republished', 2, { stage: 'second' }],
    ['b-published', 1, { stage: 'one' }],
  ]);
  expect(second[1]).toBe(first[1]); // unchanged version: the same object (compiled once)
  expect(second[0]).not.toBe(first[0]);
  expect(await repository.listPublished(randomUUID())).toEqual([]);
});
