import type { Connection } from '../../src/connections/connection';
import type { ProcessDefinition, StepDefinition } from '../../src/processes/process-definition';
import {
  chooseExecutor,
  executedAsOf,
  ExecutorResolver,
  noConnectionMessage,
  notExecutableMessage,
  type ExecutorChoice,
} from '../../src/runs/executor';

const tenantId = '11111111-1111-4111-8111-111111111111';
const ids = {
  approvals: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  contracts: 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
  archive: 'cccccccc-cccc-4ccc-8ccc-cccccccccccc',
  deleted: 'dddddddd-dddd-4ddd-8ddd-dddddddddddd',
};

function connection(id: string, name: string, change: Partial<Connection> = {}): Connection {
  return {
    id,
    displayName: name,
    account: { username: `${name}@contoso.com`, objectId: `oid-${name}`, tenantId },
    status: 'active',
    isDefault: false,
    createdAt: '2025-01-01T00:00:00.000Z',
    createdBy: 'admin@contoso.com',
    ...change,
  };
}

const approvals = connection(ids.approvals, 'approvals', { isDefault: true });
const contracts = connection(ids.contracts, 'contracts');
const archive = connection(ids.archive, 'archive');

const step = (change: Partial<StepDefinition> = {}): StepDefinition => ({ id: 'notify', type: 'action', action: 'sendMail', ...change });
const process = (change: Partial<ProcessDefinition> = {}): ProcessDefinition => ({
  id: 'nda',
  name: 'NDA',
  kind: 'system',
  steps: [step()],
  ...change,
});

const connectionOf = (choice: ExecutorChoice) =>
  choice.kind === 'connection' ? choice.connection.id : choice.kind === 'user' ? 'the user' : choice.reason;

describe('chooseExecutor: who executes a step', () => {
  const all = [approvals, contracts, archive];

  test("the step's executeAs wins over the process's runAs and the default", () => {
    const chosen = chooseExecutor(process({ runAs: ids.contracts }), step({ permissions: { executeAs: ids.archive } }), all);
    expect(connectionOf(chosen)).toBe(ids.archive);
  });

  test("without executeAs, the process's runAs wins over the default", () => {
    expect(connectionOf(chooseExecutor(process({ runAs: ids.contracts }), step(), all))).toBe(ids.contracts);
    expect(connectionOf(chooseExecutor(process({ runAs: ids.contracts }), step({ permissions: {} }), all))).toBe(ids.contracts);
  });

  test("without either, the tenant's default connection executes it", () => {
    expect(connectionOf(chooseExecutor(process(), step(), all))).toBe(ids.approvals);
  });

  test('a tenant without connections gets the one "no connection" message', () => {
    expect(chooseExecutor(process(), step(), [])).toEqual({ kind: 'none', reason: noConnectionMessage });
    expect(chooseExecutor(process({ runAs: ids.contracts }), step(), [])).toEqual({ kind: 'none', reason: noConnectionMessage });
  });

  test('a named connection that was deleted is not replaced by the default: the step says which one and what to do', () => {
    const chosen = chooseExecutor(process(), step({ permissions: { executeAs: ids.deleted } }), all);
    expect(chosen).toEqual({
      kind: 'none',
      reason: `The connection ${ids.deleted} this step runs as no longer exists. Choose another connection and republish the process.`,
    });
  });

  test('no default connection and nothing named: the admin is told to make one the default', () => {
    const chosen = chooseExecutor(process(), step(), [contracts, archive]);
    expect(chosen).toEqual({ kind: 'none', reason: 'The tenant has no default connection. Make a connection the default.' });
  });

  test('a connection that needs re-authorization is not swapped for another account', () => {
    const stale = connection(ids.contracts, 'contracts', { status: 'needs_reauth' });
    expect(chooseExecutor(process({ runAs: ids.contracts }), step(), [approvals, stale])).toEqual({
      kind: 'none',
      reason: 'The connection "contracts" (contracts@contoso.com) needs re-authorization.',
    });
    const staleDefault = connection(ids.approvals, 'approvals', { isDefault: true, status: 'needs_reauth' });
    expect(chooseExecutor(process(), step(), [staleDefault, contracts])).toMatchObject({
      kind: 'none',
      reason: expect.stringContaining('needs re-authorization'),
    });
  });

  test('form steps have no executor, whatever the process names', () => {
    const form = step({ type: 'form', action: undefined, permissions: { executeAs: ids.contracts } });
    expect(chooseExecutor(process({ runAs: ids.contracts }), form, all)).toEqual({ kind: 'none', reason: notExecutableMessage });
  });

  test('the audit records the connection and its account', () => {
    expect(executedAsOf({ kind: 'connection', connection: contracts })).toEqual({
      kind: 'connection',
      connectionId: ids.contracts,
      username: 'contracts@contoso.com',
      objectId: 'oid-contracts',
    });
  });
});

