import { ApiError, referencesIn, usageLines, type AuditEntry, type Connection, type ConnectionReference, type ConnectionsApi } from './api';
import { h, replaceChildren, time } from './dom';
import { announce, messageOf } from './notices';
import { openSignInTab } from './sign-in-tab';
import { reauthorizeUrgency, REAUTHORIZE_WARNING_DAYS, statusReasonInWords } from './status-words';

/** How often the list is re-read while a sign-in tab is open, and for how long at most (a sign-in state lives 10 minutes). */
const WATCH_INTERVAL_MS = 2000;
const WATCH_LIMIT_MS = 10 * 60_000;

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
  const expanded = new Set<string>();
  let loading = false;
  let watch: { stop(): void } | undefined;

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

  /**
   * The sign-in tab ends on the API's own page, which cannot talk to this one (another origin in Azure, no opener):
   * the page learns of the success from the API. While the tab is open the list is read every few seconds; once it
   * shows the outcome (or the tab closes) the list is shown and the watch stops.
   */
  function watchSignIn(tab: Window | null, done: (list: Connection[]) => Connection | undefined, onDone: (c: Connection) => void): void {
    watch?.stop();
    const startedAt = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = () => {
      if (timer) clearTimeout(timer);
      if (watch === handle) watch = undefined;
    };
    const handle = { stop };
    watch = handle;
    const tick = async () => {
      if (!element.isConnected || Date.now() - startedAt > WATCH_LIMIT_MS) return stop();
      const closed = !tab || tab.closed;
      try {
        const list = await api.listConnections();
        if (watch !== handle) return;
        const finished = done(list);
        if (finished || closed) {
          stop();
          await load();
          if (finished) onDone(finished);
          return;
        }
      } catch {
        // A failed read while waiting says nothing about the sign-in; the next tick or Refresh tries again.
      }
      if (watch === handle) timer = setTimeout(() => void tick(), WATCH_INTERVAL_MS);
    };
    timer = setTimeout(() => void tick(), WATCH_INTERVAL_MS);
  }

  async function load(announceResult = false): Promise<void> {
    if (loading) return;
    loading = true;
    listRegion.setAttribute('aria-busy', 'true');
    refreshButton.disabled = true;
    try {
      connections = await api.listConnections();
      usage = await usageOf(connections);
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

  function statusCell(c: Connection): HTMLTableCellElement {
    const stale = c.status === 'needs_reauth';
    const urgency = reauthorizeUrgency(c.reauthorizeBy);
    const words = stale ? statusReasonInWords(c.statusReason) : undefined;
    return h(
      'td',
      { className: 'status' },
      stale
        ? [
            h('span', { className: 'badge badge-warning' }, '⚠ Needs re-authorization'),
            h('span', { className: 'reason' }, words!.text),
            words!.code ? h('span', { className: 'reason-code' }, `Code: ${words!.code}`) : null,
          ]
        : [
            h('span', { className: 'badge badge-ok' }, '✓ Active'),
            h(
              'span',
              { className: `reauthorize-by${urgency.warn ? ' due-soon' : ''}` },
              urgency.warn ? '⚠ ' : '',
              'Re-authorize by ',
              time(c.reauthorizeBy, '', { day: true }),
              urgency.warn
                ? urgency.days < 0
                  ? ' (overdue)'
                  : ` (within ${REAUTHORIZE_WARNING_DAYS} days: ${urgency.days === 0 ? 'today' : urgency.days === 1 ? '1 day left' : `${urgency.days} days left`})`
                : null,
            ),
          ],
      h('span', { className: 'verified' }, 'Last verified ', time(c.lastRefreshedAt, 'never')),
    );
  }

  function usageCell(c: Connection): HTMLTableCellElement {
    const refs = usage.get(c.id);
    if (refs === undefined) return h('td', { className: 'used-by muted' }, 'Unknown');
    if (refs.length === 0) return h('td', { className: 'used-by muted' }, 'Not used');
    // The draft and the published version usually name the same step: count each step once.
    const steps = new Set(refs.map((r) => `${r.processId}/${r.stepId ?? ''}`)).size;
    const processes = new Set(refs.map((r) => r.processId)).size;
    const label = `${steps === 1 ? '1 step' : `${steps} steps`} in ${processes === 1 ? '1 process' : `${processes} processes`}`;
    const open = expanded.has(`usage:${c.id}`);
    const b = h(
      'button',
      { type: 'button', className: 'disclosure', 'aria-expanded': String(open), 'aria-controls': `usage-${c.id}` },
      label,
    );
    b.addEventListener('click', () => toggle(`usage:${c.id}`));
    return h('td', { className: 'used-by' }, b);
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
    if (expanded.has(`usage:${c.id}`)) {
      extra.push(
        h(
          'tr',
          { className: 'detail-row', id: `usage-${c.id}` },
          h(
            'td',
            { colspan: 6 },
            h('p', { className: 'detail-title' }, `Where “${c.displayName}” is used`),
            h('ul', { className: 'usage' }, ...usageLines(usage.get(c.id) ?? []).map((u) => h('li', {}, u))),
          ),
        ),
      );
    }
    if (expanded.has(`details:${c.id}`)) extra.push(detailsRow(c));
    return [main, ...extra];
  }

  function detailsRow(c: Connection): HTMLTableRowElement {
    const audit = h('div', { className: 'audit', 'aria-busy': 'true' }, h('p', { className: 'muted' }, 'Loading the history…'));
    api.audit(c.id).then(
      (entries) => {
        audit.setAttribute('aria-busy', 'false');
        replaceChildren(
          audit,
          entries.length
            ? h(
                'table',
                { className: 'audit-table' },
                h('caption', {}, 'History (newest first)'),
                h('thead', {}, h('tr', {}, ...['When', 'What', 'By', 'Details'].map((t) => h('th', { scope: 'col' }, t)))),
                h('tbody', {}, ...entries.map(auditRow)),
              )
            : h('p', { className: 'muted' }, 'No history recorded.'),
        );
      },
      (e: unknown) => {
        audit.setAttribute('aria-busy', 'false');
        if (!ctx.handleAuthError(e))
          replaceChildren(audit, h('p', { className: 'error-text' }, `The history could not be loaded: ${messageOf(e)}`));
      },
    );
    return h(
      'tr',
      { className: 'detail-row', id: `details-${c.id}` },
      h(
        'td',
        { colspan: 6 },
        h(
          'dl',
          { className: 'facts' },
          h('dt', {}, 'Created'),
          h('dd', {}, time(c.createdAt), ` by ${c.createdBy}`),
          h('dt', {}, 'Last refreshed'),
          h('dd', {}, time(c.lastRefreshedAt, 'never')),
          h('dt', {}, 'Status since'),
          h('dd', {}, time(c.statusChangedAt)),
          h('dt', {}, 'Account object id'),
          h('dd', {}, c.account.objectId),
        ),
        audit,
      ),
    );
  }

  function auditRow(e: AuditEntry): HTMLTableRowElement {
    const details = Object.entries(e.details ?? {})
      .map(([k, v]) => `${k}: ${String(v)}`)
      .join(', ');
    return h('tr', {}, h('td', {}, time(e.at)), h('td', {}, AUDIT_WORDS[e.action] ?? e.action), h('td', {}, e.by), h('td', {}, details));
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
      usageCell(c),
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
    const renameButton = button('Rename', () => startRename(c, nameBox, renameButton));
    actions.append(
      renameButton,
      ...(c.isDefault ? [] : [button('Make default', (b) => void makeDefault(c, b))]),
      button('Re-authorize', () => onReauthorize(c), stale ? 'primary' : undefined),
      button('Test', (b) => void test(c, b)),
      button('Delete', (b) => confirmDelete(c, b), 'danger'),
    );
    return tr;
  }

  function startRename(c: Connection, cell: HTMLElement, opener: HTMLButtonElement): void {
    const inputId = `rename-${c.id}`;
    const input = h('input', { id: inputId, type: 'text', value: c.displayName, maxlength: 128, required: true });
    const cancel = () => {
      replaceChildren(cell, ...nameContent(c));
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

  /** A modal confirm; a 409 answer (processes use the connection) shows their list and asks again before forcing. */
  function confirmDelete(c: Connection, opener: HTMLButtonElement): void {
    const close = () => {
      dialog.close();
    };
    dialog.onclose = () => {
      if (document.contains(opener)) opener.focus();
    };
    // Kept across the 409 round: the choice made in the first dialog still holds for "Delete anyway".
    const revoke = h('input', { type: 'checkbox', id: 'delete-revoke-sessions' });
    const show = (usage?: string[]) => {
      const confirmButton = h('button', { type: 'button', className: 'danger' }, usage ? 'Delete anyway' : 'Delete');
      const cancelButton = h('button', { type: 'button', onclick: close }, 'Cancel');
      confirmButton.addEventListener('click', async () => {
        confirmButton.disabled = true;
        try {
          await api.remove(c.id, { force: usage !== undefined, revokeSessions: revoke.checked });
          close();
          announce(
            `Deleted “${c.displayName}”.${revoke.checked ? ` The sign-in sessions of ${c.account.username} were revoked.` : ''} ${VAULT_TRUTH}`,
            'success',
          );
          await load();
          refreshButton.focus();
        } catch (e) {
          if (e instanceof ApiError && e.status === 409 && usage === undefined && referencesIn(e.body)) {
            show(usageLines(referencesIn(e.body) ?? []));
            return;
          }
          if (e instanceof ApiError && e.status === 409 && usage === undefined && !revoke.checked) {
            // The 409 names the processes; if it does not, ask the usage endpoint.
            const references = referencesIn(await api.usage(c.id).catch(() => undefined)) ?? [];
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
              { id: 'delete-dialog-text' },
              `Processes can no longer run as this connection. Its stored sign-in (${c.account.username}) is overwritten in Key Vault and the secret deleted. `,
              VAULT_TRUTH,
            ),
        h(
          'div',
          { className: 'field checkbox' },
          revoke,
          h('label', { for: 'delete-revoke-sessions' }, "Also revoke the account's sign-in sessions"),
          h(
            'p',
            { className: 'hint', id: 'delete-revoke-hint' },
            `Ends every refresh token of ${c.account.username} at Microsoft Entra now, including the one in older secret versions (other apps it signed in to must sign in again).`,
          ),
        ),
        h('div', { className: 'dialog-actions' }, cancelButton, confirmButton),
      );
      revoke.setAttribute('aria-describedby', 'delete-revoke-hint');
      if (!dialog.open) dialog.showModal();
      cancelButton.focus();
    };
    show();
  }

  return { element, load, focus: () => authorizeLink.focus() };
}

/** What deleting does in Key Vault, as it is: a soft-deleted secret keeps its versions until it is purged. */
const VAULT_TRUTH =
  "Key Vault keeps a deleted secret, older versions included, for its retention period (purge protection forbids purging it sooner): until then those versions still hold the account's refresh token. Revoking the account's sign-in sessions makes that token useless now.";

const AUDIT_WORDS: Record<string, string> = {
  created: 'Created',
  reauthorized: 'Re-authorized',
  renamed: 'Renamed',
  default_changed: 'Default changed',
  marked_needs_reauth: 'Marked as needing re-authorization',
  reactivated: 'Active again',
  deleted: 'Deleted',
};
