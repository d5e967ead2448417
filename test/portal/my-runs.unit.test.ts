/** "My runs" in a DOM (jsdom): runs waiting for the person first, who each step ran as, the waiting form, Continue. */
import { installDom } from './dom-environment';

installDom();

import { ApiError, type ConnectionsApi, type ProcessSummary, type Run, type WaitingForm } from '../../src/portal/api';
import { myRuns } from '../../src/portal/user/my-runs';

const summary: ProcessSummary = {
  id: 'expense',
  name: 'Expense approval',
  version: 1,
  inputs: [],
  steps: [
    { id: 'approve', name: 'Approval', type: 'form', target: 'asks you: Decision', as: 'you', elevated: false },
    { id: 'stage', name: 'Move to Approved', type: 'action', action: 'changeStage', target: 'sets Stage', as: 'Approvals', elevated: true },
  ],
};
const base = {
  kind: 'user',
  processId: 'expense',
  processVersion: 1,
  subject: { siteId: 's', listId: 'l', itemId: '1' },
  createdAt: '2026-12-06T05:00:00.000Z',
} as const;
const succeeded: Run = {
  ...base,
  id: 'r-done',
  status: 'succeeded',
  finishedAt: '2026-12-06T05:01:00.000Z',
  steps: [
    { id: 'approve', status: 'succeeded', attempts: 1, executedAs: { kind: 'user', username: 'user@contoso.test', objectId: 'u' } },
    {
      id: 'stage',
      action: 'changeStage',
      status: 'succeeded',
      attempts: 1,
      executedAs: { kind: 'connection', username: 'svc-approvals@contoso.test', objectId: 's', connectionId: 'c' },
    },
  ],
};
const waitingForm: Run = {
  ...base,
  id: 'r-form',
  createdAt: '2026-12-06T04:00:00.000Z',
  status: 'waiting',
  waitingFor: { kind: 'form', stepId: 'approve', userObjectId: 'u' },
  steps: [
    { id: 'approve', status: 'waiting', attempts: 0 },
    { id: 'stage', action: 'changeStage', status: 'pending', attempts: 0 },
  ],
};
const waitingSession: Run = {
  ...base,
  id: 'r-session',
  createdAt: '2026-12-06T03:00:00.000Z',
  status: 'running',
  waitingFor: { kind: 'user_session', reason: 'user_session' },
  steps: [{ id: 'approve', status: 'succeeded', attempts: 1 }],
};

const calls: string[] = [];
const form: WaitingForm = {
  runId: 'r-form',
  stepId: 'approve',
  name: 'Approval',
  fields: [{ name: 'decision', label: 'Decision', type: 'choice', options: ['Approved', 'Rejected'], required: true }],
};
const api = {
  waitingForm: async () => form,
  resume: async (id: string) => (calls.push(`resume ${id}`), { runId: id }),
  submitForm: async (id: string, stepId: string, values: Record<string, unknown>) => {
    calls.push(`submit ${id} ${stepId} ${JSON.stringify(values)}`);
    if (!values.decision) {
      throw new ApiError(422, 'The form is not valid.', {
        error: {
          code: 'invalid',
          message: 'The form is not valid.',
          details: [{ path: 'values.decision', message: '"Decision" is required' }],
        },
      });
    }
    return {};
  },
} as unknown as ConnectionsApi;

const tick = () => new Promise((r) => setTimeout(r, 0));
const render = async () => {
  const region = (id: string) => Object.assign(document.createElement('div'), { id });
  const list = myRuns(
    { api, handleAuthError: () => false },
    [succeeded, waitingSession, waitingForm],
    new Map([['expense', summary]]),
    async () => {
      calls.push('reload');
    },
  );
  document.body.replaceChildren(region('status'), region('alert'), list);
  await tick();
  return list;
};

test('runs waiting for the person come first; each step says as whom it ran, by the names people know', async () => {
  const list = await render();
  expect([...list.querySelectorAll(':scope > li')].map((li) => li.getAttribute('data-run-id'))).toEqual(['r-form', 'r-session', 'r-done']);
  const done = list.querySelector('[data-run-id="r-done"]')!;
  expect([...done.querySelectorAll('ol.steps li')].map((li) => li.textContent)).toEqual([
    'Approval ✓ succeeded as you',
    'Move to Approved ✓ succeeded as Approvals',
  ]);
});

test('the waiting form comes from its field definitions; a refusal is shown at its field, then it is submitted', async () => {
  const list = await render();
  const el = list.querySelector<HTMLFormElement>('form.waiting-form')!;
  expect(el.getAttribute('aria-label')).toBe('Approval of Expense approval');
  el.dispatchEvent(new Event('submit', { cancelable: true }));
  await tick();
  const decision = el.querySelector<HTMLSelectElement>('select[name="decision"]')!;
  expect(decision.getAttribute('aria-invalid')).toBe('true');
  expect(el.querySelector('.field-error')?.textContent).toBe('⚠ "Decision" is required');
  decision.value = 'Approved';
  el.dispatchEvent(new Event('submit', { cancelable: true }));
  await tick();
  expect(calls).toContain('submit r-form approve {"decision":"Approved"}');
  expect(calls.at(-1)).toBe('reload');
});

test('a run whose sign-in ran out offers Continue, which resumes it', async () => {
  calls.length = 0;
  const list = await render();
  const button = [...list.querySelectorAll('button')].find((b) => b.textContent === 'Continue “Expense approval”')!;
  button.click();
  await tick();
  expect(calls).toEqual(['resume r-session', 'reload']);
});
