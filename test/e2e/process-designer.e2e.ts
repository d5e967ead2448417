/**
 * The process designer and what the Connections panel and Runs tab show about processes, in headless chromium
 * (issue 14). The product guide's second flow end to end: open a process, select the "Change stage" step, Permissions
 * tab, Execute as a connection, Save, Publish; then the API serves the published step with that connection.
 * Screenshots of each stage go to test-results/e2e/ (not committed).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import type { ConnectionView } from '../../src/connections/connection';
import { CONTOSO_ADMIN, CONTOSO_SVC_APPROVALS, CONTOSO_SVC_WORKPOINT } from '../../src/local/identity-provider/directory';
import { repoRoot } from '../../src/local/identity-provider/launch';
import { authorizeConnection } from '../support/connections';
import { postEvent } from '../support/runs';
import { startTestStack, type TestStack } from '../support/test-stack';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const shotsDir = path.join(repoRoot(), 'test-results', 'e2e');

let stack: TestStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let workpoint: ConnectionView;
let approvals: ConnectionView;
const consoleErrors: string[] = [];
/** The browser's own lines for answers the tests provoke (422 on save, 400) are not the page's errors. */
const expectedLoadError = /^Failed to load resource: the server responded with a status of (400|409|422)\b/;
const recordConsole = (m: ConsoleMessage) => {
  if (m.type() === 'error' && !expectedLoadError.test(m.text())) consoleErrors.push(m.text());
};
const shot = (name: string, width?: number) =>
  page.screenshot({ path: path.join(shotsDir, `${name}${width ? `-${width}` : ''}.png`), fullPage: true });

const contractIntake = () => ({
  name: 'Contract intake',
  kind: 'system',
  triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.data.contentType', op: 'eq', value: 'Contract' }] }],
  steps: [
    {
      id: 'mark',
      type: 'action',
      name: 'Mark received',
      action: 'updateFields',
      inputs: { fields: { Title: 'Received: {{event.data.title}}' } },
    },
    { id: 'stage', type: 'action', name: 'Change stage', action: 'changeStage', inputs: { stage: 'Legal review' } },
  ],
});

const editor = () => page.locator('.process-editor');

beforeAll(async () => {
  await mkdir(shotsDir, { recursive: true });
  [stack, browser] = await Promise.all([
    startTestStack({ portal: true }),
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] }),
  ]);
  workpoint = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  approvals = await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Approvals');
  expect((await stack.api('processes/contract-intake', { method: 'PUT', body: contractIntake() })).status).toBe(200);

  context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 800 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  page = await context.newPage();
  page.on('console', recordConsole);
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(stack.portalUrl!);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/interaction\//);
  await page.getByLabel('Username').fill(CONTOSO_ADMIN.username);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#admin-username', { hasText: CONTOSO_ADMIN.username }).waitFor();
});

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await stack?.stop();
});

test('Processes lists the process with its kind, draft and publish state', async () => {
  await page.getByRole('tab', { name: 'Processes' }).click();
  const row = page.locator('#processes-list tbody tr', { hasText: 'Contract intake' });
  await row.waitFor();
  const text = await row.textContent();
  expect(text).toContain('System');
  expect(text).toContain(`by ${CONTOSO_ADMIN.username}`);
  expect(text).toContain('Not published');
  await shot('20-processes-list');
});

test("the guide's flow: Change stage step, Permissions tab, Execute as a connection, Save, Publish", async () => {
  await page.getByRole('button', { name: 'Contract intake' }).click();
  await editor().getByRole('heading', { name: 'Contract intake', level: 2 }).waitFor();
  // The steps in order, with name and action.
  expect(await page.locator('.step-list li').allTextContents()).toEqual([
    expect.stringMatching(/^1\. Mark received.*Update fields/),
    expect.stringMatching(/^2\. Change stage.*Change stage/),
  ]);
  await page.getByRole('button', { name: /^2\. Change stage/ }).click();
  await page.getByRole('tab', { name: 'Settings' }).waitFor();
  expect(await page.getByLabel('Stage', { exact: true }).inputValue()).toBe('Legal review');
  await page.getByRole('tab', { name: 'Permissions' }).click();
  const executeAs = page.getByLabel('Execute as');
  const options = await executeAs.locator('option').allTextContents();
  expect(options).toEqual([
    "(the process's connection / the default connection)",
    `WorkPoint (${CONTOSO_SVC_WORKPOINT.username})`,
    `Approvals (${CONTOSO_SVC_APPROVALS.username})`,
  ]);
  await executeAs.selectOption({ label: `Approvals (${CONTOSO_SVC_APPROVALS.username})` });
  await page.locator('#unsaved-note').waitFor();
  await shot('21-permissions-execute-as');

  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('status').getByText('Saved the draft').waitFor();
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  await page.getByRole('status').getByText('version 1 is now live').waitFor();
  expect(await page.locator('#live-version').textContent()).toMatch(/^Version 1 is live/);
  await page.getByRole('button', { name: 'Republish', exact: true }).waitFor();
  await shot('22-published');

  const api = await stack.api('processes/contract-intake');
  expect(api.json.published.version).toBe(1);
  expect(api.json.published.definition.steps[1]).toMatchObject({
    id: 'stage',
    action: 'changeStage',
    permissions: { executeAs: approvals.id },
  });
});

