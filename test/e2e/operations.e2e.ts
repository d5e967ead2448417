/**
 * What operations added to the page, in chromium under the page's CSP: the Notifications panel (recipients and the
 * sending connection saved through PUT /api/settings/notifications, with the page's own address as the mail's link),
 * and a run's Timeline (its trace as a waterfall: steps, token acquisition, Graph call, with durations).
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ConnectionView } from '../../src/connections/connection';
import { CONTOSO_ADMIN, CONTOSO_SVC_WORKPOINT } from '../../src/local/identity-provider/directory';
import { authorizeConnection } from '../support/connections';
import { saveAndPublish, testSubject } from '../support/runs';
import { startTestStack, type TestStack } from '../support/test-stack';
import { launchBrowser, newContext, recordErrors, shot, signIn } from './browser';

let stack: TestStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let workpoint: ConnectionView;
const errors: string[] = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([startTestStack({ portal: true }), launchBrowser()]);
  workpoint = await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT, 'WorkPoint');
  await saveAndPublish(stack, 'timed', {
    name: 'Timed',
    kind: 'system',
    triggers: [{ event: 'ItemUpdated' }],
    steps: [{ id: 'mark', type: 'action', action: 'updateFields', inputs: { fields: { Seen: 'yes' } } }],
  });
  context = await newContext(browser);
  page = await context.newPage();
  recordErrors(page, errors);
  await page.goto(stack.portalUrl!);
  await signIn(page, CONTOSO_ADMIN.username);
  await page.getByRole('tab', { name: 'Connections' }).waitFor();
});
afterAll(async () => {
  await context?.close();
  await browser?.close();
  await stack?.stop();
});

test('an admin sets who is notified and as which connection', async () => {
  await page.getByRole('tab', { name: 'Notifications' }).click();
  // The panel loads its settings and the connections when shown: wait for them before typing over them.
  await page.locator(`#notification-send-as option[value="${workpoint.id}"]`).waitFor({ state: 'attached' });
  await page.getByLabel('Recipients (one address per line)').fill('it-admins@contoso.example\nops@contoso.example');
  await page.getByLabel('Send as').selectOption(workpoint.id);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved: 2 recipient(s) are notified.').waitFor();
  await shot(page, 'notifications-panel');
  const stored = await stack.api('settings/notifications');
  expect(stored.json).toEqual({
    recipients: ['it-admins@contoso.example', 'ops@contoso.example'],
    sendAs: workpoint.id,
    pageUrl: expect.stringMatching(/^https?:\/\//),
  });
  expect(errors).toEqual([]);
});

test("a run's timeline draws its trace: the step with its token acquisition and Graph call", async () => {
  const posted = await stack.api('events', { method: 'POST', body: { type: 'ItemUpdated', subject: testSubject, data: {} } });
  expect(posted.status).toBe(202);
  await stack.bus.idle();
  await page.getByRole('tab', { name: 'Runs' }).click();
  await page.locator('#refresh-runs').click();
  const run = page.locator('li.run').first();
  await run.getByText('Timeline').click();
  const waterfall = run.locator('table.waterfall');
  await waterfall.waitFor();
  for (const name of ['event intake', 'run creation', 'step', 'token acquisition', 'Graph PATCH']) {
    await expect(waterfall.locator(`tr[data-span="${name}"]`).count()).resolves.toBeGreaterThanOrEqual(1);
  }
  await expect(waterfall.locator('tr[data-span="step"] .waterfall-duration').first().textContent()).resolves.toMatch(/\d+(\.\d+)? (ms|s)$/);
  await shot(page, 'run-timeline');
  expect(errors).toEqual([]);
});
