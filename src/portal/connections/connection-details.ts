import type { AuditEntry, Connection, ConnectionsApi } from '../api';
import { h, replaceChildren, time } from '../dom';
import { messageOf } from '../notices';

/** A connection's facts and its history (audit trail), as the row under it that "Details and history" opens. */
export function detailsRow(ctx: { api: ConnectionsApi; handleAuthError(e: unknown): boolean }, c: Connection): HTMLTableRowElement {
  const audit = h('div', { className: 'audit', 'aria-busy': 'true' }, h('p', { className: 'muted' }, 'Loading the history…'));
  ctx.api.audit(c.id).then(
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

const AUDIT_WORDS: Record<string, string> = {
  created: 'Created',
  reauthorized: 'Re-authorized',
  renamed: 'Renamed',
  default_changed: 'Default changed',
  marked_needs_reauth: 'Marked as needing re-authorization',
  reactivated: 'Active again',
  deleted: 'Deleted',
};
