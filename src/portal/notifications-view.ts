import type { Connection, ConnectionsApi } from './api';
import { h, replaceChildren } from './dom';
import { announce, messageOf } from './notices';
import type { ViewContext } from './connections-view';
import type { NotificationSettings } from '../notifications/notification-settings';

/** The two calls of this panel, on the page's API client. */
export type NotificationsApi = Pick<ConnectionsApi, 'listConnections' | 'notificationSettings' | 'saveNotificationSettings'>;

/** Addresses as an admin types them: one per line, or separated by commas, semicolons or spaces. */
export const parseRecipients = (text: string): string[] =>
  text
    .split(/[\s,;]+/)
    .map((a) => a.trim())
    .filter(Boolean);

/**
 * The "Notifications" panel: who is mailed when a connection needs re-authorization, is about to, or the app's own
 * credentials are refused, and as which connection the mail is sent (another active one when that one is dead).
 * Saving sends this page's address as `pageUrl`, so each mail links back here.
 */
export function createNotificationsView(ctx: ViewContext & { api: NotificationsApi }) {
  const recipients = h('textarea', { id: 'notification-recipients', rows: 4, cols: 48, placeholder: 'it-admins@contoso.com' });
  const sendAs = h('select', { id: 'notification-send-as' });
  const save = h('button', { type: 'submit', id: 'save-notifications' }, 'Save');
  const status = h('p', { id: 'notifications-status', className: 'muted' });
  const form = h(
    'form',
    { id: 'notifications-form', onsubmit: (e: Event) => (e.preventDefault(), void onSave()) },
    h('h2', {}, 'Notifications'),
    h(
      'p',
      {},
      'Admins listed here get a mail when a connection needs to be re-authorized, 14 and 3 days before a connection must be ' +
        're-authorized, and when the app registration itself is refused.',
    ),
    h('label', { for: 'notification-recipients' }, 'Recipients (one address per line)'),
    recipients,
    h('label', { for: 'notification-send-as' }, 'Send as'),
    sendAs,
    h(
      'p',
      { className: 'muted' },
      'The mail is sent from this connection’s mailbox; when it is the connection that stopped working, another active one sends it.',
    ),
    save,
    status,
  );

  function fill(settings: NotificationSettings, connections: Connection[]) {
    recipients.value = settings.recipients.join('\n');
    replaceChildren(
      sendAs,
      h('option', { value: '' }, 'The default connection'),
      ...connections.map((c) =>
        h(
          'option',
          { value: c.id, selected: c.id === settings.sendAs },
          `${c.displayName} (${c.account.username})${c.status === 'active' ? '' : ' — needs re-authorization'}`,
        ),
      ),
    );
    status.textContent = settings.recipients.length ? '' : 'Nobody is notified yet.';
  }

  async function load() {
    try {
      const [settings, connections] = await Promise.all([ctx.api.notificationSettings(), ctx.api.listConnections()]);
      fill(settings, connections);
    } catch (e) {
      if (!ctx.handleAuthError(e)) announce(`Notification settings could not be loaded: ${messageOf(e)}`, 'error');
    }
  }

  async function onSave() {
    save.disabled = true;
    try {
      const saved = await ctx.api.saveNotificationSettings({
        recipients: parseRecipients(recipients.value),
        sendAs: sendAs.value || null,
        pageUrl: `${location.origin}${location.pathname}`,
      });
      recipients.value = saved.recipients.join('\n');
      announce(
        saved.recipients.length ? `Saved: ${saved.recipients.length} recipient(s) are notified.` : 'Saved: nobody is notified.',
        'success',
      );
    } catch (e) {
      if (!ctx.handleAuthError(e)) announce(`Not saved: ${messageOf(e)}`, 'error');
    } finally {
      save.disabled = false;
    }
  }

  return { element: form, load };
}
