/**
 * Key Vault throttling and outages while steps run, injected at the vault's HTTP level (the real
 * @azure/keyvault-secrets client talks to the stand-in). Access tokens live 200 s, which the broker always renews,
 * so every step refreshes and, with rotating refresh tokens and TOKEN_CACHE_WRITE_POLICY=always, writes the rotated
 * cache back: every successful token call must add exactly one secret version, and the newest version must work.
 */
import { connectionSecretName } from '../../src/adapters/secret-store';
import { CONTOSO_SVC_WORKPOINT, TENANT_A } from '../../src/local/identity-provider/directory';
import { getTokenStats } from '../../src/local/identity-provider/launch';
import type { StandInFault } from '../../src/local/key-vault-stand-in';
import { authorizeConnection } from '../support/connections';
import { useTally } from '../support/tally';
import { startTestStack, type TestStack } from '../support/test-stack';
import type { ConnectionView } from '../../src/connections/connection';
import type { RunView } from '../../src/runs/run';

const tally = useTally();
let stack: TestStack;
let workpoint: ConnectionView;
let secretName: string;
const PROCESS = 'vault-steps';

beforeAll(async () => {
  stack = await startTestStack({ identityProvider: { accessTokenTtlSeconds: 200 } });
  workpoint = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  secretName = connectionSecretName(TENANT_A.id, workpoint.id);
  const body = {
    name: 'Vault steps',
    kind: 'system',
    triggers: [{ event: 'ItemCreated' }],
    steps: [
      { id: 'mark', type: 'action', action: 'updateFields', inputs: { fields: { Seen: true } } },
      { id: 'stage', type: 'action', action: 'changeStage', inputs: { stage: 'Filed' } },
    ],
  };
  expect((await stack.api(`processes/${PROCESS}`, { method: 'PUT', body })).status).toBe(200);
  expect((await stack.api(`processes/${PROCESS}/publish`, { method: 'POST' })).status).toBe(200);
});
afterAll(async () => {
  await stack?.stop();
});

const ref = () => ({ tenantId: TENANT_A.id, id: workpoint.id, objectId: CONTOSO_SVC_WORKPOINT.objectId });
const refreshCalls = async () => (await getTokenStats(stack.identityProvider.url)).byUsername[CONTOSO_SVC_WORKPOINT.username] ?? 0;
const callsFor = (itemId: string) => stack.graph.calls.filter((c) => c.path.includes(`/items/${itemId}/`));

async function postEvents(itemIds: string[]) {
  await Promise.all(
    itemIds.map(async (itemId) => {
      const res = await stack.api('events', {
        method: 'POST',
        body: { type: 'ItemCreated', subject: { siteId: 'contoso.sharepoint.com,site-1', listId: 'list-1', itemId }, data: {} },
      });
      expect(res.status).toBe(202);
    }),
  );
  await stack.bus.idle();
}

async function runsFor(itemIds: string[]) {
  const runs = (await stack.api(`runs?processId=${PROCESS}&limit=200`)).json.runs as RunView[];
  return itemIds.map((id) => runs.find((r) => r.subject.itemId === id)!);
}

async function versionValues(versions: string[]): Promise<string[]> {
  return Promise.all(
    versions.map(async (v) => {
      const res = await fetch(`${stack.vault.url}/secrets/${secretName}/${v}?api-version=7.5`, {
        headers: { Authorization: 'Bearer local' },
      });
      return ((await res.json()) as { value: string }).value;
    }),
  );
}

/** Runs `itemIds` under `faults` from a cold instance and checks that no step failed and no version was lost or doubled. */
async function stepsUnderVaultFaults(itemIds: string[], faults: StandInFault[]) {
  const versionsBefore = stack.vault.secretVersions(secretName);
  const writesBefore = stack.vault.counts().writes;
  const tokenCallsBefore = await refreshCalls();
  const requestsBefore = stack.vault.requests.length;
  // A cold instance (as after a restart): its first refresh has to read the vault.
  stack.internals.broker.forget(ref());
  stack.vault.injectFaults(faults);
  await postEvents(itemIds);

  const faulted = stack.vault.requests.slice(requestsBefore).filter((r) => r.status >= 400 && r.status !== 401);
  const runs = await runsFor(itemIds);
  const tokenCalls = (await refreshCalls()) - tokenCallsBefore;
  const newVersions = stack.vault.secretVersions(secretName).slice(versionsBefore.length);
  const values = await versionValues([...versionsBefore.slice(-1), ...newVersions]);
  return { faulted, runs, tokenCalls, newVersions, values, writes: stack.vault.counts().writes - writesBefore };
}

