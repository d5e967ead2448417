import type { Connection } from '../../src/connections/connection';
import { matchEvent } from '../../src/events/matching';
import { productEventSchema, type ProductEvent } from '../../src/events/product-event';
import { processBodySchema, type ProcessDefinition } from '../../src/processes/process-definition';
import { identitiesOfProcess, selfTriggerReason } from '../../src/runs/loop-guard';

const tenantId = '11111111-1111-4111-8111-111111111111';
const ids = {
  workpoint: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  approvals: 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
  archive: 'cccccccc-cccc-4ccc-8ccc-cccccccccccc',
};
const oids = {
  workpoint: 'a1111111-0000-4000-8000-000000000001',
  approvals: 'a1111111-0000-4000-8000-000000000002',
  archive: 'a1111111-0000-4000-8000-000000000003',
  person: 'a1111111-0000-4000-8000-000000000009',
};

function connection(name: keyof typeof ids, change: Partial<Connection> = {}): Connection {
  return {
    id: ids[name],
    displayName: name,
    account: { username: `svc-${name}@contoso.com`, objectId: oids[name], tenantId },
    status: 'active',
    isDefault: false,
    createdAt: '2025-01-01T00:00:00.000Z',
    createdBy: 'admin@contoso.com',
    ...change,
  };
}
const connections = [
  connection('workpoint', { isDefault: true }),
  connection('approvals'),
  connection('archive', { status: 'needs_reauth' }),
];

const process = (change: Partial<ProcessDefinition> = {}): ProcessDefinition => ({
  id: 'intake',
  name: 'Intake',
  kind: 'system',
  triggers: [{ event: 'ItemUpdated' }],
  steps: [{ id: 'mark', type: 'action', action: 'updateFields', inputs: { fields: { A: 1 } } }],
  ...change,
});
const event = (actorOid?: string): ProductEvent => ({
  id: 'e1',
  type: 'ItemUpdated',
  tenantId,
  occurredAt: '2026-01-01T00:00:00Z',
  subject: { siteId: 's', listId: 'l', itemId: '7' },
  data: {},
  ...(actorOid ? { actor: { objectId: actorOid } } : {}),
});

describe('the connections a process runs as', () => {
  test('steps without executeAs run as the default connection', () => {
    expect(identitiesOfProcess(process(), connections).map((c) => c.id)).toEqual([ids.workpoint]);
  });

  test("the process's runAs replaces the default for steps that name nothing", () => {
    expect(identitiesOfProcess(process({ runAs: ids.approvals }), connections).map((c) => c.id)).toEqual([ids.approvals]);
  });

  test("each step's executeAs counts, runAs counts even when every step names its own, the default only when a step would use it", () => {
    const p = process({
      runAs: ids.approvals,
      steps: [{ id: 'a', type: 'action', action: 'updateFields', inputs: {}, permissions: { executeAs: ids.archive } }],
    });
    expect(
      identitiesOfProcess(p, connections)
        .map((c) => c.id)
        .sort(),
    ).toEqual([ids.approvals, ids.archive].sort());
  });

  test('a connection that needs re-authorization is still its account; a connection that no longer exists is nobody', () => {
    const p = process({
      steps: [{ id: 'a', type: 'action', action: 'updateFields', inputs: {}, permissions: { executeAs: ids.archive } }],
    });
    expect(identitiesOfProcess(p, connections).map((c) => c.id)).toEqual([ids.archive]);
    const gone = process({ runAs: 'dddddddd-dddd-4ddd-8ddd-dddddddddddd' });
    expect(identitiesOfProcess(gone, connections)).toEqual([]);
  });
});

describe('selfTriggerReason', () => {
  test('an event made by the account the process runs as does not start it, and the reason names the account and the opt-in', () => {
    const reason = selfTriggerReason(event(oids.workpoint), process(), connections, false);
    expect(reason).toMatch(/Not started: the change behind the event was made by svc-workpoint@contoso\.com/);
    expect(reason).toMatch(/loop guard/);
    expect(reason).toMatch(/allowSelfTrigger/);
  });

  test('an event made by a connection the process does not run as, by a person, or without an actor starts it', () => {
    expect(selfTriggerReason(event(oids.approvals), process(), connections, false)).toBeUndefined();
    expect(selfTriggerReason(event(oids.person), process(), connections, false)).toBeUndefined();
    expect(selfTriggerReason(event(), process(), connections, false)).toBeUndefined();
  });

  test('executeAs and runAs identities are guarded like the default', () => {
    const p = process({
      runAs: ids.approvals,
      steps: [{ id: 'a', type: 'action', action: 'updateFields', inputs: {}, permissions: { executeAs: ids.archive } }],
    });
    expect(selfTriggerReason(event(oids.approvals), p, connections, false)).toMatch(/svc-approvals/);
    expect(selfTriggerReason(event(oids.archive), p, connections, false)).toMatch(/svc-archive/);
    expect(selfTriggerReason(event(oids.workpoint), p, connections, false)).toBeUndefined();
  });

  test('a trigger that opts in with allowSelfTrigger starts it anyway', () => {
    expect(selfTriggerReason(event(oids.workpoint), process(), connections, true)).toBeUndefined();
  });

  test('object ids compare case-insensitively (Entra GUIDs)', () => {
    expect(selfTriggerReason(event(oids.workpoint.toUpperCase()), process(), connections, false)).toBeDefined();
  });
});

describe('schemas and matching', () => {
  test('events carry an optional actor {objectId} (a GUID, lower-cased); anything else is refused', () => {
    const base = { ...event(), occurredAt: new Date().toISOString() };
    expect(productEventSchema.parse({ ...base, actor: { objectId: oids.person.toUpperCase() } }).actor).toEqual({ objectId: oids.person });
    expect(productEventSchema.safeParse({ ...base, actor: { objectId: 'not-a-guid' } }).success).toBe(false);
    expect(productEventSchema.safeParse({ ...base, actor: {} }).success).toBe(false);
    expect(productEventSchema.parse(base).actor).toBeUndefined();
  });

  test('a trigger may opt in with allowSelfTrigger: true (a boolean)', () => {
    const body = { name: 'x', kind: 'system', triggers: [{ event: 'ItemUpdated', allowSelfTrigger: true }], steps: process().steps };
    expect(processBodySchema.parse(body).triggers?.[0].allowSelfTrigger).toBe(true);
    expect(processBodySchema.safeParse({ ...body, triggers: [{ event: 'ItemUpdated', allowSelfTrigger: 'yes' }] }).success).toBe(false);
  });

  test('matchEvent tells whether a matching trigger opted in (a non-matching one that opted in does not count)', () => {
    const published = (triggers: ProcessDefinition['triggers']) => ({ version: 1, definition: process({ triggers }) });
    const [optedIn] = matchEvent(event(), [published([{ event: 'ItemUpdated', allowSelfTrigger: true }])]);
    expect(optedIn).toMatchObject({ start: true, allowSelfTrigger: true });
    const [other] = matchEvent(event(), [
      published([
        { event: 'ItemUpdated' },
        { event: 'ItemCreated', allowSelfTrigger: true },
        { event: 'ItemUpdated', disabled: true, allowSelfTrigger: true },
      ]),
    ]);
    expect(other).toMatchObject({ start: true });
    expect(other).not.toHaveProperty('allowSelfTrigger');
  });
});