describe('chooseExecutor in user processes: unelevated steps run as the user', () => {
  const all = [approvals, contracts, archive];
  const userProcess = (change: Partial<ProcessDefinition> = {}) => process({ kind: 'user', ...change });

  test('an action step without executeAs runs as the user, never as the default connection', () => {
    expect(chooseExecutor(userProcess(), step(), all)).toEqual({ kind: 'user' });
  });

  test('nor as runAs (a user process cannot be published with one; an old version may have it)', () => {
    expect(chooseExecutor(userProcess({ runAs: ids.contracts }), step(), all)).toEqual({ kind: 'user' });
  });

  test('without any connection the user still runs the unelevated steps', () => {
    expect(chooseExecutor(userProcess(), step(), [])).toEqual({ kind: 'user' });
  });

  test('an "Execute as" step runs as its connection, exactly as in system processes', () => {
    expect(connectionOf(chooseExecutor(userProcess(), step({ permissions: { executeAs: ids.archive } }), all))).toBe(ids.archive);
    const stale = connection(ids.archive, 'archive', { status: 'needs_reauth' });
    expect(chooseExecutor(userProcess(), step({ permissions: { executeAs: ids.archive } }), [stale])).toMatchObject({
      kind: 'none',
      reason: expect.stringContaining('needs re-authorization'),
    });
  });

  test('the audit records the user who started the run', () => {
    const initiator = { objectId: 'oid-user', username: 'user@contoso.com' };
    expect(executedAsOf({ kind: 'user' }, initiator)).toEqual({ kind: 'user', username: 'user@contoso.com', objectId: 'oid-user' });
  });

  test('the resolver answers a user step without reading the connections', async () => {
    const reads: string[] = [];
    const resolver = new ExecutorResolver({ list: async (t: string) => (reads.push(t), [approvals]) }, 60_000);
    expect(await resolver.resolve(tenantId, userProcess(), step())).toEqual({ kind: 'user' });
    expect(reads).toHaveLength(0);
  });
});

describe('ExecutorResolver: reuses the tenant list, re-reads it before failing a step', () => {
  /** A repository whose list changes between reads; counts the reads. */
  function repository(...answers: Connection[][]) {
    const reads: string[] = [];
    return {
      reads,
      list: async (tenant: string) => {
        reads.push(tenant);
        return answers[Math.min(reads.length - 1, answers.length - 1)];
      },
    };
  }

  test('a burst of steps reads the list once', async () => {
    const repo = repository([approvals]);
    const resolver = new ExecutorResolver(repo, 60_000);
    for (let i = 0; i < 5; i++) expect(connectionOf(await resolver.resolve(tenantId, process(), step()))).toBe(ids.approvals);
    expect(repo.reads).toHaveLength(1);
  });

  test('a reused list that predates a new connection is read again, so the step does not fail for a stale copy', async () => {
    const repo = repository([], [approvals]);
    const resolver = new ExecutorResolver(repo, 60_000);
    expect(connectionOf(await resolver.resolve(tenantId, process(), step()))).toBe(ids.approvals);
    expect(repo.reads).toHaveLength(2);
  });

  test('when the fresh list has no executor either, the step gets the reason from the fresh list', async () => {
    const stale = connection(ids.approvals, 'approvals', { isDefault: true, status: 'needs_reauth' });
    const repo = repository([], [stale]);
    const choice = await new ExecutorResolver(repo, 60_000).resolve(tenantId, process(), step());
    expect(choice).toMatchObject({ kind: 'none', reason: expect.stringContaining('needs re-authorization') });
  });

  test('forget drops the reused list (a dead grant changed a connection)', async () => {
    const repo = repository([approvals], [connection(ids.approvals, 'approvals', { isDefault: true, status: 'needs_reauth' })]);
    const resolver = new ExecutorResolver(repo, 60_000);
    await resolver.resolve(tenantId, process(), step());
    resolver.forget(tenantId);
    expect(await resolver.resolve(tenantId, process(), step())).toMatchObject({ kind: 'none' });
  });

  test('a form step is refused without reading the list', async () => {
    const repo = repository([approvals]);
    const choice = await new ExecutorResolver(repo, 60_000).resolve(tenantId, process(), step({ type: 'form', action: undefined }));
    expect(choice).toEqual({ kind: 'none', reason: notExecutableMessage });
    expect(repo.reads).toHaveLength(0);
  });
});
