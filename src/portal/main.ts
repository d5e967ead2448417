/**
 * The Connections admin page: entry point. Plain DOM, no framework; every piece of data is rendered
 * as text (see dom.ts). Works under a strict Content-Security-Policy: no inline script or style.
 */
import { ApiError, ConnectionsApi } from './api';
import { AdminAuth, type AdminSession } from './auth';
import { loadConfig } from './config';
import { createConnectionsView, type ViewContext } from './connections-view';
import { byId, h, replaceChildren } from './dom';
import { announce, clearNotices, messageOf } from './notices';
import { createNotificationsView } from './notifications-view';
import { createProcessesView } from './processes-view';
import { createRunsView } from './runs-view';
import { createUserHome } from './user/user-home';

const app = () => byId('app');
const accountBox = () => byId('account');

function showSignedOut(auth: AdminAuth, message?: string, tone: 'info' | 'error' = 'info'): void {
  replaceChildren(accountBox());
  const button = h('button', { type: 'button', className: 'primary', id: 'sign-in' }, 'Sign in');
  button.addEventListener('click', () => {
    button.disabled = true;
    announce('Going to the sign-in page…');
    auth.signIn().catch((e: unknown) => {
      button.disabled = false;
      announce(messageOf(e), 'error');
    });
  });
  replaceChildren(
    app(),
    h(
      'section',
      { className: 'panel sign-in', 'aria-labelledby': 'sign-in-heading' },
      h('h2', { id: 'sign-in-heading' }, 'Sign in'),
      h(
        'p',
        {},
        'Sign in with your work account: to start your organization’s processes and follow your runs, or, as an administrator, to manage its connections and processes.',
      ),
      button,
    ),
  );
  if (message) announce(message, tone);
  else clearNotices();
  button.focus();
}

function showApp(auth: AdminSession, adminAuth: AdminAuth, api: ConnectionsApi): void {
  const signOut = h('button', { type: 'button', id: 'sign-out' }, 'Sign out');
  signOut.addEventListener('click', () => {
    if (!processes.confirmLeave()) return;
    adminAuth.signOut();
    showSignedOut(adminAuth, 'You are signed out of this page.');
  });
  replaceChildren(accountBox(), h('span', {}, 'Signed in as ', h('strong', { id: 'admin-username' }, auth.username)), signOut);

  const ctx: ViewContext = {
    api,
    handleAuthError(e) {
      if (e instanceof ApiError && e.status === 401) {
        adminAuth.signOut();
        showSignedOut(adminAuth, 'Your sign-in has expired. Sign in again to continue.', 'error');
        return true;
      }
      if (e instanceof ApiError && e.status === 403) {
        announce(`${auth.username} may not manage connections: ${e.message} Sign out and sign in with an administrator account.`, 'error');
        return true;
      }
      return false;
    },
  };
  const connections = createConnectionsView(ctx);
  const runs = createRunsView(ctx, { objectId: auth.objectId, username: auth.username });
  const processes = createProcessesView({
    ...ctx,
    showRuns: (processId) => {
      runs.focusProcess(processId);
      select(2, true);
    },
  });

  const tabs = [
    { id: 'connections', label: 'Connections', view: connections },
    { id: 'processes', label: 'Processes', view: processes },
    { id: 'runs', label: 'Runs', view: runs },
    { id: 'notifications', label: 'Notifications', view: createNotificationsView(ctx) },
  ] as const;
  // Leaving the page (reload, close, another address) with unsaved process changes asks first.
  window.addEventListener('beforeunload', (e) => {
    if (processes.isDirty()) e.preventDefault();
  });
  const tabButtons = tabs.map((t) =>
    h(
      'button',
      { type: 'button', role: 'tab', id: `tab-${t.id}`, 'aria-controls': `panel-${t.id}`, 'aria-selected': 'false', tabindex: '-1' },
      t.label,
    ),
  );
  const panels = tabs.map((t) =>
    h('div', { role: 'tabpanel', id: `panel-${t.id}`, 'aria-labelledby': `tab-${t.id}`, hidden: true }, t.view.element),
  );

  let shown = -1;
  function select(index: number, focus = false): void {
    if (shown === 1 && index !== 1 && !processes.confirmLeave()) {
      tabButtons[1].focus();
      return;
    }
    shown = index;
    tabs.forEach((t, i) => {
      tabButtons[i].setAttribute('aria-selected', String(i === index));
      tabButtons[i].tabIndex = i === index ? 0 : -1;
      panels[i].hidden = i !== index;
    });
    if (focus) tabButtons[index].focus();
    history.replaceState(null, '', `#${tabs[index].id}`);
    void tabs[index].view.load();
  }
  tabButtons.forEach((b, i) => {
    b.addEventListener('click', () => select(i));
    b.addEventListener('keydown', (e: KeyboardEvent) => {
      const next =
        e.key === 'ArrowRight'
          ? i + 1
          : e.key === 'ArrowLeft'
            ? i - 1
            : e.key === 'Home'
              ? 0
              : e.key === 'End'
                ? tabs.length - 1
                : undefined;
      if (next === undefined) return;
      e.preventDefault();
      select((next + tabs.length) % tabs.length, true);
    });
  });

  replaceChildren(app(), h('div', { role: 'tablist', 'aria-label': 'Views', className: 'tabs' }, ...tabButtons), ...panels);
  clearNotices();
  const initial = tabs.findIndex((t) => `#${t.id}` === location.hash);
  select(initial < 0 ? 0 : initial);
}

/** A person without the admin role: their own space (processes they can start, their runs), no admin control. */
function showUserApp(session: AdminSession, auth: AdminAuth, api: ConnectionsApi): void {
  const signOut = h('button', { type: 'button', id: 'sign-out' }, 'Sign out');
  signOut.addEventListener('click', () => {
    auth.signOut();
    showSignedOut(auth, 'You are signed out of this page.');
  });
  replaceChildren(accountBox(), h('span', {}, 'Signed in as ', h('strong', { id: 'admin-username' }, session.username)), signOut);
  const home = createUserHome({
    api,
    handleAuthError(e) {
      if (e instanceof ApiError && e.status === 401) {
        auth.signOut();
        showSignedOut(auth, 'Your sign-in has expired. Sign in again to continue; runs waiting for you can then continue.', 'error');
        return true;
      }
      return false;
    },
  });
  replaceChildren(app(), home.element);
  clearNotices();
  void home.load();
}

async function start(): Promise<void> {
  let auth: AdminAuth;
  try {
    const config = await loadConfig();
    auth = new AdminAuth(config);
    const api = new ConnectionsApi(config.apiBase, () => auth.session()?.accessToken);
    if (AdminAuth.isRedirectBack()) {
      try {
        await auth.completeSignIn();
      } catch (e) {
        return showSignedOut(auth, messageOf(e), 'error');
      }
    }
    const session = auth.session();
    if (!session) return showSignedOut(auth);
    if (session.roles.includes(config.adminRole ?? 'Connections.Admin')) showApp(session, auth, api);
    else showUserApp(session, auth, api);
  } catch (e) {
    replaceChildren(app(), h('p', { className: 'error-text' }, `The page could not start: ${messageOf(e)}`));
  }
}

void start();
