import { byId, replaceChildren, type Child } from './dom';

/**
 * Two live regions that stay in the page (so screen readers track them): polite status messages
 * (role=status) and errors (role=alert). Each message replaces the previous one; empty regions take no space.
 */
export function announce(message: Child, tone: 'info' | 'success' | 'error' = 'info'): void {
  const status = byId('status');
  const alert = byId('alert');
  if (tone === 'error') {
    replaceChildren(status);
    replaceChildren(alert, message);
  } else {
    replaceChildren(alert);
    status.className = `notice notice-${tone}`;
    replaceChildren(status, message);
  }
}

export function clearNotices(): void {
  replaceChildren(byId('status'));
  replaceChildren(byId('alert'));
}

/** A short, human message for anything thrown. */
export const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));
