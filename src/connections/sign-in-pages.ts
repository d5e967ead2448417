import { escapeHtml } from '../shared/escape-html';
import { renderPage } from '../shared/html-page';

export const connectionReadyPage = (username: string, displayName: string, reauthorized: boolean) =>
  renderPage(
    reauthorized ? 'Connection re-authorized' : 'Connection set up',
    `<p>The connection <strong>${escapeHtml(displayName)}</strong> was ${reauthorized ? 're-authorized' : 'set up'} for <strong>${escapeHtml(username)}</strong>.</p>
<p>You can close this tab and select <em>Refresh</em> in the Connections panel.</p>`,
    'success',
  );

export interface SignInRefusal {
  title: string;
  whatHappened: string;
  whatToDo: string;
  /** The identity provider's own words, shown verbatim but escaped (never trusted as HTML). */
  providerMessage?: string;
}

export const signInRefusedPage = (r: SignInRefusal) =>
  renderPage(
    r.title,
    `<p>${escapeHtml(r.whatHappened)}</p>${
      r.providerMessage ? `<p>Microsoft said: <q>${escapeHtml(r.providerMessage.slice(0, 500))}</q></p>` : ''
    }<p><strong>What to do:</strong> ${escapeHtml(r.whatToDo)}</p><p>No connection was created or changed.</p>`,
    'error',
  );

const startAgain = 'Close this tab and start again from the Connections panel of the admin portal.';

export const refusals = {
  unknownState: {
    title: 'This sign-in link is not valid',
    whatHappened: 'The sign-in could not be matched to a request from the admin portal, or it was already used.',
    whatToDo: startAgain,
  },
  expiredState: {
    title: 'This sign-in has expired',
    whatHappened: 'Sign-in links are valid for 10 minutes.',
    whatToDo: startAgain,
  },
  providerError: (error: string, description?: string): SignInRefusal => ({
    title: error === 'access_denied' ? 'Sign-in was cancelled' : 'Sign-in did not complete',
    whatHappened:
      error === 'access_denied'
        ? 'The sign-in was cancelled or the permissions were not granted.'
        : `Microsoft sign-in returned the error "${error}".`,
    whatToDo: `Sign in again as the service account and accept the requested permissions. ${startAgain}`,
    providerMessage: description,
  }),
  otherTenant: {
    title: 'This account belongs to another organization',
    whatHappened: "The account you signed in with is not in your organization's tenant, so it cannot be used as its connection.",
    whatToDo: `Sign in with a service account of your own organization. ${startAgain}`,
  },
  otherAccount: (expected: string): SignInRefusal => ({
    title: 'This is a different account',
    whatHappened: `Re-authorization must use the connection's own account (${expected}), and you signed in with another one.`,
    whatToDo: `Sign in as ${expected}, or authorize a new connection for the other account.`,
  }),
  connectionGone: {
    title: 'The connection no longer exists',
    whatHappened: 'The connection you were re-authorizing was deleted meanwhile.',
    whatToDo: `Authorize a new connection instead. ${startAgain}`,
  },
  redeemFailed: (reason: string): SignInRefusal => ({
    title: 'Sign-in could not be completed',
    whatHappened: `The sign-in could not be redeemed: ${reason}`,
    whatToDo: startAgain,
  }),
  badRequest: {
    title: 'This sign-in response is not valid',
    whatHappened: 'The page was opened without the parameters Microsoft sign-in sends back.',
    whatToDo: startAgain,
  },
} satisfies Record<string, SignInRefusal | ((...a: never[]) => SignInRefusal)>;
