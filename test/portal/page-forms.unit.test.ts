/** The page's form logic in a DOM (happy-dom): declared fields as controls, their values, and refusals at their fields. */
import { installDom } from './dom-environment';

installDom();

import { fieldProblemsIn, referencesIn, usageLines } from '../../src/portal/api';
import { h } from '../../src/portal/dom';
import { FieldProblems } from '../../src/portal/field-problems';
import { fieldControls, readValues } from '../../src/portal/form-controls';

const fields = [
  { name: 'decision', label: 'Decision', type: 'choice' as const, options: ['Approved', 'Rejected'], required: true },
  { name: 'amount', label: 'Amount', type: 'number' as const },
  { name: 'urgent', label: 'Urgent', type: 'boolean' as const },
  { name: 'note', label: 'Note', type: 'text' as const, maxLength: 20 },
];

test('each declared field becomes a labelled control tagged with its path; required ones say so', () => {
  const controls = fieldControls(fields, 'f', 'values');
  const root = h('form', {}, ...controls.map((c) => c.box));
  document.body.replaceChildren(root);
  const label = (text: string) => [...root.querySelectorAll('label')].find((l) => l.textContent === text);
  expect(label('Decision (required)')?.getAttribute('for')).toBe('f-decision');
  expect(root.querySelector('#f-decision')?.tagName).toBe('SELECT');
  expect([...root.querySelectorAll('#f-decision option')].map((o) => o.textContent)).toEqual(['(choose)', 'Approved', 'Rejected']);
  expect(root.querySelector<HTMLInputElement>('#f-amount')?.type).toBe('number');
  expect(root.querySelector<HTMLInputElement>('#f-urgent')?.type).toBe('checkbox');
  expect(root.querySelector('#f-note')?.getAttribute('maxlength')).toBe('20');
  expect(root.querySelector('#f-note')?.getAttribute('data-path')).toBe('values.note');
});

test('values: numbers as numbers, a checkbox as a boolean, an empty optional field left out', () => {
  const controls = fieldControls(fields, 'g', 'values');
  document.body.replaceChildren(...controls.map((c) => c.box));
  document.querySelector<HTMLSelectElement>('#g-decision')!.value = 'Approved';
  document.querySelector<HTMLInputElement>('#g-amount')!.value = '12.5';
  document.querySelector<HTMLInputElement>('#g-urgent')!.checked = true;
  expect(readValues(controls)).toEqual({ decision: 'Approved', amount: 12.5, urgent: true });
});

test("a 422's details are shown at the fields they name (aria-invalid, described by the message); others are returned", () => {
  const controls = fieldControls(fields, 'p', 'values');
  const root = h('div', {}, ...controls.map((c) => c.box));
  document.body.replaceChildren(root);
  const body = {
    error: {
      code: 'invalid',
      message: 'The form is not valid.',
      details: [
        { path: 'values.decision', message: '"Decision" is required' },
        { path: 'values.extra', message: 'is not a field of this form' },
      ],
    },
  };
  const problems = new FieldProblems();
  problems.set(fieldProblemsIn(body));
  const unplaced = problems.attach(root);
  const decision = root.querySelector('#p-decision')!;
  expect(decision.getAttribute('aria-invalid')).toBe('true');
  const message = root.querySelector(`#${decision.getAttribute('aria-describedby')}`);
  expect(message?.textContent).toBe('⚠ "Decision" is required');
  expect(unplaced).toEqual([{ path: 'values.extra', message: 'is not a field of this form' }]);
});

test('only the one error body is read: an answer in the old format names no field', () => {
  expect(fieldProblemsIn({ error: { message: 'x' }, errors: [{ path: 'name', message: 'm' }] })).toEqual([]);
  expect(fieldProblemsIn({ error: { code: 'bad_request', message: 'x', details: [{ path: 'steps.0.name', message: 'm' }] } })).toEqual([
    { path: 'steps[0].name', message: 'm' },
  ]);
});

test("a connection's references from a usage answer or DELETE's 409, in words", () => {
  const references = [{ processId: 'intake', processName: 'Contract intake', version: 2, stepId: 'stage', via: 'executeAs' as const }];
  expect(referencesIn({ connectionId: 'c', isDefault: false, references })).toEqual(references);
  expect(
    referencesIn({ error: { code: 'conflict', message: 'in use', usage: { connectionId: 'c', isDefault: false, references } } }),
  ).toEqual(references);
  expect(referencesIn({ error: { code: 'conflict', message: 'no list' } })).toBeUndefined();
  expect(usageLines(references)).toEqual(['Contract intake (intake), published version 2, step “stage” executes as it']);
});
