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
  /** The identity provider's error code (already checked to look like one), shown escaped. */
  providerCode?: string;
}

export const signInRefusedPage = (r: SignInRefusal) =>
  renderPage(
    r.title,
    `<p>${escapeHtml(r.whatHappened)}</p>${
      r.providerCode ? `<p>Error code from Microsoft sign-in: <strong>${escapeHtml(r.providerCode)}</strong></p>` : ''
    }<p><strong>What to do:</strong> ${escapeHtml(r.whatToDo)}</p><p>No connection was created or changed.</p>`,
    'error',
  );

/**
 * What the OAuth 2.0 / OpenID Connect error codes a sign-in can end with mean (RFC 6749 4.1.2.1, OpenID Connect Core
 * 3.1.2.6), in our words: the only descriptions the page shows.
 */
const knownProviderErrors: Record<string, string> = {
  access_denied: 'You cancelled the sign-in, or the permissions were not granted.',
  consent_required: 'The app needs consent to the requested permissions, and it was not given.',
  interaction_required: 'Microsoft sign-in needed you to interact (for example multi-factor authentication) and could not.',
  login_required: 'Microsoft sign-in needed you to sign in again.',
  account_selection_required: 'Microsoft sign-in needed you to choose an account.',
  invalid_request: 'Microsoft sign-in refused the request as malformed.',
  unauthorized_client: "Microsoft sign-in refused this app's request.",
  invalid_scope: 'Microsoft sign-in refused the requested permissions.',
  server_error: 'Microsoft sign-in had an internal error.',
  temporarily_unavailable: 'Microsoft sign-in is temporarily unavailable; try again in a moment.',
};

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
  /** An `error` callback without a consumed state: anyone can craft that URL, so nothing of it is shown. */
  unmatchedProviderError: {
    title: 'Sign-in did not complete',
    whatHappened: 'Microsoft sign-in did not complete, and the response could not be matched to a request from the admin portal.',
    whatToDo: startAgain,
  },
  /**
   * An `error` callback of a sign-in this app started (its state consumed). Still attacker-reachable text (the redirect
   * is a URL anyone can edit), so the code is shown only when it looks like an OAuth error code and the description
   * only from our own list: never the query's `error_description`.
   */
  providerError: (error: string): SignInRefusal => {
    const known = knownProviderErrors[error];
    const code = /^[A-Za-z0-9_.-]{1,64}$/.test(error) ? error : undefined;
    return {
      title: error === 'access_denied' ? 'Sign-in was cancelled' : 'Sign-in did not complete',
      whatHappened:
        known ?? (code ? 'Microsoft sign-in did not complete.' : 'Microsoft sign-in did not complete and returned an unrecognized error.'),
      whatToDo: `Sign in again as the service account and accept the requested permissions. ${startAgain}`,
      ...(code ? { providerCode: code } : {}),
    };
  },
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
  missingAuthTime: {
    title: 'This sign-in cannot be checked for freshness',
    whatHappened:
      "Microsoft's ID token has no auth_time claim (when the account signed in), so the app cannot tell a fresh sign-in from a reused session, and refuses it.",
    whatToDo:
      'An administrator of the app registration adds the optional ID-token claim auth_time (Microsoft Entra admin center: App registrations, the sign-in app, Token configuration, Add optional claim, ID, auth_time). Then start again from the Connections panel.',
  },
  staleSignIn: {
    title: 'Sign in again',
    whatHappened:
      "Microsoft sign-in reused a session that signed in before this request started, instead of asking for the account's credentials. A connection needs a fresh, interactive sign-in.",
    whatToDo: `Start again from the Connections panel and enter the service account's credentials. If the sign-in page did not ask for them, the link was changed: do not use links you did not start yourself.`,
  },
  missingRole: (username: string, role: string, signInAppId: string): SignInRefusal => ({
    title: 'This account is not a designated service account',
    whatHappened: `${username} does not have the app role "${role}" of the Connections sign-in app, so it cannot become a connection. Only accounts with that role can.`,
    whatToDo: `Sign in with a service account that has the role. An administrator of your tenant assigns it: Microsoft Entra admin center, Enterprise applications, the Connections sign-in app (application ID ${signInAppId}), Users and groups, Add user/group: the account and the role "${role}". ${startAgain}`,
  }),
  noRefreshToken: {
    title: 'Sign-in returned no refresh token',
    whatHappened: 'Microsoft sign-in returned no refresh token, so the connection could not keep working on its own.',
    whatToDo: `Sign in again and accept all requested permissions, offline access included. ${startAgain}`,
  },
  alreadyConnected: (username: string, displayName: string): SignInRefusal => ({
    title: 'This account already has a connection',
    whatHappened: `${username} already has a connection, "${displayName}". Authorizing a new connection does not rename it or replace its tokens.`,
    whatToDo: `To renew that connection's sign-in, select Re-authorize on "${displayName}" in the Connections panel; to add a connection, sign in with another service account.`,
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
