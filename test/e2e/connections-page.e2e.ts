/**
 * The Connections page in a real browser (headless Debian chromium via playwright-core): the flow an
 * administrator walks through, from signing in to seeing who executed a run's steps. Screenshots of
 * each stage go to test-results/e2e/ (not committed).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { CONTOSO_ADMIN, CONTOSO_SVC_WORKPOINT, CONTOSO_USER, FABRIKAM_SVC } from '../../src/local/identity-provider/directory';
import { repoRoot, revokeLocalGrants } from '../../src/local/identity-provider/launch';
import { startTestStack, type TestStack } from '../support/test-stack';
import type { ConnectionView } from '../../src/connections/connection';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const shotsDir = path.join(repoRoot(), 'test-results', 'e2e');

/** Clicking Close closes the tab itself, which can end the click before Playwright sees it finish. */
async function closeTab(tab: Page) {
  const closed = tab.waitForEvent('close');
  await tab
    .getByRole('button', { name: 'Close' })
    .click({ noWaitAfter: true })
    .catch((e: Error) => {
      if (!/closed/i.test(e.message)) throw e;
    });
  await closed;
}

let stack: TestStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/**
 * Console errors and CSP violations of every page: the page must run clean under its strict CSP. The
 * browser's own "Failed to load resource" lines for answers the test expects (the refusal page's 400,
 * DELETE's 409, the non-admin's 403) are not the page's errors.
 */
const consoleErrors: string[] = [];
const expectedLoadError = /^Failed to load resource: the server responded with a status of (400|403|409)\b/;
const recordConsole = (where: string) => (m: ConsoleMessage) => {
  if (m.type() === 'error' && !expectedLoadError.test(m.text())) consoleErrors.push(`[${where}] ${m.text()}`);
};

const shot = async (p: Page, name: string) => {
  await p.screenshot({ path: path.join(shotsDir, `${name}.png`), fullPage: true });
};

/** The local provider's sign-in form: username only. */
async function signInAtProvider(p: Page, username: string) {
  await p.getByLabel('Username').fill(username);
  await p.getByRole('button', { name: 'Sign in' }).click();
}

/** Clicks (or presses Enter on) something that opens a new tab, and returns the tab. */
async function newTabFrom(action: () => Promise<void>): Promise<Page> {
  const [tab] = await Promise.all([context.waitForEvent('page'), action()]);
  tab.on('console', recordConsole('tab'));
  tab.on('pageerror', (e) => consoleErrors.push(`[tab] ${e.message}`));
  await tab.waitForURL(/\/interaction\//);
  return tab;
}

const row = (text: string) => page.locator('#connections-list tbody tr').filter({ hasText: text });

beforeAll(async () => {
  await mkdir(shotsDir, { recursive: true });
  [stack, browser] = await Promise.all([
    startTestStack({ portal: true }),
    chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    }),
  ]);
  // The local identity provider's certificate is self-signed (the Node side trusts it via NODE_EXTRA_CA_CERTS).
  context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 1366, height: 768 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  page = await context.newPage();
  page.on('console', recordConsole('page'));
  page.on('pageerror', (e) => consoleErrors.push(`[page] ${e.message}`));
});

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await stack?.stop();
});

test('the page is served with a strict CSP and its config names the portal client and the API scope', async () => {
  const res = await fetch(stack.portalUrl!);
  expect(res.status).toBe(200);
  const csp = res.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("style-src 'self'");
  expect(csp).not.toContain('unsafe-inline');
  expect(await res.text()).not.toMatch(/<script>|style=/);
  const config = await (await fetch(`${stack.baseUrl}/portal/config.json`)).json();
  expect(config).toMatchObject({
    authority: stack.identityProvider.issuer,
    apiBase: `${stack.baseUrl}/api`,
    scope: expect.stringContaining('api://'),
  });
  expect(JSON.stringify(config)).not.toMatch(/secret/i);
});

