import { ApiError, referencesIn, usageLines, type Connection, type ConnectionsApi } from './api';
import { h, replaceChildren, time } from './dom';
import { announce, messageOf } from './notices';
import { openSignInTab } from './sign-in-tab';

export interface ViewContext {
  api: ConnectionsApi;
  /** Handles errors every view treats alike (expired sign-in); returns true when it did. */
  handleAuthError(e: unknown): boolean;
}

/** The "Connections" panel: list, authorize, rename, make default, re-authorize, test, delete. */
export function createConnectionsView(ctx: ViewContext) {
  const { api } = ctx;
  let connections: Connection[] = [];
  let loading = false;

  const nameInput = h('input', {
    id: 'new-connection-name',
    type: 'text',
    maxlength: 128,
    autocomplete: 'off',
    placeholder: 'e.g. WorkPoint automation',
  });
  const authorizeLink = h('a', { href: '#authorize', id: 'authorize-link', onclick: onAuthorize }, 'here');
  const refreshButton = h('button', { type: 'button', id: 'refresh-connections', onclick: () => void load(true) }, 'Refresh');
  const attention = h('div', { id: 'needs-reauth-summary', className: 'callout callout-warning', hidden: true });
  const listRegion = h('div', { id: 'connections-list', 'aria-busy': 'false' });
  const dialog = h('dialog', { id: 'delete-dialog', 'aria-labelledby': 'delete-dialog-title' });

  const element = h(
    'section',
    { className: 'panel', 'aria-labelledby': 'connections-heading' },
    h('div', { className: 'panel-head' }, h('h2', { id: 'connections-heading' }, 'Connections'), refreshButton),
    h(
      'p',
      { className: 'intro' },
      'A connection is a service account that system processes run their steps as. Authorizing one signs in as that account with Microsoft; its tokens are kept in Key Vault, never in this page.',
    ),
    h(
      'div',
      { className: 'new-connection' },
      h('label', { for: 'new-connection-name' }, 'Name for the new connection (optional)'),
      nameInput,
      h(
        'p',
        { id: 'authorize-text' },
        'Click ',
        authorizeLink,
        ' to authorize a new connection. The sign-in opens in a new tab: sign in there as the service account, close the tab, then select Refresh.',
      ),
    ),
    attention,
    listRegion,
    dialog,
  );

  function onAuthorize(e: Event): void {
    e.preventDefault();
    const displayName = nameInput.value.trim() || undefined;
    openSignInTab(() => api.authorize(displayName), displayName ? `“${displayName}”` : 'a new connection');
  }

  async function load(announceResult = false): Promise<void> {
    if (loading) return;
    loading = true;
    listRegion.setAttribute('aria-busy', 'true');
    refreshButton.disabled = true;
    try {
      connections = await api.listConnections();
      render();
      if (announceResult) {
        const n = connections.length;
        announce(`Connections refreshed: ${n === 0 ? 'none yet' : n === 1 ? '1 connection' : `${n} connections`}.`);
      }
    } catch (e) {
      if (!ctx.handleAuthError(e)) announce(`The connections could not be loaded: ${messageOf(e)}`, 'error');
    } finally {
      loading = false;
      listRegion.setAttribute('aria-busy', 'false');
      refreshButton.disabled = false;
    }
  }

  function render(): void {
    const stale = connections.filter((c) => c.status === 'needs_reauth');
    attention.hidden = stale.length === 0;
    replaceChildren(
      attention,
      h('strong', {}, '⚠ Action needed: '),
      stale.length === 1
        ? `the connection “${stale[0].displayName}” needs re-authorization. Steps that run as it fail until you re-authorize it.`
        : `${stale.length} connections need re-authorization: ${stale.map((c) => `“${c.displayName}”`).join(', ')}. Steps that run as them fail until you re-authorize them.`,
    );

    if (connections.length === 0) {
      replaceChildren(
        listRegion,
        h('p', { className: 'empty' }, 'No connections yet. Click “here” above to authorize the first one; it becomes the default.'),
      );
      return;
    }
    const sorted = [...connections].sort((a, b) => Number(b.isDefault) - Number(a.isDefault) || a.displayName.localeCompare(b.displayName));
    const headers = ['Name', 'Account', 'Status', 'Default', 'Last used', 'Actions'].map((t) => h('th', { scope: 'col' }, t));
    const table = h(
      'table',
      { className: 'connections' },
      h('caption', { className: 'visually-hidden' }, 'Connections of your organization'),
      h('thead', {}, h('tr', {}, ...headers)),
      h('tbody', {}, ...sorted.map(row)),
    );
    replaceChildren(listRegion, h('div', { className: 'table-scroll' }, table));
  }

  function row(c: Connection): HTMLTableRowElement {
    const stale = c.status === 'needs_reauth';
    const nameCell = h('th', { scope: 'row', className: 'name' }, c.displayName);
    const tr = h(
      'tr',
      { className: stale ? 'needs-reauth' : undefined, 'data-connection-id': c.id },
      nameCell,
      h('td', { className: 'account' }, c.account.username),
      h(
        'td',
        { className: 'status' },
        stale
          ? [
              h('span', { className: 'badge badge-warning' }, '⚠ Needs re-authorization'),
              c.statusReason ? h('span', { className: 'reason' }, c.statusReason) : null,
            ]
          : h('span', { className: 'badge badge-ok' }, '✓ Active'),
      ),
      h(
        'td',
        { className: 'default' },
        c.isDefault ? h('span', { className: 'badge badge-default' }, '★ Default') : h('span', { className: 'muted' }, '—'),
      ),
      h('td', { className: 'last-used' }, time(c.lastUsedAt)),
      h('td', { className: 'actions' }),
    );
    const actions = h('div', { className: 'action-group', role: 'group', 'aria-label': `Actions for ${c.displayName}` });
    tr.lastElementChild!.appendChild(actions);
    const button = (label: string, handler: (b: HTMLButtonElement) => void, className?: string) => {
      const b: HTMLButtonElement = h('button', { type: 'button', className, 'aria-label': `${label} ${c.displayName}` }, label);
      b.addEventListener('click', () => handler(b));
      return b;
    };
    const renameButton = button('Rename', () => startRename(c, nameCell, renameButton));
    actions.append(
      renameButton,
      ...(c.isDefault ? [] : [button('Make default', (b) => void makeDefault(c, b))]),
      button(
        'Re-authorize',
        () => openSignInTab(() => api.reauthorize(c.id), `“${c.displayName}” (${c.account.username})`),
        stale ? 'primary' : undefined,
      ),
      button('Test', (b) => void test(c, b)),
      button('Delete', (b) => confirmDelete(c, b), 'danger'),
    );
    return tr;
  }

  function startRename(c: Connection, cell: HTMLElement, opener: HTMLButtonElement): void {
    const inputId = `rename-${c.id}`;
    const input = h('input', { id: inputId, type: 'text', value: c.displayName, maxlength: 128, required: true });
    const cancel = () => {
      replaceChildren(cell, c.displayName);
      opener.focus();
    };
    const form = h(
      'form',
      { className: 'rename' },
      h('label', { for: inputId, className: 'visually-hidden' }, `New name for ${c.displayName}`),
      input,
      h('button', { type: 'submit' }, 'Save'),
      h('button', { type: 'button', onclick: cancel }, 'Cancel'),
    );
    form.addEventListener('keydown', (e: KeyboardEvent) => {
      if (e.key === 'Escape') cancel();
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const name = input.value.trim();
      if (!name) return input.focus();
      if (name === c.displayName) return cancel();
      try {
        await api.rename(c.id, name);
        announce(`Renamed “${c.displayName}” to “${name}”.`, 'success');
        await load();
        focusAction(c.id, 'Rename');
      } catch (err) {
        if (!ctx.handleAuthError(err)) announce(`The connection could not be renamed: ${messageOf(err)}`, 'error');
      }
    });
    replaceChildren(cell, form);
    input.focus();
    input.select();
  }

  async function makeDefault(c: Connection, b: HTMLButtonElement): Promise<void> {
    b.disabled = true;
    try {
      await api.makeDefault(c.id);
      announce(`“${c.displayName}” is now the default connection.`, 'success');
      await load();
      focusAction(c.id, 'Rename');
    } catch (e) {
      b.disabled = false;
      if (!ctx.handleAuthError(e)) announce(`The default could not be changed: ${messageOf(e)}`, 'error');
    }
  }

  async function test(c: Connection, b: HTMLButtonElement): Promise<void> {
    b.disabled = true;
    announce(`Testing “${c.displayName}”…`);
    try {
      const result = await api.test(c.id);
      if (result.ok) {
        announce(`“${c.displayName}” works: Microsoft issued a token for ${c.account.username}.`, 'success');
      } else if (result.status === 'needs_reauth') {
        announce(
          `“${c.displayName}” needs re-authorization: ${result.reason} Select Re-authorize and sign in as ${c.account.username}.`,
          'error',
        );
      } else {
        announce(`“${c.displayName}” could not be tested right now (${result.reason}). Nothing was changed; try again later.`, 'error');
      }
      await load();
      focusAction(c.id, 'Test');
    } catch (e) {
      b.disabled = false;
      if (!ctx.handleAuthError(e)) announce(`The test could not run: ${messageOf(e)}`, 'error');
    }
  }

  function focusAction(id: string, label: string): void {
    const tr = listRegion.querySelector<HTMLElement>(`tr[data-connection-id="${CSS.escape(id)}"]`);
    const b = [...(tr?.querySelectorAll<HTMLButtonElement>('button') ?? [])].find((x) => x.textContent === label);
    b?.focus();
  }

  /** A modal confirm; a 409 answer (processes use the connection) shows their list and asks again before forcing. */
  function confirmDelete(c: Connection, opener: HTMLButtonElement): void {
    const close = () => {
      dialog.close();
    };
    dialog.onclose = () => {
      if (document.contains(opener)) opener.focus();
    };
    const show = (usage?: string[]) => {
      const confirmButton = h('button', { type: 'button', className: 'danger' }, usage ? 'Delete anyway' : 'Delete');
      const cancelButton = h('button', { type: 'button', onclick: close }, 'Cancel');
      confirmButton.addEventListener('click', async () => {
        confirmButton.disabled = true;
        try {
          await api.remove(c.id, usage !== undefined);
          close();
          announce(`Deleted “${c.displayName}”. Its tokens were removed from Key Vault.`, 'success');
          await load();
          refreshButton.focus();
        } catch (e) {
          if (e instanceof ApiError && e.status === 409 && usage === undefined) {
            // The 409 names the processes; if it does not, ask the usage endpoint.
            const references = referencesIn(e.body) ?? referencesIn(await api.usage(c.id).catch(() => undefined)) ?? [];
            show(usageLines(references));
            return;
          }
          close();
          if (!ctx.handleAuthError(e)) announce(`“${c.displayName}” could not be deleted: ${messageOf(e)}`, 'error');
        }
      });
      replaceChildren(
        dialog,
        h('h2', { id: 'delete-dialog-title' }, `Delete “${c.displayName}”?`),
        usage
          ? [
              h('p', {}, `“${c.displayName}” (${c.account.username}) is used by these processes:`),
              usage.length
                ? h('ul', { className: 'usage' }, ...usage.map((u) => h('li', {}, u)))
                : h('p', {}, 'The API did not list them.'),
              h('p', {}, 'If you delete it anyway, their steps that run as it fail until they are changed to another connection.'),
            ]
          : h(
              'p',
              {},
              `The stored sign-in of ${c.account.username} is removed from Key Vault. Processes can no longer run as this connection.`,
            ),
        h('div', { className: 'dialog-actions' }, cancelButton, confirmButton),
      );
      if (!dialog.open) dialog.showModal();
      cancelButton.focus();
    };
    show();
  }

  return { element, load, focus: () => authorizeLink.focus() };
}
