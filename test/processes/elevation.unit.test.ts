import { readFileSync } from 'node:fs';
import path from 'node:path';
import { analyseElevation } from '../../src/processes/elevation';

const executeAs = '00000000-0000-4000-8000-000000000001';

describe('analyseElevation: which steps are elevated and which user-typed values reach them', () => {
  test('a user-typed value in the path before "?" of an elevated step is refused; the same value in the query or a body value is not', () => {
    const report = analyseElevation({
      kind: 'user',
      inputs: [{ name: 'item', label: 'Item', type: 'text' }],
      steps: [
        { id: 'ask', type: 'form', fields: [{ name: 'note', label: 'Note', type: 'text' }] },
        {
          id: 'act',
          type: 'action',
          action: 'graphRequest',
          permissions: { executeAs },
          inputs: {
            method: 'PATCH',
            path: '/sites/s/lists/l/items/{{ event.data.item }}?$select={{event.data.item}}',
            body: { Comment: '{{form.ask.note}}' },
          },
        },
        { id: 'mine', type: 'action', action: 'graphRequest', inputs: { method: 'GET', path: '/sites/s/lists/{{event.data.item}}' } },
      ],
    });
    expect(report.steps.map((s) => [s.stepId, s.elevated, s.userValues.map((u) => [u.placeholder, u.role, u.allowed])])).toEqual([
      ['ask', false, []],
      [
        'act',
        true,
        [
          ['{{event.data.item}}', 'address', false],
          ['{{event.data.item}}', 'value', true],
          ['{{form.ask.note}}', 'value', true],
        ],
      ],
      ['mine', false, [['{{event.data.item}}', 'address', true]]],
    ]);
    expect(report.refusals).toEqual([
      expect.objectContaining({ path: 'steps[1].inputs.path', stepId: 'act', input: 'item', placeholder: '{{event.data.item}}' }),
    ]);
  });

  test('a declared choice may address an elevated step; an undeclared input is refused anywhere; system processes have no user values', () => {
    const choice = analyseElevation({
      kind: 'user',
      inputs: [{ name: 'list', label: 'List', type: 'choice', options: ['a', 'b'] }],
      steps: [
        {
          id: 'act',
          type: 'action',
          action: 'changeStage',
          permissions: { executeAs },
          inputs: { stage: 'x', field: '{{event.data.list}}' },
        },
      ],
    });
    expect(choice.refusals).toEqual([]);
    expect(choice.steps[0]!.userValues[0]).toMatchObject({ fixedChoice: true, allowed: true, role: 'address' });
    const undeclared = analyseElevation({
      kind: 'user',
      steps: [{ id: 's', type: 'action', action: 'updateFields', inputs: { fields: { A: '{{event.data.x}}' } } }],
    });
    expect(undeclared.refusals.map((r) => r.message)).toEqual([expect.stringContaining('does not declare')]);
    const system = analyseElevation({
      kind: 'system',
      steps: [
        {
          id: 's',
          type: 'action',
          action: 'graphRequest',
          permissions: { executeAs },
          inputs: { method: 'GET', path: '/x/{{event.data.x}}' },
        },
      ],
    });
    expect(system).toEqual({ steps: [{ stepIndex: 0, stepId: 's', elevated: true, executeAs, userValues: [] }], refusals: [] });
  });

  test('the module imports nothing but types, so the browser bundle can import it', () => {
    const source = readFileSync(path.join(__dirname, '../../src/processes/elevation.ts'), 'utf8');
    const imports = [...source.matchAll(/^import .*$/gm)].map((m) => m[0]);
    expect(imports.every((i) => i.startsWith('import type '))).toBe(true);
  });
});
