import { h } from '../dom';
import type { ProcessStep } from '../api';
import { connectionChoices } from './connection-choices';
import { labelled, selectControl } from './controls';
import { path, stepLabel, type DesignerUi } from './editor-state';
import { stepSettings } from './step-settings';

export const FORM_STEP_NOTE = 'Only action steps can be executed using a connection.';

/** The selected step: its tabs Settings and Permissions, and moving or removing it. */
export function stepPanel(ui: DesignerUi): HTMLElement {
  const { state } = ui;
  const i = state.selected;
  const step = state.step();
  if (!step) return h('p', { className: 'empty' }, 'Add a step.');
  const showTab = (t: 'settings' | 'permissions') => {
    state.stepTab = t;
    ui.refresh('panel');
    ui.focus(`#step-tab-${t}`);
  };
  const tabs = (['settings', 'permissions'] as const).map((t) => {
    const b = h(
      'button',
      {
        type: 'button',
        role: 'tab',
        id: `step-tab-${t}`,
        'aria-controls': `step-panel-${t}`,
        'aria-selected': String(state.stepTab === t),
        tabindex: state.stepTab === t ? '0' : '-1',
      },
      t === 'settings' ? 'Settings' : 'Permissions',
    );
    b.addEventListener('click', () => showTab(t));
    b.addEventListener('keydown', (e: KeyboardEvent) => {
      if (!['ArrowRight', 'ArrowLeft', 'Home', 'End'].includes(e.key)) return;
      e.preventDefault();
      showTab(state.stepTab === 'settings' ? 'permissions' : 'settings');
    });
    return b;
  });
  const body = state.stepTab === 'settings' ? stepSettings(ui, step, i) : stepPermissions(ui, step, i);
  const move = (by: number) => {
    const [moved] = state.draft.steps.splice(i, 1);
    state.draft.steps.splice(i + by, 0, moved);
    state.selected = i + by;
    state.problems.clear();
    ui.changed();
    ui.refresh('steps', 'panel');
  };
  const remove = () => {
    state.draft.steps.splice(i, 1);
    state.selected = Math.max(0, Math.min(state.selected, state.draft.steps.length - 1));
    state.problems.clear();
    ui.changed();
    ui.refresh('steps', 'panel');
    ui.focus('.step-list [aria-current="step"]');
  };
  const title = `Step ${i + 1}: ${stepLabel(step)}`;
  return h(
    'div',
    { className: 'step-panel', role: 'region', 'aria-label': title },
    h('h3', { id: 'step-heading' }, title),
    h('div', { role: 'tablist', className: 'tabs small-tabs', 'aria-label': 'Step tabs' }, ...tabs),
    h('div', { role: 'tabpanel', id: `step-panel-${state.stepTab}`, 'aria-labelledby': `step-tab-${state.stepTab}` }, body),
    h(
      'div',
      { className: 'row-actions' },
      h('button', { type: 'button', className: 'small', disabled: i === 0, onclick: () => move(-1) }, 'Move up'),
      h(
        'button',
        { type: 'button', className: 'small', disabled: i === state.draft.steps.length - 1, onclick: () => move(1) },
        'Move down',
      ),
      h('button', { type: 'button', className: 'small danger', disabled: state.draft.steps.length === 1, onclick: remove }, 'Remove step'),
    ),
  );
}

function stepPermissions(ui: DesignerUi, step: ProcessStep, i: number): HTMLElement {
  const { state } = ui;
  const idAttr = `step-${i}-execute-as`;
  const isForm = step.type === 'form';
  const implicit = state.draft.kind === 'user' ? '(the user who runs the process)' : "(the process's connection / the default connection)";
  const control = selectControl(
    idAttr,
    path('steps', i, 'permissions', 'executeAs'),
    connectionChoices(state, implicit, step.permissions?.executeAs),
    step.permissions?.executeAs ?? '',
    (v) => {
      if (v) step.permissions = { executeAs: v };
      else delete step.permissions;
      ui.changed();
      // The step list says who each step executes as; this panel stays as it is.
      ui.refresh('steps');
    },
    isForm ? { disabled: true, 'aria-describedby': `${idAttr}-note` } : {},
  );
  return h(
    'div',
    { className: 'step-permissions' },
    labelled(idAttr, 'Execute as', control),
    isForm
      ? h('p', { id: `${idAttr}-note`, className: 'note' }, FORM_STEP_NOTE)
      : h(
          'p',
          { className: 'muted' },
          state.draft.kind === 'user'
            ? 'Choose a connection to run this step with its permissions instead of the permissions of the person who runs the process.'
            : 'Choose a connection to run this step as; otherwise it runs as the Run as connection of the process, or the default connection.',
        ),
  );
}
