/**
 * The designer in a DOM (jsdom): opening a process changes nothing, typing never redraws, and a change of structure
 * redraws only the regions that show it, so what the person is typing in (and the button they aim at) stays put.
 */
import { installDom } from './dom-environment';

installDom();

import type { Connection, ConnectionsApi, ProcessRecord } from '../../src/portal/api';
import { createProcessEditor } from '../../src/portal/designer/process-editor';

const record: ProcessRecord = {
  id: 'intake',
  draft: {
    id: 'intake',
    name: 'Contract intake',
    kind: 'system',
    triggers: [{ event: 'ItemCreated' }],
    steps: [{ id: 'mark', type: 'action', name: 'Mark received', action: 'updateFields', inputs: { fields: { Title: 'Received' } } }],
  } as ProcessRecord['draft'],
  savedAt: '2026-12-06T05:00:00.000Z',
  savedBy: 'admin@contoso.test',
};
const approvals = {
  id: 'c-approvals',
  displayName: 'Approvals',
  account: { username: 'svc-approvals@contoso.test', objectId: 'o', tenantId: 't' },
  status: 'active',
} as Connection;

const saved: unknown[] = [];
const api = {
  listConnections: async () => [approvals],
  audit: async () => [],
  saveProcess: async (_id: string, draft: unknown) => (saved.push(structuredClone(draft)), record),
} as unknown as ConnectionsApi;

async function openEditor() {
  const editor = createProcessEditor(
    { api, handleAuthError: () => false, close: () => undefined, showRuns: () => undefined },
    'intake',
    record,
    record.draft,
  );
  // The page's two live regions (index.html), where Save and refusals announce themselves.
  const region = (id: string) => Object.assign(document.createElement('div'), { id });
  document.body.replaceChildren(region('status'), region('alert'), editor.element);
  await editor.start();
  return editor;
}
const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const type = (el: HTMLInputElement | HTMLTextAreaElement, value: string) => {
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
};

test('opening a process and drawing its steps leaves the draft unchanged', async () => {
  const editor = await openEditor();
  expect(editor.isDirty()).toBe(false);
  expect(byId('unsaved-note').hidden).toBe(true);
});

test('typing in a JSON box and leaving it redraws nothing: the next click lands on the button it was aimed at', async () => {
  await openEditor();
  const area = byId<HTMLTextAreaElement>('step-0-input-fields');
  const add = byId<HTMLButtonElement>('add-action-step');
  type(area, '{"Title": "Got it"}');
  area.dispatchEvent(new Event('change', { bubbles: true }));
  area.dispatchEvent(new Event('blur'));
  expect(area.isConnected).toBe(true);
  expect(byId('add-action-step')).toBe(add);
  expect(byId('unsaved-note').hidden).toBe(false);
  add.click();
  expect(document.querySelectorAll('.step-list li')).toHaveLength(2);
});

test('a JSON box that does not parse is marked in place, and Save refuses until it does', async () => {
  await openEditor();
  const area = byId<HTMLTextAreaElement>('step-0-conditions');
  type(area, '[{');
  expect(area.getAttribute('aria-invalid')).toBe('true');
  expect(byId(`${area.id}-local-problem`).textContent).toBe('⚠ is not valid JSON');
  saved.length = 0;
  byId<HTMLButtonElement>('save-process').click();
  await new Promise((r) => setTimeout(r, 0));
  expect(saved).toEqual([]);
  expect(byId('alert').textContent).toMatch(/Fix the marked fields/);
  type(area, '[]');
  expect(area.hasAttribute('aria-invalid')).toBe(false);
  expect(document.getElementById(`${area.id}-local-problem`)).toBeNull();
});

test('choosing Run as redraws the step list, not the step being edited', async () => {
  await openEditor();
  const area = byId<HTMLTextAreaElement>('step-0-input-fields');
  const runAs = byId<HTMLSelectElement>('process-run-as');
  runAs.value = approvals.id;
  runAs.dispatchEvent(new Event('change', { bubbles: true }));
  expect(byId('step-0-input-fields')).toBe(area);
  expect(byId('process-run-as')).toBe(runAs);
});

test('Save keeps the step panel and clears "Unsaved changes"', async () => {
  await openEditor();
  const name = byId<HTMLInputElement>('process-name');
  type(name, 'Contract intake 2');
  expect(byId('process-heading').textContent).toBe('Contract intake 2');
  const area = byId<HTMLTextAreaElement>('step-0-input-fields');
  byId<HTMLButtonElement>('save-process').click();
  await new Promise((r) => setTimeout(r, 0));
  expect(saved.at(-1)).toMatchObject({ name: 'Contract intake 2' });
  expect(byId('step-0-input-fields')).toBe(area);
  expect(byId('unsaved-note').hidden).toBe(true);
});
