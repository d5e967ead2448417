/**
 * What the browser tests share: Debian's chromium through playwright-core, a page that records console errors and CSP
 * violations, screenshots under test-results/e2e/ (not committed), sign-in at the local provider, and axe-core.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { repoRoot } from '../../src/local/identity-provider/launch';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const shotsDir = path.join(repoRoot(), 'test-results', 'e2e');

export async function launchBrowser(): Promise<Browser> {
  await mkdir(shotsDir, { recursive: true });
  return chromium.launch({
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
  });
}

/** A fresh context (its own cookies and storage) trusting the local certificates unless told otherwise. */
export const newContext = (browser: Browser, options: { trustLocalCertificates?: boolean } = {}): Promise<BrowserContext> =>
  browser.newContext({
    ignoreHTTPSErrors: options.trustLocalCertificates ?? true,
    viewport: { width: 1280, height: 800 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });

/** The browser's own line for an answer a test provokes (a 409, a 422) is not the page's error. */
const expectedLoadError = /^Failed to load resource: the server responded with a status of (400|403|404|409|422)\b/;

/** Records the page's console errors, uncaught exceptions and CSP violations into `errors`. */
export function recordErrors(page: Page, errors: string[], where = 'page'): void {
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error' && !expectedLoadError.test(m.text())) errors.push(`[${where}] ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`[${where}] ${e.message}`));
}

export const shot = (page: Page, name: string) => page.screenshot({ path: path.join(shotsDir, `${name}.png`), fullPage: true });

/** Signs in from the page's Sign in button at the local provider (username only). */
export async function signIn(page: Page, username: string): Promise<void> {
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/interaction\//);
  await page.getByLabel('Username').fill(username);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

let axeSource: string | undefined;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * The serious and critical axe-core violations of what the page shows now (WCAG 2.x A and AA rules and best practices).
 * axe is evaluated through the DevTools protocol, which the page's CSP does not govern (a script tag would be refused).
 */
export async function seriousViolations(page: Page): Promise<string[]> {
  axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: unknown[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations;
  });
  return (violations as AxeViolation[])
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id} (${v.help}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** Polls `read` until it passes `check` or `timeout` ms pass; returns the last value read (the caller asserts on it). */
export async function eventually<T>(read: () => Promise<T>, check: (v: T) => boolean, timeout = 3000): Promise<T> {
  const until = Date.now() + timeout;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}
