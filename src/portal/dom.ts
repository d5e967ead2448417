/**
 * A tiny DOM builder: every string becomes a text node (never parsed as HTML), so data from the API
 * cannot inject markup. Attributes are set with setAttribute; event handlers are passed as functions.
 */
export type Child = Node | string | number | null | undefined | false | Child[];

export interface Attrs {
  [name: string]: string | number | boolean | null | undefined | EventListener | ((e: never) => void);
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2).toLowerCase(), value as EventListener);
    } else if (name === 'className') {
      el.className = String(value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

/** Replaces all children of `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, children);
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
}

// Times carry their time zone ("Nov 28, 2026, 9:05 AM UTC"): an administrator compares them with logs and colleagues elsewhere.
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const zoneFormat = new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' });
const dayFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });

const zoneOf = (d: Date): string => zoneFormat.formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? '';

/** A <time> element: the local date/time and time zone as text, the ISO value in `datetime`. `day`: the date only. */
export function time(iso: string | undefined, empty = 'Never', options: { day?: boolean } = {}): Node {
  if (!iso) return document.createTextNode(empty);
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return document.createTextNode(iso);
  const text = options.day ? dayFormat.format(d) : `${dateFormat.format(d)} ${zoneOf(d)}`.trim();
  return h('time', { datetime: iso, title: d.toISOString() }, text);
}
