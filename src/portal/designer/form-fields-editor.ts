import type { FormField, ProcessStep } from '../api';
import { h } from '../dom';
import { labelled, selectControl, textInput } from './controls';
import { path, type DesignerUi } from './editor-state';

// The form field types of the user-process contract (src/processes/process-definition.ts formFieldSchema).
const fieldTypes = ['text', 'number', 'boolean', 'date', 'choice'] as const;

/** The fields of a form step: label, name, type, required, and for a choice its options. */
export function formFieldsEditor(ui: DesignerUi, step: ProcessStep, i: number): HTMLElement {
  // Read without writing: opening a step must not change the draft (it would show "Unsaved changes").
  const fields = step.fields ?? [];
  const redraw = () => {
    ui.changed();
    ui.refresh('panel');
  };
  const box = h(
    'fieldset',
    { className: 'form-fields', 'data-path': path('steps', i, 'fields'), tabindex: '-1' },
    h('legend', {}, 'Form fields'),
  );
  fields.forEach((f: FormField, fi) => {
    const at = path('steps', i, 'fields', fi);
    const idAttr = `step-${i}-field-${fi}`;
    const required = h('input', { type: 'checkbox', id: `${idAttr}-required`, checked: Boolean(f.required) });
    required.addEventListener('change', () => {
      if (required.checked) f.required = true;
      else delete f.required;
      ui.changed();
    });
    box.append(
      h(
        'div',
        { className: 'condition', role: 'group', 'aria-label': `Field ${fi + 1}: ${f.label}` },
        labelled(
          `${idAttr}-label`,
          'Label',
          textInput(`${idAttr}-label`, `${at}.label`, f.label, (v) => ((f.label = v), ui.changed())),
        ),
        labelled(
          `${idAttr}-name`,
          'Name',
          textInput(`${idAttr}-name`, `${at}.name`, f.name, (v) => ((f.name = v), ui.changed())),
        ),
        labelled(
          `${idAttr}-type`,
          'Type',
          selectControl(
            `${idAttr}-type`,
            `${at}.type`,
            fieldTypes.map((t) => ({ value: t, text: t })),
            f.type,
            (v) => {
              f.type = v as FormField['type'];
              if (v === 'choice') f.options ??= ['Yes', 'No'];
              else delete f.options;
              redraw();
            },
          ),
        ),
        f.type === 'choice'
          ? labelled(
              `${idAttr}-options`,
              'Options (comma-separated)',
              textInput(`${idAttr}-options`, `${at}.options`, (f.options ?? []).join(', '), (v) => {
                f.options = v
                  .split(',')
                  .map((x) => x.trim())
                  .filter(Boolean);
                ui.changed();
              }),
            )
          : null,
        h('div', { className: 'field checkbox' }, required, h('label', { for: `${idAttr}-required` }, 'Required')),
        h('button', { type: 'button', className: 'small', onclick: () => (fields.splice(fi, 1), redraw()) }, `Remove field ${fi + 1}`),
      ),
    );
  });
  box.append(
    h(
      'button',
      {
        type: 'button',
        className: 'small',
        onclick: () => ((step.fields ??= []).push({ name: `field${fields.length + 1}`, label: 'New field', type: 'text' }), redraw()),
      },
      'Add field',
    ),
  );
  return box;
}
