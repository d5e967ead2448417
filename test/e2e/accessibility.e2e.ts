/**
 * Every view of the page passes axe-core with no serious or critical violation (WCAG 2 A/AA rules and best practices):
 * sign-in, connections (with the delete dialog), processes, the designer with each of its tabs, runs with a run's
 * details, notifications. Keyboard: the tabs move with the arrow keys, Escape closes the dialog and focus returns to
 * the button that opened it, and focus is visible.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ConnectionView } from '../../src/connections/connection';
import { CONTOSO_ADMIN, CONTOSO_SVC_APPROVALS } from '../../src/local/identity-provider/directory';
import { authorizeConnection } from '../support/connections';
import { postEvent } from '../support/runs';
import { startTestStack, type TestStack } from '../support/test-stack';
import { launchBrowser, newContext, recordErrors, seriousViolations, shot, signIn } from './browser';

let stack: TestStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let approvals: ConnectionView;
const errors: string[] = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([startTestStack({ portal: true }), launchBrowser()]);
  approvals = await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Approvals');
  const intake = {
    name: 'Contract intake',
    kind: 'system',
    triggers: [{ event: 'ItemCreated' }],
    steps: [
      { id: 'mark', type: 'action', name: 'Mark received', action: 'updateFields', inputs: { fields: { Title: 'Received' } } },
      { id: 'stage', type: 'action', name: 'Legal review', action: 'changeStage', inputs: { stage: 'Legal review' } },
    ],
  };
  expect((await stack.api('processes/contract-intake', { method: 'PUT', body: intake })).status).toBe(200);
  expect((await stack.api('processes/contract-intake/publish', { method: 'POST' })).status).toBe(200);
  stack.graph.items.set('contoso.sharepoint.com,site-1/list-1/7', { Title: 'NDA', Stage: 'New' });
  await postEvent(stack, 'ItemCreated', { title: 'NDA' });
  await stack.bus.idle();
  context = await newContext(browser);
  page = await context.newPage();
  recordErrors(page, errors);
  await page.goto(stack.portalUrl!);
});

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await stack?.stop();
});

const axe = async (view: string) => {
  await shot(page, `60-a11y-${view}`);
  expect({ view, violations: await seriousViolations(page) }).toEqual({ view, violations: [] });
};

test('sign-in', async () => {
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await axe('sign-in');
  await signIn(page, CONTOSO_ADMIN.username);
  await page.getByRole('tab', { name: 'Connections' }).waitFor();
});

test('connections, and the delete dialog from the keyboard (Escape closes it, focus returns)', async () => {
  const row = page.locator('#connections-list tbody tr[data-connection-id]', { hasText: 'Approvals' });
  await row.waitFor();
  await axe('connections');
  const del = row.getByRole('button', { name: /^Delete / });
  await del.focus();
  await page.keyboard.press('Enter');
  await page.getByRole('dialog').waitFor();
  await axe('delete-dialog');
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'hidden' });
  expect(await del.evaluate((b) => b === document.activeElement)).toBe(true);
  expect((await stack.api(`connections/${approvals.id}`)).status).toBe(200);
});

test('the view tabs move with the arrow keys, and focus is visible', async () => {
  await page.getByRole('tab', { name: 'Connections' }).focus();
  await page.keyboard.press('ArrowRight');
  const processes = page.getByRole('tab', { name: 'Processes' });
  expect(await processes.getAttribute('aria-selected')).toBe('true');
  expect(await processes.evaluate((b) => b === document.activeElement)).toBe(true);
  // A visible focus indicator: an outline (or a box shadow) that the unfocused tab does not have.
  const ring = await processes.evaluate((b) => {
    const s = getComputedStyle(b);
    return { outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0, shadow: s.boxShadow !== 'none' };
  });
  expect(ring.outline || ring.shadow).toBe(true);
});

test('processes list', async () => {
  await page.locator('#processes-list tbody tr').first().waitFor();
  await axe('processes');
});

test('the designer: Settings and Permissions tabs of a step', async () => {
  await page.getByRole('button', { name: 'Contract intake' }).click();
  await page.getByRole('button', { name: /^2\. Legal review/ }).click();
  await page.getByRole('tab', { name: 'Settings' }).waitFor();
  await axe('designer-settings');
  await page.getByRole('tab', { name: 'Settings' }).focus();
  await page.keyboard.press('ArrowRight');
  await page.getByLabel('Execute as').waitFor();
  expect(await page.getByRole('tab', { name: 'Permissions' }).evaluate((b) => b === document.activeElement)).toBe(true);
  await axe('designer-permissions');
  // Nothing was changed: leaving does not ask.
  expect(await page.locator('#unsaved-note').isVisible()).toBe(false);
  await page.getByRole('button', { name: '← All processes' }).click();
  await page.locator('#processes-list').waitFor();
});

test('runs, with a run and its steps', async () => {
  await page.getByRole('tab', { name: 'Runs' }).click();
  await page.locator('li.run').first().waitFor();
  await axe('runs');
  // A run's details: its timeline (trace) opened from the keyboard.
  const timeline = page.locator('li.run details.trace summary').first();
  if (await timeline.count()) {
    await timeline.focus();
    await page.keyboard.press('Enter');
    await page.waitForTimeout(500);
    await axe('run-detail');
  }
});

test('notifications', async () => {
  const tab = page.getByRole('tab', { name: 'Notifications' });
  if (!(await tab.count())) return;
  await tab.click();
  await page.locator('#panel-notifications:not([hidden])').waitFor();
  await page.waitForTimeout(300);
  await axe('notifications');
});

test('the pages ran without console errors or CSP violations', () => {
  expect(errors).toEqual([]);
});
