import { referencesIn, type Connection, type ConnectionReference, type ConnectionsApi } from './api';
import { detailsRow } from './connections/connection-details';
import { confirmDelete } from './connections/delete-dialog';
import { startRename } from './connections/rename-form';
import { SignInWatcher } from './connections/sign-in-watch';
import { stepNamesOf, usageCell, usageRow, type StepNamer } from './connections/usage-cell';
import { statusCell } from './connections/status-cell';
import { h, replaceChildren, time } from './dom';
import { announce, messageOf } from './notices';
import { openSignInTab } from './sign-in-tab';
import { statusReasonInWords } from './status-words';

export interface ViewContext {
  api: ConnectionsApi;
  /** Handles errors every view treats alike (expired sign-in); returns true when it did. */
  handleAuthError(e: unknown): boolean;
}

/** The "Connections" panel: list, authorize, rename, make default, re-authorize, test, delete. */
export function createConnectionsView(ctx: ViewContext) {
  const { api } = ctx;
  let connections: Connection[] = [];
  let usage = new Map<string, ConnectionReference[] | undefined>();
  let stepName: StepNamer = () => undefined;
  const expanded = new Set<string>();
  let loading = false;

  const nameInput = h('input', {
    id: 'new-connection-name',
    type: 'text',
    maxlength: 128,
    autocomplete: 'off',
    placeholder: 'e.g. WorkPoint automation',
  });
  // The guide's wording: "click here to authorize a new connection"; the link's own text says what it does.
  const authorizeLink = h(
    'a',
    { href: '#authorize', id: 'authorize-link', onclick: onAuthorize },
    'Click here to authorize a new connection',
  );
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
        authorizeLink,
        '. The sign-in opens in a new tab: sign in there as the service account. This list updates when it succeeds; Refresh reads it again.',
      ),
    ),
    attention,
    listRegion,
    dialog,
  );

  const deleteContext = {
    ...ctx,
    dialog,
    stepName: (processId: string, stepId: string) => stepName(processId, stepId),
    deleted: async () => {
      await load();
      refreshButton.focus();
    },
  };
  const renameContext = {
    ...ctx,
    nameContent,
    renamed: async (c: Connection) => {
      await load();
      focusAction(c.id, 'Rename');
    },
  };

  const watcher = new SignInWatcher(
    api,
    () => element.isConnected,
    () => load(),
  );
  const watchSignIn: SignInWatcher['watch'] = (tab, done, onDone) => watcher.watch(tab, done, onDone);

  function onAuthorize(e: Event): void {
    e.preventDefault();
    const displayName = nameInput.value.trim() || undefined;
    const before = new Set(connections.map((c) => c.id));
    const tab = openSignInTab(() => api.authorize(displayName), displayName ? `“${displayName}”` : 'a new connection');
    watchSignIn(
      tab,
      (list) => list.find((c) => !before.has(c.id)),
      (c) => {
        nameInput.value = '';
        announce(`Connection “${c.displayName}” set up for ${c.account.username}.`, 'success');
      },
    );
  }

  function onReauthorize(c: Connection): void {
    const tab = openSignInTab(() => api.reauthorize(c.id), `“${c.displayName}” (${c.account.username})`);
    watchSignIn(
      tab,
      (list) => list.find((x) => x.id === c.id && x.status === 'active' && x.lastRefreshedAt !== c.lastRefreshedAt),
      (x) => announce(`“${x.displayName}” re-authorized: ${x.account.username} signed in again.`, 'success'),
    );
  }

  async function load(announceResult = false): Promise<void> {
    if (loading) return;
    loading = true;
    listRegion.setAttribute('aria-busy', 'true');
    refreshButton.disabled = true;
    try {
      connections = await api.listConnections();
      [usage, stepName] = await Promise.all([usageOf(connections), stepNamesOf(api)]);
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

  /** Where each connection is used; a connection whose usage cannot be read shows "unknown" rather than 0. */
  async function usageOf(list: Connection[]): Promise<Map<string, ConnectionReference[] | undefined>> {
    const answers = await Promise.all(list.map((c) => api.usage(c.id).then(referencesIn, () => undefined)));
    return new Map(list.map((c, i) => [c.id, answers[i]]));
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
        h(
          'p',
          { className: 'empty' },
          'No connections yet. Use “Click here to authorize a new connection” above; the first one becomes the default.',
        ),
      );
      return;
    }
    const sorted = [...connections].sort((a, b) => Number(b.isDefault) - Number(a.isDefault) || a.displayName.localeCompare(b.displayName));
    const headers = ['Name', 'Account', 'Status', 'Used by', 'Last used', 'Actions'].map((t) => h('th', { scope: 'col' }, t));
    const table = h(
      'table',
      { className: 'connections' },
      h('caption', { className: 'visually-hidden' }, 'Connections of your organization'),
      h('thead', {}, h('tr', {}, ...headers)),
      h('tbody', {}, ...sorted.flatMap(rows)),
    );
    replaceChildren(
      listRegion,
      h('div', { className: 'table-scroll' }, table),
      h(
        'p',
        { className: 'muted footnote' },
        '“Last verified” is the last time Microsoft issued a token for the account. A restart of the service or a change in Microsoft Entra ID can end a sign-in without the list knowing: select Test to check a connection now (a test is not counted as a use).',
      ),
    );
  }

  function nameContent(c: Connection): HTMLElement[] {
    return [
      h('span', { className: 'connection-name' }, c.displayName),
      c.isDefault ? h('span', { className: 'badge badge-default' }, '★ Default') : null,
    ].filter((x): x is HTMLElement => x !== null);
  }

  function toggle(key: string): void {
    if (expanded.has(key)) expanded.delete(key);
    else expanded.add(key);
    render();
    const [kind, id] = key.split(':');
    listRegion
      .querySelector<HTMLButtonElement>(
        `tr[data-connection-id="${CSS.escape(id)}"] ${kind === 'usage' ? 'td.used-by' : 'th.name'} button.disclosure`,
      )
      ?.focus();
  }

  function rows(c: Connection): HTMLTableRowElement[] {
    const main = row(c);
    const extra: HTMLTableRowElement[] = [];
    if (expanded.has(`usage:${c.id}`)) extra.push(usageRow(c, usage.get(c.id) ?? [], stepName));
    if (expanded.has(`details:${c.id}`)) extra.push(detailsRow(ctx, c));
    return [main, ...extra];
  }

  function row(c: Connection): HTMLTableRowElement {
    const stale = c.status === 'needs_reauth';
    const detailsOpen = expanded.has(`details:${c.id}`);
    const detailsButton = h(
      'button',
      { type: 'button', className: 'disclosure link-like', 'aria-expanded': String(detailsOpen), 'aria-controls': `details-${c.id}` },
      'Details and history',
    );
    detailsButton.addEventListener('click', () => toggle(`details:${c.id}`));
    const nameBox = h('div', { className: 'name-box' }, ...nameContent(c));
    const nameCell = h('th', { scope: 'row', className: 'name' }, nameBox, detailsButton);
    const tr = h(
      'tr',
      { className: stale ? 'needs-reauth' : undefined, 'data-connection-id': c.id },
      nameCell,
      h('td', { className: 'account' }, c.account.username),
      statusCell(c),
      usageCell(c, usage.get(c.id), expanded.has(`usage:${c.id}`), () => toggle(`usage:${c.id}`)),
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
    const renameButton = button('Rename', () => startRename(renameContext, c, nameBox, renameButton));
    actions.append(
      renameButton,
      ...(c.isDefault ? [] : [button('Make default', (b) => void makeDefault(c, b))]),
      button('Re-authorize', () => onReauthorize(c), stale ? 'primary' : undefined),
      button('Test', (b) => void test(c, b)),
      button('Delete', (b) => confirmDelete(deleteContext, c, b), 'danger'),
    );
    return tr;
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
          `“${c.displayName}” needs re-authorization: ${statusReasonInWords(result.reason).text} Select Re-authorize and sign in as ${c.account.username}.`,
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

  return { element, load, focus: () => authorizeLink.focus() };
}
