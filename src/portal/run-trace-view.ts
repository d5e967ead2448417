import type { RecordedSpan } from '../shared/recorded-spans';
import type { ConnectionsApi } from './api';
import { h, replaceChildren } from './dom';
import { messageOf } from './notices';

/** One waterfall row: a span, how deep it sits under the run's first span, and where its bar starts and ends (% of the trace). */
export interface WaterfallRow {
  span: RecordedSpan;
  depth: number;
  offsetPct: number;
  widthPct: number;
}

/**
 * The spans of a run's trace as waterfall rows, parents before their children, siblings by start time. Spans whose
 * parent is outside the trace (the posting request, the host's invocation) are roots.
 */
export function waterfallRows(spans: readonly RecordedSpan[]): WaterfallRow[] {
  if (spans.length === 0) return [];
  const start = Math.min(...spans.map((s) => Date.parse(s.start)));
  const end = Math.max(...spans.map((s) => Date.parse(s.start) + s.durationMs));
  const total = Math.max(end - start, 1);
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string | undefined, RecordedSpan[]>();
  for (const s of spans) {
    const parent = s.parentSpanId && ids.has(s.parentSpanId) ? s.parentSpanId : undefined;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const rows: WaterfallRow[] = [];
  const visit = (parent: string | undefined, depth: number) => {
    for (const s of [...(children.get(parent) ?? [])].sort((a, b) => a.start.localeCompare(b.start))) {
      const offset = Date.parse(s.start) - start;
      rows.push({
        span: s,
        depth,
        offsetPct: Math.round((offset / total) * 1000) / 10,
        widthPct: Math.max(0.5, Math.round((s.durationMs / total) * 1000) / 10),
      });
      visit(s.spanId, depth + 1);
    }
  };
  visit(undefined, 0);
  return rows;
}

const label = (s: RecordedSpan) => {
  const step = s.attributes['connections.step.id'];
  const url = s.attributes['url.full'];
  const status = s.attributes['http.response.status_code'];
  return [
    s.name,
    step && s.name === 'step' ? ` ${String(step)}` : '',
    url ? ` ${String(url)}` : '',
    status ? ` → ${String(status)}` : '',
  ].join('');
};

const duration = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);

/**
 * "Timeline" under a run: its trace as a waterfall (steps, token acquisitions, Graph and other calls, with durations
 * and failures), read when opened from GET /api/runs/{id}/trace.
 */
export function runTimeline(api: Pick<ConnectionsApi, 'runTrace'>, runId: string): HTMLDetailsElement {
  const body = h('div', { className: 'trace-body' }, h('p', { className: 'muted' }, 'Loading…'));
  const details = h('details', { className: 'trace', 'data-run-trace': runId }, h('summary', {}, 'Timeline'), body);
  let loaded = false;
  details.addEventListener('toggle', () => {
    if (!details.open || loaded) return;
    loaded = true;
    api.runTrace(runId).then(
      (trace) =>
        replaceChildren(body, trace.recorded ? waterfall(trace.spans) : h('p', { className: 'muted' }, notRecorded(trace.traceId))),
      (e) => {
        loaded = false;
        replaceChildren(body, h('p', { className: 'error-text' }, `The timeline could not be loaded: ${messageOf(e)}`));
      },
    );
  });
  return details;
}

const notRecorded = (traceId?: string) =>
  `This deployment does not keep traces here: open Application Insights, Transaction search, operation id ${traceId ?? '(none)'}.`;

function waterfall(spans: RecordedSpan[]): HTMLElement {
  const rows = waterfallRows(spans);
  if (rows.length === 0)
    return h('p', { className: 'muted' }, 'No spans were recorded for this run (they are kept for the newest 500 traces).');
  return h(
    'table',
    { className: 'waterfall' },
    h(
      'thead',
      {},
      h('tr', {}, h('th', { scope: 'col' }, 'Span'), h('th', { scope: 'col' }, 'Duration'), h('th', { scope: 'col' }, 'Time')),
    ),
    h(
      'tbody',
      {},
      ...rows.map((row) => {
        const bar = h('span', { className: `waterfall-bar${row.span.status === 'error' ? ' waterfall-error' : ''}` });
        // CSSOM, not a style attribute: the page's CSP (style-src 'self') refuses inline styles.
        bar.style.marginLeft = `${row.offsetPct}%`;
        bar.style.width = `${row.widthPct}%`;
        const name = h('td', { className: 'waterfall-name' }, label(row.span), row.span.status === 'error' ? ' (failed)' : '');
        name.style.paddingLeft = `${row.depth * 1.25}em`;
        return h(
          'tr',
          { 'data-span': row.span.name },
          name,
          h('td', { className: 'waterfall-duration' }, duration(row.span.durationMs)),
          h('td', { className: 'waterfall-lane' }, bar),
        );
      }),
    ),
  );
}
