import type { FormField } from './api';
import { h } from './dom';

/** One rendered field: its box (label, control) and how to read its value. */
export interface FieldControl {
  field: FormField;
  box: HTMLElement;
  read(): unknown;
}

/**
 * Controls for form fields as the process declares them (a form step's fields, a user process's inputs), each tagged
 * with `data-path` (`values.<name>`, `inputs.<name>`) so a 422 names its field and FieldProblems shows the message there.
 */
export function fieldControls(fields: readonly FormField[], idPrefix: string, pathPrefix: string): FieldControl[] {
  return fields.map((f) => {
    const id = `${idPrefix}-${f.name}`.replace(/[^A-Za-z0-9_-]/g, '-');
    const common = { id, name: f.name, 'data-path': `${pathPrefix}.${f.name}`, required: f.required && f.type !== 'boolean' };
    let control: HTMLInputElement | HTMLSelectElement;
    if (f.type === 'choice') {
      control = h('select', common, h('option', { value: '' }, '(choose)'), ...(f.options ?? []).map((o) => h('option', { value: o }, o)));
    } else if (f.type === 'boolean') {
      control = h('input', { ...common, type: 'checkbox' });
    } else {
      control = h('input', {
        ...common,
        type: f.type === 'number' ? 'number' : f.type === 'date' ? 'date' : 'text',
        maxlength: f.maxLength,
      });
    }
    const label = `${f.label}${f.required ? ' (required)' : ''}`;
    const box =
      f.type === 'boolean'
        ? h('div', { className: 'field checkbox' }, control, h('label', { for: id }, label))
        : h('div', { className: 'field' }, h('label', { for: id }, label), control);
    const read = (): unknown => {
      if (control instanceof HTMLInputElement && control.type === 'checkbox') return control.checked;
      const v = control.value;
      if (f.type === 'number') return v === '' ? undefined : Number(v);
      return v === '' ? undefined : v;
    };
    return { field: f, box, read };
  });
}

/** The values of the controls that hold one (an empty optional field is left out, so the server sees it as not given). */
export function readValues(controls: readonly FieldControl[]): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const c of controls) {
    const v = c.read();
    if (v !== undefined) values[c.field.name] = v;
  }
  return values;
}
