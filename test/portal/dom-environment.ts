/**
 * A DOM for the page's unit tests (jsdom): its window's globals are what the page's modules use (`document`, element
 * classes, `CSS`, `Event`). Installed per test file; the page's modules touch the DOM only when called.
 */
import { JSDOM } from 'jsdom';

export function installDom(): JSDOM {
  const dom = new JSDOM('<!DOCTYPE html><html lang="en"><body></body></html>', { url: 'http://localhost/' });
  const g = globalThis as Record<string, unknown>;
  const w = dom.window as unknown as Record<string, unknown>;
  for (const name of [
    'document',
    'HTMLElement',
    'HTMLInputElement',
    'HTMLSelectElement',
    'HTMLTextAreaElement',
    'HTMLButtonElement',
    'Node',
    'Event',
    'KeyboardEvent',
    'getComputedStyle',
  ]) {
    g[name] = w[name];
  }
  // jsdom has no CSS.escape; the page uses it for attribute selectors of ids it made.
  g.CSS = { escape: (s: string) => s.replace(/["\\[\]]/g, '\\$&') };
  g.window = dom.window;
  return dom;
}
