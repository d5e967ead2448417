/**
 * The traps a newcomer met in the designer and the Connections panel in their first minutes, each reproduced in
 * chromium: a click after editing a JSON box that was lost, "Create" overwriting an existing process, "Unsaved
 * changes" shown after Save, steps named by generated ids, a deleted connection shown as a GUID, an untrusted local
 * certificate reported as an unreachable service, and Delete's promise about Key Vault.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ConnectionView } from '../../src/connections/connection';
import { CONTOSO_ADMIN, CONTOSO_SVC_APPROVALS, CONTOSO_SVC_WORKPOINT } from '../../src/local/identity-provider/directory';
import { authorizeConnection } from '../support/connections';
import { postEvent } from '../support/runs';
import { startTestStack, type TestStack } from '../support/test-stack';
import { eventually, launchBrowser, newContext, recordErrors, shot, signIn } from './browser';

let stack: TestStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let workpoint: ConnectionView;
let approvals: ConnectionView;
const errors: string[] = [];

const intake = () => ({
  name: 'Contract intake',
  kind: 'system',
  triggers: [{ event: 'ItemCreated' }],
  steps: [
    { id: 'mark', type: 'action', name: 'Mark received', action: 'updateFields', inputs: { fields: { Title: 'Received' } } },
    { id: 'stage', type: 'action', name: 'Legal review stage', action: 'changeStage', inputs: { stage: 'Legal review' } },
  ],
});

const unsaved = () => page.locator('#unsaved-note');
const steps = () => page.locator('.step-list li');

beforeAll(async () => {
  [stack, browser] = await Promise.all([startTestStack({ portal: true }), launchBrowser()]);
  workpoint = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  approvals = await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Approvals');
  expect((await stack.api('processes/contract-intake', { method: 'PUT', body: intake() })).status).toBe(200);
  context = await newContext(browser);
  page = await context.newPage();
  recordErrors(page, errors);
  await page.goto(stack.portalUrl!);
  await signIn(page, CONTOSO_ADMIN.username);
  await page.locator('#admin-username', { hasText: CONTOSO_ADMIN.username }).waitFor();
  await page.getByRole('tab', { name: 'Processes' }).click();
  await page.getByRole('button', { name: 'Contract intake' }).click();
  await page.locator('.process-editor').waitFor();
});

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await stack?.stop();
});

test('the first click after editing a JSON box counts (Add action step, then Save)', async () => {
  // Opening a process and a step changes nothing: no "Unsaved changes".
  expect(await unsaved().isVisible()).toBe(false);
  await page.getByRole('button', { name: /^1\. Mark received/ }).click();
  await page.getByLabel('Fields (JSON object of name: value)').fill('{"Title": "Got it"}');
  await page.getByRole('button', { name: 'Add action step' }).click();
  expect(
    await eventually(
      () => steps().count(),
      (n) => n === 3,
      2000,
    ),
  ).toBe(3);
  await page.getByLabel('Stage', { exact: true }).fill('Signed');

  await page.getByRole('button', { name: /^1\. Mark received/ }).click();
  await page.getByLabel(/^Run only when/).fill('[{"path": "event.data.contentType", "op": "eq", "value": "Contract"}]');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('status').getByText('Saved the draft').waitFor({ timeout: 3000 });
  const saved = (await stack.api('processes/contract-intake')).json.draft;
  expect(saved.steps).toHaveLength(3);
  expect(saved.steps[0].inputs.fields).toEqual({ Title: 'Got it' });
  expect(saved.steps[0].conditions).toEqual([{ path: 'event.data.contentType', op: 'eq', value: 'Contract' }]);
});

test('"Unsaved changes" shows only while there are some: not after Save, not after Publish', async () => {
  expect(await unsaved().isVisible()).toBe(false);
  await page.getByLabel('Process name').fill('Contract intake (v2)');
  expect(await unsaved().isVisible()).toBe(true);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('status').getByText('Saved the draft').waitFor();
  expect(await unsaved().isVisible()).toBe(false);
  await page.getByLabel('Process name').fill('Contract intake');
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  await page.getByRole('status').getByText('is now live').waitFor();
  expect(await unsaved().isVisible()).toBe(false);
  await shot(page, '40-saved-published-no-unsaved-note');
});

test('steps are named by their name or action, never by a generated id: designer, runs', async () => {
  // The step added above was given its action's label, and every heading names steps that way.
  expect(await steps().nth(2).textContent()).toMatch(/^3\. Change stage/);
  await page.getByRole('button', { name: /^3\. Change stage/ }).click();
  await page.getByRole('heading', { name: 'Step 3: Change stage' }).waitFor();
  expect(await page.locator('.process-editor').textContent()).not.toMatch(/changeStage-1/);

  stack.graph.items.set('contoso.sharepoint.com,site-1/list-1/7', { Title: 'NDA', Stage: 'New' });
  await postEvent(stack, 'ItemCreated', { contentType: 'Contract', title: 'NDA' });
  await stack.bus.idle();
  await page.getByRole('tab', { name: 'Runs' }).click();
  const run = page.locator('li.run', { hasText: 'Contract intake' }).first();
  await run.waitFor();
  const names = await run.locator('.step-id').allTextContents();
  expect(names).toEqual(['Mark received', 'Legal review stage', 'Change stage']);
  await shot(page, '41-runs-step-names');
});

test("Delete says what is true about Key Vault and can also revoke the account's sign-in sessions", async () => {
  await page.getByRole('tab', { name: 'Connections' }).click();
  await page.evaluate(() => document.getElementById('alert')!.replaceChildren());
  const target = page.locator('#connections-list tbody tr[data-connection-id]', { hasText: 'Approvals' });
  await target.getByRole('button', { name: /^Delete / }).click();
  const dialog = page.getByRole('dialog');
  const text = await dialog.textContent();
  expect(text).not.toMatch(/removed from Key Vault/);
  expect(text).toMatch(/older versions/i);
  expect(text).toMatch(/purge/i);
  const revoke = dialog.getByLabel(/Also revoke the account's sign-in sessions/);
  await revoke.check();
  await shot(page, '44-delete-dialog');
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  const outcome = await eventually(
    async () => [await page.locator('#status').textContent(), await page.locator('#alert').textContent()],
    ([status, alert]) => !!status?.includes('Deleted') || !!alert,
    20_000,
  );
  expect(outcome).toEqual([expect.stringContaining('Deleted'), '']);
  expect(await page.getByRole('status').textContent()).toMatch(/sign-in sessions/);
  const audit = (await stack.api(`connections/${approvals.id}/audit`)).json.entries;
  expect(audit[0]).toMatchObject({ action: 'deleted', details: expect.objectContaining({ sessionsRevoked: true }) });
});

test('a step executing as a deleted connection shows its last known name, not its id', async () => {
  // The designer stayed open on the Processes tab.
  await page.getByRole('tab', { name: 'Processes' }).click();
  await page.getByRole('button', { name: /^2\. Legal review stage/ }).click();
  await page.getByRole('tab', { name: 'Permissions' }).click();
  await page.getByLabel('Execute as').selectOption(workpoint.id);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('status').getByText('Saved the draft').waitFor();
  expect((await stack.api(`connections/${workpoint.id}?force=true`, { method: 'DELETE' })).status).toBe(204);

  await page.getByRole('button', { name: '← All processes' }).click();
  await page.getByRole('button', { name: 'Contract intake' }).click();
  await page.getByRole('button', { name: /^2\. Legal review stage/ }).click();
  await page.getByRole('tab', { name: 'Permissions' }).click();
  const chosen = page.getByLabel('Execute as').locator('option:checked');
  expect(
    await eventually(
      () => chosen.textContent(),
      (t) => !!t?.includes('WorkPoint'),
    ),
  ).toContain('WorkPoint');
  expect(await chosen.textContent()).toContain('deleted');
  expect(await page.locator('.process-editor').textContent()).not.toContain(workpoint.id);
  await shot(page, '42-deleted-connection-by-name');
});

test('"Create a process" with the name of an existing process refuses instead of overwriting it', async () => {
  await page.getByRole('button', { name: '← All processes' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Contract intake');
  await page.getByLabel('Process id').fill('contract-intake');
  await page.getByRole('button', { name: 'Create and open' }).click();
  await page.getByRole('alert').getByText('already exists').waitFor();
  expect(await page.locator('.process-editor').count()).toBe(0);
  expect((await stack.api('processes/contract-intake')).json.draft.steps).toHaveLength(3);
  await shot(page, '43-create-existing-refused');
});

test('an untrusted local certificate is reported as such, with what to do', async () => {
  const untrusting = await newContext(browser, { trustLocalCertificates: false });
  try {
    const p = await untrusting.newPage();
    await p.goto(stack.portalUrl!);
    await p.getByRole('button', { name: 'Sign in' }).click();
    const alert = p.getByRole('alert');
    await alert.getByText(/certificate/).waitFor();
    expect(await alert.textContent()).toMatch(/trust/i);
    await shot(p, '45-untrusted-certificate');
  } finally {
    await untrusting.close();
  }
});

test('the pages ran without console errors or CSP violations', () => {
  expect(errors).toEqual([]);
});