test('a validation error (422) appears next to the field it names, and leaving with unsaved changes asks first', async () => {
  await page.getByRole('button', { name: /^2\. Change stage/ }).click();
  const stage = page.getByLabel('Stage', { exact: true });
  await stage.fill('');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('alert').getByText('not saved').waitFor();
  expect(await stage.getAttribute('aria-invalid')).toBe('true');
  // The message sits right after the field it names and the field points to it.
  const message = page.locator('[data-path="steps[1].inputs.stage"] + .field-error');
  await message.waitFor();
  expect(await message.textContent()).toMatch(/⚠/);
  expect(await stage.getAttribute('aria-describedby')).toContain(await message.getAttribute('id'));
  await shot('23-validation-at-field');

  // Unsaved: the admin is asked before leaving, and can stay.
  const asked: string[] = [];
  page.once('dialog', (d) => {
    asked.push(d.message());
    void d.dismiss();
  });
  await page.getByRole('button', { name: '← All processes' }).click();
  expect(asked).toEqual([expect.stringContaining('unsaved changes')]);
  await editor().waitFor();
  page.once('dialog', (d) => void d.accept());
  await page.getByRole('button', { name: '← All processes' }).click();
  await page.locator('#processes-list tbody tr').first().waitFor();
  // Nothing was saved: the published step still executes as Approvals and its stage is unchanged.
  expect((await stack.api('processes/contract-intake')).json.draft.steps[1].inputs.stage).toBe('Legal review');
});

test('a user process created in the page: its form step offers no Execute as', async () => {
  await page.getByLabel('Name', { exact: true }).fill('Expense approval');
  await page.getByLabel('Kind').selectOption('user');
  await page.getByLabel('First step').selectOption('form');
  await page.getByRole('button', { name: 'Create and open' }).click();
  await editor().getByRole('heading', { name: 'Expense approval', level: 2 }).waitFor();
  await page.getByRole('tab', { name: 'Permissions' }).click();
  const executeAs = page.getByLabel('Execute as');
  expect(await executeAs.isDisabled()).toBe(true);
  await page.getByText('Only action steps can be executed using a connection.').waitFor();
  expect(await executeAs.getAttribute('aria-describedby')).toBeTruthy();
  await shot('24-form-step-no-execute-as');

  // An action step of the same user process may execute as a connection; its implicit choice is the person.
  await page.getByLabel('New action step').selectOption('changeStage');
  await page.getByRole('button', { name: 'Add action step' }).click();
  await page.getByRole('tab', { name: 'Permissions' }).click();
  expect(await page.getByLabel('Execute as').isDisabled()).toBe(false);
  expect(await page.getByLabel('Execute as').locator('option').first().textContent()).toBe('(the user who runs the process)');
  // Next to Publish: no step is elevated yet; executing the new step as Approvals makes it one.
  expect(await page.locator('#elevation-summary').textContent()).toContain('None: every step runs as the person');
  await page.getByLabel('Execute as').selectOption({ label: `Approvals (${CONTOSO_SVC_APPROVALS.username})` });
  expect(await page.locator('#elevation-summary').textContent()).toMatch(
    /2\. Change stage runs as Approvals; takes nothing the person types/,
  );
  await shot('24b-elevated-steps-next-to-publish');
  page.once('dialog', (d) => void d.accept());
  await page.getByRole('button', { name: '← All processes' }).click();
  await page.locator('#processes-list').waitFor();
});

