import type { AuthorizeStart } from './api';
import { h } from './dom';
import { announce, messageOf } from './notices';

/**
 * Opens the service account's sign-in in a new tab. The tab is opened synchronously inside the
 * click handler (a user gesture, so popup blockers allow it) and only navigated once the API has
 * answered with the authorize URL. The new tab gets no `opener` back to this page.
 */
export function openSignInTab(start: () => Promise<AuthorizeStart>, what: string): Window | null {
  const tab = window.open('', '_blank');
  if (tab) {
    try {
      tab.opener = null;
      tab.document.title = 'Opening sign-in…';
      tab.document.body.textContent = 'Opening the Microsoft sign-in…';
    } catch {
      // A browser that isolates the new tab still navigates it below.
    }
  }
  announce(`Opening the sign-in for ${what}…`);
  start().then(
    ({ authorizeUrl }) => {
      if (!/^https?:$/.test(new URL(authorizeUrl, location.href).protocol)) {
        tab?.close();
        announce(`The sign-in for ${what} could not be started: the API answered an unexpected sign-in address.`, 'error');
        return;
      }
      if (tab && !tab.closed) {
        tab.location.replace(authorizeUrl);
        announce(
          `The sign-in for ${what} opened in a new tab. Sign in there as the service account; this list updates when the sign-in succeeds (or select Refresh).`,
        );
      } else {
        // Blocked or closed already: a plain link is a fresh user gesture.
        announce(
          h(
            'span',
            {},
            'Your browser did not open the new tab. ',
            h('a', { href: authorizeUrl, target: '_blank', rel: 'noopener noreferrer' }, 'Open the sign-in'),
            ` for ${what} in a new tab, then select Refresh.`,
          ),
        );
      }
    },
    (e: unknown) => {
      tab?.close();
      announce(`The sign-in for ${what} could not be started: ${messageOf(e)}`, 'error');
    },
  );
  // The handle stays usable after the tab goes to another origin: its `closed` is readable, nothing else is.
  return tab;
}