test('an admin signs in, authorizes a connection in a new tab, and sees a run executed as it', async () => {
  await page.goto(stack.portalUrl!);
  await expect(page.getByRole('button', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
  await shot(page, '01-signed-out');

  // Admin sign-in: authorization code + PKCE with the page's public client.
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/interaction\//);
  await page.getByLabel('Username').fill(CONTOSO_ADMIN.username);
  await shot(page, '02-admin-sign-in');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.href.startsWith(stack.portalUrl!) && !u.search.includes('code='));
  await page.locator('#admin-username', { hasText: CONTOSO_ADMIN.username }).waitFor();
  await page.getByText('No connections yet').waitFor();
  expect(await page.evaluate(() => JSON.stringify(localStorage))).toBe('{}');
  await shot(page, '03-connections-empty');

  // "click here to authorize a new connection": the sign-in opens in a new tab.
  await page.getByLabel('Name for the new connection (optional)').fill('WorkPoint automation');
  expect(await page.locator('#authorize-text').textContent()).toMatch(/click here to authorize a new connection/i);
  const tab = await newTabFrom(() => page.getByRole('link', { name: 'Click here to authorize a new connection' }).click());
  expect(await tab.evaluate(() => window.opener)).toBeNull();
  await tab.getByLabel('Username').fill(CONTOSO_SVC_WORKPOINT.username);
  await shot(tab, '04-service-account-sign-in');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await tab.getByRole('heading', { name: 'Connection set up' }).waitFor();
  expect(await tab.locator('main').textContent()).toContain(CONTOSO_SVC_WORKPOINT.username);
  await shot(tab, '05-connection-set-up');
  // The list learns of the success by itself (no Refresh), says so, and clears the name field for the next one.
  await row('WorkPoint automation').waitFor();
  await page.getByRole('status').getByText('Connection “WorkPoint automation” set up').waitFor();
  expect(await page.getByLabel('Name for the new connection (optional)').inputValue()).toBe('');
  await closeTab(tab);
  const text = await row('WorkPoint automation').textContent();
  expect(text).toContain(CONTOSO_SVC_WORKPOINT.username);
  expect(text).toContain('Active');
  expect(text).toContain('Default');
  expect(text).toContain('Never'); // not used yet
  await shot(page, '06-connection-listed');

  // A system process whose step executes as that connection, then an event.
  const connection = (await stack.api('connections')).json.connections.find(
    (c: ConnectionView) => c.account.username === CONTOSO_SVC_WORKPOINT.username,
  );
  const process = {
    name: 'Contract intake',
    kind: 'system',
    triggers: [{ event: 'ItemCreated' }],
    steps: [
      {
        id: 'mark-received',
        type: 'action',
        action: 'updateFields',
        inputs: { fields: { Status: 'Received' } },
        permissions: { executeAs: connection.id },
      },
    ],
  };
  expect((await stack.api('processes/contract-intake', { method: 'PUT', body: process })).status).toBe(200);
  expect((await stack.api('processes/contract-intake/publish', { method: 'POST' })).status).toBe(200);
  const event = await stack.api('events', {
    method: 'POST',
    body: {
      type: 'ItemCreated',
      subject: { siteId: 'contoso.sharepoint.com,site-1', listId: 'list-1', itemId: '42' },
      data: { title: 'NDA' },
    },
  });
  expect(event.status).toBe(202);
  await stack.bus.idle();

  await page.getByRole('tab', { name: 'Runs' }).click();
  const run = page.locator('li.run', { hasText: 'contract-intake' });
  await run.waitFor();
  await run.getByText(`executed as ${CONTOSO_SVC_WORKPOINT.username}`).waitFor();
  expect(await run.textContent()).toMatch(/Succeeded[\s\S]*Update fields ✓ succeeded executed as svc-workpoint@contoso\.test/);
  await shot(page, '07-runs-executed-as');

  // Back on Connections, "last used" now has a date.
  await page.getByRole('tab', { name: 'Connections' }).click();
  await row('WorkPoint automation').locator('td.last-used time').waitFor();
});

test('a connection whose grant died stands out after Test, and Re-authorize brings it back', async () => {
  await revokeLocalGrants(stack.identityProvider.url, CONTOSO_SVC_WORKPOINT.username);
  await row('WorkPoint automation').getByRole('button', { name: 'Test WorkPoint automation' }).click();
  await page.getByRole('alert').getByText('needs re-authorization').waitFor();
  await page.locator('tr.needs-reauth', { hasText: 'Needs re-authorization' }).waitFor();
  await page.locator('#needs-reauth-summary', { hasText: 'Action needed' }).waitFor();
  await shot(page, '08-needs-reauth');

  const tab = await newTabFrom(() =>
    row('WorkPoint automation').getByRole('button', { name: 'Re-authorize WorkPoint automation' }).click(),
  );
  // The browser still has a session at the provider (this account signed in above): prompt=login shows the form
  // anyway, and login_hint fills in the account to sign in as.
  expect(await tab.getByLabel('Username').inputValue()).toBe(CONTOSO_SVC_WORKPOINT.username);
  await shot(tab, '08b-reauthorize-sign-in-form');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await tab.getByRole('heading', { name: 'Connection re-authorized' }).waitFor();
  await page.locator('tr.needs-reauth').waitFor({ state: 'detached' }); // by itself, while the tab is still open
  await page.getByRole('status').getByText('re-authorized').waitFor();
  await closeTab(tab);
  expect(await row('WorkPoint automation').textContent()).toContain('Active');
});

test('rename works from the keyboard', async () => {
  await row('WorkPoint automation').getByRole('button', { name: 'Rename WorkPoint automation' }).click();
  const input = page.getByLabel('New name for WorkPoint automation');
  expect(await input.evaluate((el) => el === document.activeElement)).toBe(true);
  await input.fill('WorkPoint <b>service</b>');
  await input.press('Enter');
  await row('WorkPoint <b>service</b>').waitFor(); // shown as text, not markup
  expect(await page.locator('#connections-list b').count()).toBe(0);
  expect((await stack.api('connections')).json.connections[0].displayName).toBe('WorkPoint <b>service</b>');
});

test('a sign-in with an account of another tenant shows the refusal page in the new tab', async () => {
  // Keyboard this time: focus the link and press Enter.
  await page.getByLabel('Name for the new connection (optional)').fill('');
  await page.getByRole('link', { name: 'Click here to authorize a new connection' }).focus();
  const tab = await newTabFrom(() => page.keyboard.press('Enter'));
  await signInAtProvider(tab, FABRIKAM_SVC.username);
  await tab.getByRole('heading', { name: 'This account belongs to another organization' }).waitFor();
  expect(await tab.locator('main').textContent()).toContain('No connection was created or changed.');
  await shot(tab, '09-refused-other-tenant');
  await closeTab(tab);
  await page.getByRole('button', { name: 'Refresh' }).click();
  await page.getByRole('status').getByText('1 connection').waitFor();
});

test('a sign-in with an account that is not a designated service account is refused with the missing role', async () => {
  const tab = await newTabFrom(() => page.getByRole('link', { name: 'Click here to authorize a new connection' }).click());
  await signInAtProvider(tab, CONTOSO_USER.username);
  await tab.getByRole('heading', { name: 'This account is not a designated service account' }).waitFor();
  const text = await tab.locator('main').textContent();
  expect(text).toContain('Connections.ServiceAccount');
  expect(text).toContain('Enterprise applications');
  expect(text).toContain('No connection was created or changed.');
  await shot(tab, '09b-refused-no-service-account-role');
  await closeTab(tab);
  await page.getByRole('button', { name: 'Refresh' }).click();
  await page.getByRole('status').getByText('1 connection').waitFor();
});

test('delete asks first; a connection processes use lists them and asks again', async () => {
  const target = row('WorkPoint <b>service</b>');
  await target.getByRole('button', { name: /^Delete / }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('heading', { name: /Delete “WorkPoint <b>service<\/b>”\?/ }).waitFor();
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  // contract-intake's step executes as it: DELETE answers 409 with the usage, shown before forcing.
  const anyway = dialog.getByRole('button', { name: 'Delete anyway' });
  await anyway.waitFor();
  const usage = await dialog.locator('ul.usage').textContent();
  expect(usage).toContain('Contract intake (contract-intake)');
  expect(usage).toContain('step “Update fields” executes as it');
  await shot(page, '10-delete-in-use');
  await anyway.click();
  await page.getByRole('status').getByText('Deleted').waitFor();
  await page.getByText('No connections yet').waitFor();
  expect((await stack.api('connections')).json.connections).toHaveLength(0);
});

test('after signing out, an account without the admin role gets its own space, without admin controls', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('status').getByText('signed out').waitFor();
  expect(await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.includes('session')))).toEqual([]);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/interaction\//);
  await signInAtProvider(page, CONTOSO_USER.username);
  await page.getByRole('heading', { name: 'Processes you can start' }).waitFor();
  expect(await page.getByRole('tab').count()).toBe(0);
  await shot(page, '11-not-an-admin');
});

test('the pages ran without console errors or CSP violations', () => {
  expect(consoleErrors).toEqual([]);
});
