import { connectionUsage } from '../../src/connections/connection-usage';
import type { ProcessDefinition, StepDefinition } from '../../src/processes/process-definition';
import type { ProcessRecord } from '../../src/processes/process-repository';

const target = '11111111-1111-1111-1111-111111111111';
const other = '22222222-2222-2222-2222-222222222222';

const action = (id: string, executeAs?: string): StepDefinition => ({
  id,
  type: 'action',
  action: 'updateFields',
  inputs: { fields: { Seen: true } },
  ...(executeAs ? { permissions: { executeAs } } : {}),
});
const definition = (id: string, over: Partial<ProcessDefinition> = {}): ProcessDefinition => ({
  id,
  name: `Process ${id}`,
  kind: 'system',
  triggers: [{ event: 'ItemCreated' }],
  steps: [action('a')],
  ...over,
});
const record = (draft: ProcessDefinition, published?: { version: number; definition: ProcessDefinition }): ProcessRecord => ({
  id: draft.id,
  draft,
  savedAt: '2026-01-01T00:00:00Z',
  savedBy: 'admin@contoso.test',
  ...(published ? { published: { ...published, publishedAt: '2026-01-01T00:00:00Z', publishedBy: 'admin@contoso.test' } } : {}),
});

describe('connectionUsage', () => {
  test('lists explicit references: a step executeAs and a process runAs, in the draft and the published version', () => {
    const steps = [action('mark'), action('stage', target), action('other', other)];
    const processes = [
      record(definition('p', { steps }), { version: 3, definition: definition('p', { steps }) }),
      record(definition('u', { kind: 'user', runAs: target, triggers: undefined, steps: [action('x')] })),
    ];
    expect(connectionUsage(target, false, processes)).toEqual({
      connectionId: target,
      isDefault: false,
      references: [
        { processId: 'p', processName: 'Process p', version: 'draft', stepId: 'stage', via: 'executeAs' },
        { processId: 'p', processName: 'Process p', version: 3, stepId: 'stage', via: 'executeAs' },
        { processId: 'u', processName: 'Process u', version: 'draft', via: 'runAs' },
      ],
    });
  });

  test('a draft that differs from the published version is scanned on its own', () => {
    const processes = [
      record(definition('p', { steps: [action('new', target)] }), { version: 1, definition: definition('p', { steps: [action('old')] }) }),
    ];
    expect(connectionUsage(target, false, processes).references).toEqual([
      { processId: 'p', processName: 'Process p', version: 'draft', stepId: 'new', via: 'executeAs' },
    ]);
  });

  test('the default connection is referenced by the action steps of system processes that name no connection', () => {
    const processes = [
      record(definition('sys', { steps: [action('implicit'), action('explicit', other), { id: 'form', type: 'form' }] })),
      record(definition('user', { kind: 'user', triggers: undefined, steps: [action('user-step')] })),
      record(definition('run-as-other', { runAs: other, steps: [action('covered')] })),
    ];
    expect(connectionUsage(target, true, processes).references).toEqual([
      { processId: 'sys', processName: 'Process sys', version: 'draft', stepId: 'implicit', via: 'default' },
    ]);
    // Not the default: the same processes reference it nowhere.
    expect(connectionUsage(target, false, processes).references).toEqual([]);
  });

  test('a process runAs the default connection is one runAs reference, and its steps are not counted again as default', () => {
    const processes = [record(definition('p', { runAs: target, steps: [action('a'), action('b')] }))];
    expect(connectionUsage(target, true, processes).references).toEqual([
      { processId: 'p', processName: 'Process p', version: 'draft', via: 'runAs' },
    ]);
  });

  test('no processes, no references', () => {
    expect(connectionUsage(target, true, [])).toEqual({ connectionId: target, isDefault: true, references: [] });
  });
});
