import { actionCatalogue, actionNamed, defaultInputs } from '../action-catalogue';
import type { ProcessStep } from '../api';
import { h } from '../dom';
import { path, stepLabel, type DesignerUi } from './editor-state';

/** The steps in order (each names its action and who it executes as), and the controls to add one. */
export function stepsList(ui: DesignerUi): HTMLElement {
  const { state } = ui;
  const list = h(
    'ol',
    { className: 'step-list', 'aria-label': 'Steps, in order' },
    ...state.draft.steps.map((s, i) => {
      const action = actionNamed(s.action);
      const hasProblems = state.problems.under(path('steps', i)).length > 0;
      const b = h(
        'button',
        { type: 'button', className: 'step-button', 'aria-current': i === state.selected ? 'step' : false, 'data-step-index': i },
        h('span', { className: 'step-title' }, `${i + 1}. ${stepLabel(s)}`),
        h('span', { className: 'step-kind' }, s.type === 'form' ? 'Form step' : `Action: ${action?.label ?? s.action ?? '(none)'}`),
        s.permissions?.executeAs
          ? h('span', { className: 'step-kind' }, `Executes as ${state.connectionName(s.permissions.executeAs)}`)
          : null,
        hasProblems ? h('span', { className: 'badge badge-error' }, '⚠ Has problems') : null,
      );
      b.addEventListener('click', () => {
        state.selected = i;
        state.stepTab = 'settings';
        ui.refresh('steps', 'panel');
        ui.focus('#step-tab-settings');
      });
      return h('li', {}, b);
    }),
  );
  const addAction = h('select', { id: 'new-step-action' }, ...actionCatalogue.map((a) => h('option', { value: a.name }, a.label)));
  const add = h(
    'div',
    { className: 'add-step' },
    h('label', { for: 'new-step-action' }, 'New action step'),
    addAction,
    h('button', { type: 'button', id: 'add-action-step', onclick: () => addStep(ui, 'action', addAction.value) }, 'Add action step'),
    state.draft.kind === 'user'
      ? h('button', { type: 'button', id: 'add-form-step', onclick: () => addStep(ui, 'form') }, 'Add form step')
      : null,
  );
  return h('div', { className: 'steps-column' }, h('h3', {}, 'Steps'), list, add);
}

/** Adds a step named by its action's label (its id stays an internal key) and selects it. */
function addStep(ui: DesignerUi, type: 'action' | 'form', action?: string): void {
  const { state } = ui;
  const taken = new Set(state.draft.steps.map((s) => s.id));
  const base = type === 'form' ? 'form' : (action ?? 'step');
  let n = 1;
  while (taken.has(`${base}-${n}`)) n++;
  const def = actionNamed(action);
  const step: ProcessStep =
    type === 'form'
      ? { id: `${base}-${n}`, type: 'form', name: 'Form', fields: [{ name: 'comment', label: 'Comment', type: 'text' }] }
      : { id: `${base}-${n}`, type: 'action', name: def?.label, action, inputs: def ? defaultInputs(def) : {} };
  state.draft.steps.push(step);
  state.selected = state.draft.steps.length - 1;
  state.stepTab = 'settings';
  ui.changed();
  ui.refresh('steps', 'panel');
  ui.focus('#step-tab-settings');
}
