import { analyseElevation } from '../../processes/elevation';
import { h } from '../dom';
import { stepLabel, type EditorState } from './editor-state';

/**
 * Next to Publish, for a user process: which steps run as a connection instead of as the person who starts it, and
 * which values that person types reach them (the server's own analysis, the same pure module, so what is shown here is
 * what a save or publish will refuse).
 */
export function elevationPanel(state: EditorState): HTMLElement | null {
  const { draft } = state;
  if (draft.kind !== 'user') return null;
  const report = analyseElevation(draft);
  const elevated = report.steps.filter((s) => s.elevated);
  const inputLabel = (name: string) => {
    const [stepId, field] = name.split('.');
    if (field === undefined) return draft.inputs?.find((i) => i.name === name)?.label ?? name;
    const step = draft.steps.find((s) => s.id === stepId);
    const label = step?.fields?.find((f) => f.name === field)?.label ?? field;
    return `${label} (form “${step ? stepLabel(step) : stepId}”)`;
  };
  return h(
    'div',
    { className: 'callout elevation', id: 'elevation-summary', role: 'group', 'aria-labelledby': 'elevation-heading' },
    h('h3', { id: 'elevation-heading' }, 'Elevated steps'),
    elevated.length
      ? h(
          'ul',
          {},
          ...elevated.map((s) => {
            const step = draft.steps[s.stepIndex];
            const uses = s.userValues.map(
              (u) => `${inputLabel(u.name)} into ${u.at}${u.role === 'address' ? ' (decides what is touched)' : ''}`,
            );
            return h(
              'li',
              {},
              h('strong', {}, `${s.stepIndex + 1}. ${stepLabel(step)}`),
              ` runs as ${state.connectionName(s.executeAs ?? '')}`,
              uses.length ? `; takes what the person types: ${uses.join('; ')}` : '; takes nothing the person types',
              '.',
            );
          }),
        )
      : h('p', {}, 'None: every step runs as the person who starts the process, with their own permissions.'),
    report.refusals.length
      ? h(
          'ul',
          { className: 'error-text' },
          ...report.refusals.map((r) => h('li', {}, `⚠ ${r.message} Publishing is refused until this changes.`)),
        )
      : null,
  );
}
