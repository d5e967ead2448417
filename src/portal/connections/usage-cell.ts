import { usageLines, type Connection, type ConnectionReference, type ConnectionsApi } from '../api';
import { stepLabel } from '../designer/editor-state';
import { h } from '../dom';

export type StepNamer = (processId: string, stepId: string) => string | undefined;

/** Steps by process and id, named as people know them (usage lines name steps, not their ids); none when unreadable. */
export async function stepNamesOf(api: ConnectionsApi): Promise<StepNamer> {
  const processes = await api.listProcesses().catch(() => []);
  const names = new Map<string, string>();
  for (const p of processes) {
    for (const step of [...(p.published?.definition.steps ?? []), ...p.draft.steps]) names.set(`${p.id}/${step.id}`, stepLabel(step));
  }
  return (processId, stepId) => names.get(`${processId}/${stepId}`);
}

/**
 * Where a connection is used: "Unknown" when its usage could not be read (never a reassuring 0), "Not used", or a
 * disclosure button ("2 steps in 1 process") that opens the row listing each reference.
 */
export function usageCell(c: Connection, refs: ConnectionReference[] | undefined, open: boolean, toggle: () => void): HTMLTableCellElement {
  if (refs === undefined) return h('td', { className: 'used-by muted' }, 'Unknown');
  if (refs.length === 0) return h('td', { className: 'used-by muted' }, 'Not used');
  // The draft and the published version usually name the same step: count each step once.
  const steps = new Set(refs.map((r) => `${r.processId}/${r.stepId ?? ''}`)).size;
  const processes = new Set(refs.map((r) => r.processId)).size;
  const label = `${steps === 1 ? '1 step' : `${steps} steps`} in ${processes === 1 ? '1 process' : `${processes} processes`}`;
  const b = h(
    'button',
    { type: 'button', className: 'disclosure', 'aria-expanded': String(open), 'aria-controls': `usage-${c.id}` },
    label,
  );
  b.addEventListener('click', toggle);
  return h('td', { className: 'used-by' }, b);
}

/** The row under a connection listing where it is used. */
export function usageRow(c: Connection, refs: ConnectionReference[], stepName: StepNamer): HTMLTableRowElement {
  return h(
    'tr',
    { className: 'detail-row', id: `usage-${c.id}` },
    h(
      'td',
      { colspan: 6 },
      h('p', { className: 'detail-title' }, `Where “${c.displayName}” is used`),
      h('ul', { className: 'usage' }, ...usageLines(refs, stepName).map((u) => h('li', {}, u))),
    ),
  );
}
