import type { Connection } from '../api';
import { h, time } from '../dom';
import { reauthorizeUrgency, REAUTHORIZE_WARNING_DAYS, statusReasonInWords } from '../status-words';

/** A connection's health: active with its re-authorize-by date (warned when near), or why it needs re-authorization. */
export function statusCell(c: Connection): HTMLTableCellElement {
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
