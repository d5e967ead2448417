import { h } from '../dom';
import { triggerEvents as eventTypes } from '../action-catalogue';
import { connectionChoices } from './connection-choices';
import { labelled, selectControl, textInput } from './controls';
import { path, type DesignerUi } from './editor-state';

const conditionOps = ['eq', 'ne', 'in', 'exists'] as const;
const OP_WORDS: Record<(typeof conditionOps)[number], string> = {
  eq: 'equals',
  ne: 'does not equal',
  in: 'is one of',
  exists: 'has a value',
};

/** The process as a whole: its name, and for system processes the Run as connection and the triggers. */
export function processSettings(ui: DesignerUi): HTMLElement {
  const { draft } = ui.state;
  const name = textInput(
    'process-name',
    'name',
    draft.name,
    (v) => {
      draft.name = v;
      ui.changed();
    },
    { required: true, maxlength: '200' },
  );
  const fieldset = h(
    'fieldset',
    { className: 'process-settings' },
    h('legend', {}, 'Process'),
    labelled('process-name', 'Process name', name),
  );
  if (draft.kind !== 'system') return fieldset;
  const runAs = selectControl(
    'process-run-as',
    'runAs',
    connectionChoices(ui.state, '(the default connection)', draft.runAs),
    draft.runAs ?? '',
    (v) => {
      if (v) draft.runAs = v;
      else delete draft.runAs;
      ui.changed();
    },
  );
  fieldset.append(
    labelled('process-run-as', 'Run as', runAs, 'The connection action steps run as unless a step says otherwise.'),
    triggersEditor(ui),
  );
  return fieldset;
}

function triggersEditor(ui: DesignerUi): HTMLElement {
  // Read without writing: drawing must not change the draft (it would show "Unsaved changes").
  const { draft } = ui.state;
  const triggers = draft.triggers ?? [];
  const redraw = () => {
    ui.changed();
    ui.refresh('settings');
  };
  const box = h('div', { className: 'triggers', 'data-path': 'triggers', tabindex: '-1' }, h('h3', {}, 'Triggers'));
  triggers.forEach((t, ti) => {
    const conditions = t.conditions ?? [];
    const event = selectControl(
      `trigger-${ti}-event`,
      path('triggers', ti, 'event'),
      eventTypes.map((e) => ({ value: e, text: e })),
      t.event,
      (v) => {
        t.event = v as typeof t.event;
        ui.changed();
      },
    );
    const tBox = h(
      'fieldset',
      { className: 'trigger' },
      h('legend', {}, `Trigger ${ti + 1}`),
      labelled(`trigger-${ti}-event`, 'Event', event),
    );
    conditions.forEach((c, ci) => {
      const at = path('triggers', ti, 'conditions', ci);
      const valueText = Array.isArray(c.value) ? c.value.join(', ') : String(c.value ?? '');
      tBox.append(
        h(
          'div',
          { className: 'condition', role: 'group', 'aria-label': `Condition ${ci + 1} of trigger ${ti + 1}` },
          labelled(
            `${at}-path`,
            'Event value',
            textInput(`${at}-path`, `${at}.path`, c.path, (v) => ((c.path = v), ui.changed()), { placeholder: 'event.data.contentType' }),
          ),
          labelled(
            `${at}-op`,
            'Test',
            selectControl(
              `${at}-op`,
              `${at}.op`,
              conditionOps.map((o) => ({ value: o, text: OP_WORDS[o] })),
              c.op,
              (v) => {
                c.op = v as typeof c.op;
                // Only the value box depends on the test: "has a value" has none, "is one of" takes a list.
                redraw();
              },
            ),
          ),
          c.op === 'exists'
            ? null
            : labelled(
                `${at}-value`,
                c.op === 'in' ? 'Values (comma-separated)' : 'Value',
                textInput(`${at}-value`, `${at}.value`, valueText, (v) => {
                  c.value =
                    c.op === 'in'
                      ? v
                          .split(',')
                          .map((x) => x.trim())
                          .filter(Boolean)
                      : v;
                  ui.changed();
                }),
              ),
          h(
            'button',
            { type: 'button', className: 'small', onclick: () => (conditions.splice(ci, 1), redraw()) },
            `Remove condition ${ci + 1}`,
          ),
        ),
      );
    });
    tBox.append(
      h(
        'div',
        { className: 'row-actions' },
        h(
          'button',
          {
            type: 'button',
            className: 'small',
            onclick: () => ((t.conditions ??= []).push({ path: 'event.data.', op: 'eq', value: '' }), redraw()),
          },
          'Add condition',
        ),
        h('button', { type: 'button', className: 'small', onclick: () => (triggers.splice(ti, 1), redraw()) }, `Remove trigger ${ti + 1}`),
      ),
    );
    box.append(tBox);
  });
  box.append(
    h(
      'button',
      {
        type: 'button',
        className: 'small',
        onclick: () => ((draft.triggers ??= []).push({ event: 'ItemCreated', conditions: [] }), redraw()),
      },
      'Add trigger',
    ),
  );
  return box;
}
