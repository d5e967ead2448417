/**
 * The page for a person without the admin role, in chromium: the processes they can start with what each step does
 * and as whom, starting one on an item, the form the run waits for (a refusal shown at its field), the run succeeding
 * with "as you" and "as <connection>" steps, no admin control anywhere, axe-core on each view, and switching accounts.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ConnectionView } from '../../src/connections/connection';
import { CONTOSO_ADMIN, CONTOSO_SVC_APPROVALS, CONTOSO_USER } from '../../src/local/identity-provider/directory';
import { authorizeConnection } from '../support/connections';
import { startTestStack, type TestStack } from '../support/test-stack';
import { eventually, launchBrowser, newContext, recordErrors, seriousViolations, shot, signIn } from './browser';

let stack: TestStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let approvals: ConnectionView;
const errors: string[] = [];

const expense = (executeAs: string) => ({
  name: 'Expense approval',
  description: 'Ask for approval of an expense on its list item.',
  kind: 'user',
  steps: [
    {
      id: 'approve',
      type: 'form',
      name: 'Approval',
      fields: [
        { name: 'decision', label: 'Decision', type: 'choice', options: ['Approved', 'Rejected'], required: true },
        { name: 'note', label: 'Note', type: 'text' },
      ],
    },
    { id: 'note', type: 'action', name: 'Record the note', action: 'updateFields', inputs: { fields: { Note: '{{form.approve.note}}' } } },
    {
      id: 'stage',
      type: 'action',
      name: 'Move to Approved',
      action: 'changeStage',
      inputs: { stage: 'Approved' },
      permissions: { executeAs },
    },
  ],
});

const myRun = () => page.locator('#my-runs li.run', { hasText: 'Expense approval' }).first();

beforeAll(async () => {
  [stack, browser] = await Promise.all([startTestStack({ portal: true }), launchBrowser()]);
  approvals = await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Approvals');
  expect((await stack.api('processes/expense-approval', { method: 'PUT', body: expense(approvals.id) })).status).toBe(200);
  expect((await stack.api('processes/expense-approval/publish', { method: 'POST' })).status).toBe(200);
  stack.graph.items.set('contoso.sharepoint.com,site-1/list-1/9', { Title: 'Team offsite', Stage: 'New' });
  context = await newContext(browser);
  page = await context.newPage();
  recordErrors(page, errors);
  await page.goto(stack.portalUrl!);
  expect(await seriousViolations(page)).toEqual([]);
});

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await stack?.stop();
});

test('a user sees the processes they can start, each step with "as you" or "as <connection>", and no admin control', async () => {
  await signIn(page, CONTOSO_USER.username);
  await page.getByRole('heading', { name: 'Processes you can start' }).waitFor();
  const card = page.locator('li.startable', { hasText: 'Expense approval' });
  await card.waitFor();
  expect(await card.textContent()).toContain('Ask for approval of an expense');
  expect(await card.locator('ol.summary li').allTextContents()).toEqual([
    expect.stringMatching(/^Approval .*as you$/),
    expect.stringMatching(/^Record the note .*as you$/),
    expect.stringMatching(/^Move to Approved .*as Approvals$/),
  ]);
  expect(await page.getByRole('tab').count()).toBe(0);
  expect(await page.getByRole('button', { name: /Authorize|Publish|Save|Delete|Re-authorize/ }).count()).toBe(0);
  expect(await page.getByRole('link', { name: /authorize/i }).count()).toBe(0);
  expect(await page.locator('#alert').textContent()).toBe('');
  expect(await seriousViolations(page)).toEqual([]);
  await shot(page, '50-user-home');
});

test('start on an item, fill the waiting form (a refusal at its field), and see the run succeed', async () => {
  const card = page.locator('li.startable', { hasText: 'Expense approval' });
  await card.getByLabel('Site id').fill('contoso.sharepoint.com,site-1');
  await card.getByLabel('List id').fill('list-1');
  await card.getByLabel('Item id').fill('9');
  await card.getByRole('button', { name: 'Start “Expense approval”' }).click();
  await page.getByRole('status').getByText('Started').waitFor();
  await stack.bus.idle();
  await page.getByRole('button', { name: 'Refresh' }).click();
  const form = myRun().getByRole('form', { name: 'Approval of Expense approval' });
  await form.waitFor();
  expect(await myRun().locator('.badge').first().textContent()).toContain('Waiting for input');
  expect(await seriousViolations(page)).toEqual([]);
  await shot(page, '51-user-run-waiting');

  // Submitted without its required choice: the server's 422 is shown at the field and focus moves there.
  await form.getByRole('button', { name: 'Submit' }).click();
  await page.getByRole('alert').getByText('was not submitted').waitFor();
  const decision = form.getByLabel('Decision (required)');
  expect(await decision.getAttribute('aria-invalid')).toBe('true');
  expect(await form.locator('.field-error').textContent()).toMatch(/Decision/);
  expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('decision');
  expect(await seriousViolations(page)).toEqual([]);
  await shot(page, '52-user-form-refused-at-field');

  await decision.selectOption('Approved');
  await form.getByLabel('Note').fill('Within budget');
  await form.getByRole('button', { name: 'Submit' }).click();
  await page.getByRole('status').getByText('Submitted').waitFor();
  await stack.bus.idle();
  const done = await eventually(
    async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.locator('#my-runs[aria-busy="false"]').waitFor();
      return (await myRun().textContent()) ?? '';
    },
    (t) => t.includes('Succeeded'),
    10_000,
  );
  expect(done).toContain('Succeeded');
  const steps = await myRun().locator('ol.steps li').allTextContents();
  expect(steps).toEqual([
    expect.stringMatching(/^Approval ✓ succeeded as you/),
    expect.stringMatching(/^Record the note ✓ succeeded as you/),
    expect.stringMatching(/^Move to Approved ✓ succeeded as Approvals/),
  ]);
  expect(stack.graph.items.get('contoso.sharepoint.com,site-1/list-1/9')).toMatchObject({ Note: 'Within budget', Stage: 'Approved' });
  expect(await seriousViolations(page)).toEqual([]);
  await shot(page, '53-user-run-succeeded');
});

test('switching accounts: sign out as the user, sign in as the admin, and back in a fresh browser context', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('status').getByText('signed out').waitFor();
  await signIn(page, CONTOSO_ADMIN.username);
  await page
    .getByRole('tab', { name: 'Connections' })
    .waitFor({ timeout: 8000 })
    .catch(async (e: Error) => {
      await shot(page, '55-switch-failed');
      throw new Error(`${e.message}\n${page.url()}\n${await page.locator('body').textContent()}`);
    });
  await page.getByRole('button', { name: 'Sign out' }).click();

  const fresh = await newContext(browser);
  try {
    const p = await fresh.newPage();
    recordErrors(p, errors, 'fresh');
    await p.goto(stack.portalUrl!);
    await signIn(p, CONTOSO_USER.username);
    await p.getByRole('heading', { name: 'Processes you can start' }).waitFor();
    expect(await p.locator('#admin-username').textContent()).toBe(CONTOSO_USER.username);
    await shot(p, '54-fresh-context-user');
  } finally {
    await fresh.close();
  }
});

test('the pages ran without console errors or CSP violations', () => {
  expect(errors).toEqual([]);
});