test('the Connections list shows where each connection is used, its health and its history', async () => {
  await page.getByRole('tab', { name: 'Connections' }).click();
  const row = page.locator('#connections-list tbody tr[data-connection-id]', { hasText: 'Approvals' });
  await row.waitFor();
  const used = row.getByRole('button', { name: '1 step in 1 process' });
  await used.click();
  expect(await used.getAttribute('aria-expanded')).toBe('true');
  const usage = page.locator(`#usage-${approvals.id}`);
  expect(await usage.textContent()).toContain('Contract intake (contract-intake), published version 1, step “Change stage” executes as it');
  const text = await row.textContent();
  expect(text).toMatch(/Re-authorize by [A-Z][a-z]{2} \d{1,2}, \d{4}/);
  expect(text).toMatch(/Last verified [A-Z][a-z]{2} \d{1,2}, \d{4}, .* UTC/);
  expect(text).toContain('Never'); // not used yet: the test below must not change that

  await row.getByRole('button', { name: 'Test Approvals' }).click();
  await page.getByRole('status').getByText('works').waitFor();
  expect(
    await page.locator('#connections-list tbody tr[data-connection-id]', { hasText: 'Approvals' }).locator('td.last-used').textContent(),
  ).toBe('Never');

  await page
    .locator('#connections-list tbody tr[data-connection-id]', { hasText: 'Approvals' })
    .getByRole('button', { name: 'Details and history' })
    .click();
  const details = page.locator(`#details-${approvals.id}`);
  await details.locator('table.audit-table').waitFor();
  expect(await details.textContent()).toContain(`by ${CONTOSO_ADMIN.username}`);
  expect(await details.locator('table.audit-table tbody').textContent()).toContain('Created');
  await shot('25-connections-usage-history');

  // Layout at 1280 and 1024 px: nothing spills out of the panel, addresses stay on one line.
  for (const width of [1280, 1024]) {
    await page.setViewportSize({ width, height: 800 });
    const overflow = await page.evaluate(() => {
      const panel = document.querySelector('#panel-connections .panel')!.getBoundingClientRect();
      const scroller = document.querySelector('#connections-list .table-scroll')!;
      const accounts = [...document.querySelectorAll('#connections-list td.account')].map((td) => td.getClientRects().length);
      return { scrolls: scroller.scrollWidth > scroller.clientWidth + 1, panelRight: panel.right, viewport: innerWidth, accounts };
    });
    expect(overflow.scrolls).toBe(false);
    expect(overflow.panelRight).toBeLessThanOrEqual(overflow.viewport);
    // Each address on one line (never broken at its hyphen), and its cell as tall as its row (rows aligned).
    const cells = await page.locator('#connections-list td.account').evaluateAll((tds) =>
      tds.map((td) => {
        const range = document.createRange();
        range.selectNodeContents(td);
        return {
          lines: range.getClientRects().length,
          cell: td.getBoundingClientRect().height,
          row: td.parentElement!.getBoundingClientRect().height,
        };
      }),
    );
    for (const c of cells) {
      expect(c.lines).toBe(1);
      expect(Math.abs(c.cell - c.row)).toBeLessThan(1);
    }
    await shot('26-connections', width);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
});

test('Runs shows process names, "not run" for steps that never ran, and filters by process and connection', async () => {
  // A second process whose first step fails (Graph answers 404), so its second step never runs.
  const failing = {
    name: 'Lookup then stage',
    kind: 'system',
    triggers: [{ event: 'ItemUpdated' }],
    steps: [
      { id: 'lookup', type: 'action', action: 'graphRequest', inputs: { method: 'GET', path: '/no-such-thing' } },
      { id: 'stage2', type: 'action', action: 'changeStage', inputs: { stage: 'Done' } },
    ],
  };
  expect((await stack.api('processes/lookup-then-stage', { method: 'PUT', body: failing })).status).toBe(200);
  expect((await stack.api('processes/lookup-then-stage/publish', { method: 'POST' })).status).toBe(200);
  await postEvent(stack, 'ItemCreated', { contentType: 'Contract', title: 'NDA' });
  await postEvent(stack, 'ItemUpdated', {});
  await stack.bus.idle();

  await page.getByRole('tab', { name: 'Runs' }).click();
  const intake = page.locator('li.run', { hasText: 'Contract intake' });
  await intake.waitFor();
  expect(await intake.locator('h3').textContent()).toMatch(/^Contract intake version 1/);
  expect(await intake.textContent()).toContain(`Change stage ✓ succeeded executed as ${CONTOSO_SVC_APPROVALS.username}`);
  const lookup = page.locator('li.run', { hasText: 'Lookup then stage' });
  expect(await lookup.textContent()).toMatch(/Change stage – not run/);
  expect(await lookup.textContent()).not.toContain('pending');
  await shot('27-runs');

  await page.getByLabel('Executed as connection').selectOption(approvals.id);
  await page.locator('li.run', { hasText: 'Lookup then stage' }).waitFor({ state: 'detached' });
  expect(await page.locator('li.run').count()).toBe(1);
  await page.getByLabel('Executed as connection').selectOption('');
  await page.getByLabel('Process', { exact: true }).selectOption('lookup-then-stage');
  await page.locator('li.run', { hasText: 'Contract intake' }).waitFor({ state: 'detached' });
  expect(await page.locator('li.run h3').allTextContents()).toEqual([expect.stringMatching(/^Lookup then stage/)]);
  void workpoint;
});

test('a user process: Run on an item from the page, then its waiting form submitted from the Runs tab', async () => {
  const expense = {
    name: 'Expense approval',
    kind: 'user',
    steps: [
      {
        id: 'approve',
        type: 'form',
        name: 'Approve',
        fields: [
          { name: 'decision', label: 'Decision', type: 'choice', options: ['Approved', 'Rejected'], required: true },
          { name: 'note', label: 'Note', type: 'text' },
        ],
      },
      {
        id: 'stage',
        type: 'action',
        name: 'Change stage',
        action: 'changeStage',
        inputs: { stage: '{{form.approve.decision}}' },
        permissions: { executeAs: approvals.id },
      },
    ],
  };
  expect((await stack.api('processes/expense-approval', { method: 'PUT', body: expense })).status).toBe(200);
  expect((await stack.api('processes/expense-approval/publish', { method: 'POST' })).status).toBe(200);

  // Starting a run reads the item with the person's own token first: it must exist and be visible to them.
  stack.graph.items.set('contoso.sharepoint.com,site-1/list-1/9', { Title: 'Team offsite', Stage: 'New' });
  await page.getByRole('tab', { name: 'Processes' }).click();
  await page.getByRole('button', { name: 'Refresh' }).click();
  await page.getByRole('button', { name: 'Expense approval' }).click();
  await page.getByLabel('Site id').fill('contoso.sharepoint.com,site-1');
  await page.getByLabel('List id').fill('list-1');
  await page.getByLabel('Item id').fill('9');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await page.getByRole('status').getByText('started').waitFor();
  await stack.bus.idle();

  // The Runs tab (shown by Run): the waiting run stands out and shows its form to the person who started it.
  await page.getByRole('button', { name: 'Refresh' }).click();
  const run = page.locator('li.run', { hasText: 'Expense approval' });
  await run.locator('.badge', { hasText: 'Waiting for input' }).first().waitFor();
  expect(await run.getAttribute('class')).toContain('run-waiting');
  await shot('28-run-waiting-form');
  await run.getByLabel('Decision (required)').selectOption('Approved');
  await run.getByLabel('Note').fill('ok');
  await run.getByRole('button', { name: 'Submit' }).click();
  await page.getByRole('status').getByText('Submitted').waitFor();
  await stack.bus.idle();
  // The run's own badge (a step's "✓ succeeded" would match too); the run may still be finishing its last step.
  const done = page.locator('li.run', { hasText: 'Expense approval' });
  for (let i = 0; i < 20; i++) {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.locator('#runs-list[aria-busy="false"]').waitFor();
    if (/Succeeded/.test((await done.locator('h3 .badge').textContent()) ?? '')) break;
    await stack.bus.idle();
    await page.waitForTimeout(250);
  }
  expect(await done.locator('h3 .badge').textContent()).toContain('Succeeded');
  expect(await done.textContent()).toContain(`executed as ${CONTOSO_SVC_APPROVALS.username} (connection)`);
  await shot('29-run-form-submitted');
});

test('the pages ran without console errors or CSP violations', () => {
  expect(consoleErrors).toEqual([]);
});
