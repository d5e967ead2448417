/** The designer's "Elevated steps" next to Publish: the server's own analysis, in words, with what it will refuse. */
import { installDom } from './dom-environment';

installDom();

import type { ProcessDraft, ProcessRecord } from '../../src/portal/api';
import { elevationPanel } from '../../src/portal/designer/elevation-panel';
import { EditorState } from '../../src/portal/designer/editor-state';

const draft = (path: string): ProcessDraft =>
  ({
    name: 'Lookup',
    kind: 'user',
    steps: [
      { id: 'ask', type: 'form', name: 'Ask', fields: [{ name: 'list', label: 'List', type: 'text' }] },
      {
        id: 'read',
        type: 'action',
        name: 'Read the list',
        action: 'graphRequest',
        inputs: { method: 'GET', path },
        permissions: { executeAs: 'c1' },
      },
    ],
  }) as ProcessDraft;

const stateOf = (d: ProcessDraft) => {
  const state = new EditorState('lookup', undefined as ProcessRecord | undefined, d);
  state.connections = [{ id: 'c1', displayName: 'Approvals' } as EditorState['connections'][number]];
  return state;
};

test('an elevated step is named with its connection and the typed values that reach it; a free value in its address is refused', () => {
  const text = elevationPanel(stateOf(draft('/sites/root/lists/{{form.ask.list}}/items')))!.textContent!;
  expect(text).toContain('2. Read the list runs as Approvals');
  expect(text).toContain('List (form “Ask”) into path (decides what is touched)');
  expect(text).toMatch(/⚠ .*Publishing is refused until this changes\./);
});

test('an elevated step that takes nothing typed is shown without refusal; system processes have no panel', () => {
  const text = elevationPanel(stateOf(draft('/sites/root/lists/fixed/items')))!.textContent!;
  expect(text).toContain('takes nothing the person types');
  expect(text).not.toContain('⚠');
  expect(elevationPanel(stateOf({ ...draft('/x'), kind: 'system', triggers: [{ event: 'ItemCreated' }] } as ProcessDraft))).toBeNull();
});