/** The stored cache is the newest one: a cold instance can use its refresh token (a lost rotation would be revoked). */
async function storedCacheWorks() {
  stack.internals.broker.forget(ref());
  const res = await stack.api(`connections/${workpoint.id}/test`, { method: 'POST' });
  return res.json as { ok: boolean };
}

test('429 with Retry-After and 503 bursts on reads and writes while steps run: every step completes, no version lost or written twice', async () => {
  const items = ['kv-1', 'kv-2', 'kv-3'];
  const faults: StandInFault[] = [
    { method: 'GET', status: 429, retryAfterSeconds: 1, count: 2 },
    { method: 'PUT', status: 503, count: 2 },
    { method: 'PUT', status: 429, retryAfterSeconds: 1, count: 1 },
  ];
  const r = await stepsUnderVaultFaults(items, faults);

  expect(r.faulted.map((f) => `${f.method} ${f.status}`)).toEqual(['GET 429', 'GET 429', 'PUT 503', 'PUT 503', 'PUT 429']);
  for (const run of r.runs) {
    expect(run).toMatchObject({ status: 'succeeded' });
    expect(run.steps.map((s) => [s.status, s.attempts])).toEqual([
      ['succeeded', 1],
      ['succeeded', 1],
    ]);
  }
  for (const item of items) expect(callsFor(item)).toHaveLength(2);
  // One version per rotation, each different from the one before: nothing lost, nothing written twice.
  expect(r.tokenCalls).toBeGreaterThan(0);
  expect(r.newVersions).toHaveLength(r.tokenCalls);
  expect(r.writes).toBe(r.tokenCalls);
  expect(new Set(r.values).size).toBe(r.values.length);
  expect(await storedCacheWorks()).toMatchObject({ ok: true });
  expect((await stack.api(`connections/${workpoint.id}`)).json.status).toBe('active');

  const steps = r.runs.flatMap((run: RunView) => run.steps);
  const lostVersions = Math.abs(r.newVersions.length - r.tokenCalls);
  tally.record({
    kind: 'fault',
    category: 'Key Vault 429 (Retry-After) and 503 bursts on reads and writes during steps',
    tried: steps.length,
    handled: steps.filter((s) => s.status === 'succeeded').length,
    faultsInjected: r.faulted.length,
    lost: lostVersions + items.reduce((n, i) => n + Math.abs(callsFor(i).length - 2), 0),
  });
});

test('a write-back the vault refuses past its retries: the step completes, the rotated cache is written later, nothing lost', async () => {
  const items = ['kv-4'];
  // 403 is not retried by the SDK: the write of the first rotation fails at once.
  const r = await stepsUnderVaultFaults(items, [{ method: 'PUT', status: 403, count: 1 }]);

  expect(r.faulted.map((f) => `${f.method} ${f.status}`)).toEqual(['PUT 403']);
  expect(r.runs[0]).toMatchObject({ status: 'succeeded' });
  expect(callsFor('kv-4')).toHaveLength(2);
  // The refused rotation was kept in memory and superseded by the next stored one, or written by the background retry.
  expect(r.newVersions.length).toBeGreaterThanOrEqual(r.tokenCalls - 1);
  expect(r.newVersions.length).toBeLessThanOrEqual(r.tokenCalls);
  expect(new Set(r.values).size).toBe(r.values.length);
  expect(await storedCacheWorks()).toMatchObject({ ok: true });

  const steps = r.runs[0].steps;
  tally.record({
    kind: 'fault',
    category: 'Key Vault refusing a token-cache write-back',
    tried: steps.length,
    handled: steps.filter((s) => s.status === 'succeeded').length,
    faultsInjected: r.faulted.length,
    lost: (await storedCacheWorks()).ok ? 0 : 1,
  });
});
