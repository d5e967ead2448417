import type { FormField } from './process-definition';
import type { ValidationError } from './process-validation';

/**
 * A submitted form value, as the run keeps it and `{{form.<stepId>.<field>}}` gives it; an optional field left
 * blank is null (empty text in a template), so a later step's placeholder for it still resolves.
 */
export type FormValue = string | number | boolean | null;

/** The longest text value: a run record holds every form of the run in one Table entity. */
export const maxTextValueChars = 4000;

const isoDate = /^(\d{4})-(\d{2})-(\d{2})$/;

function isCalendarDate(text: string): boolean {
  const m = isoDate.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}

/** Why `value` does not fit `field`, or undefined. Values are never quoted back: they may be personal data. */
function valueProblem(field: FormField, value: unknown): string | undefined {
  switch (field.type) {
    case 'text':
      if (typeof value !== 'string') return 'must be text';
      return value.length > (field.maxLength ?? maxTextValueChars)
        ? `must be at most ${field.maxLength ?? maxTextValueChars} characters`
        : undefined;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : 'must be a number';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'date':
      return typeof value === 'string' && isCalendarDate(value) ? undefined : 'must be a date as YYYY-MM-DD';
    case 'choice':
      return typeof value === 'string' && (field.options ?? []).includes(value) ? undefined : `must be one of the field's options`;
  }
}

const isBlank = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

/**
 * Checks submitted `values` against a form step's fields (or a user process's declared inputs): every required field
 * present, each value of its field's type (a choice one of its options), no field that is not declared. Answers the
 * values to keep (blank optional ones as null) or the problems as `{path: "<at>.<field>", message}`.
 */
export function validateFormValues(
  fields: readonly FormField[],
  values: Record<string, unknown>,
  at = 'values',
): { ok: true; values: Record<string, FormValue> } | { ok: false; errors: ValidationError[] } {
  const errors: ValidationError[] = [];
  const kept: Record<string, FormValue> = {};
  for (const name of Object.keys(values)) {
    if (!fields.some((f) => f.name === name))
      errors.push({ path: `${at}.${name}`, message: at === 'values' ? 'is not a field of this form' : 'is not an input of this process' });
  }
  for (const field of fields) {
    const value = Object.hasOwn(values, field.name) ? values[field.name] : undefined;
    if (isBlank(value)) {
      if (field.required) errors.push({ path: `${at}.${field.name}`, message: `"${field.label}" is required` });
      else kept[field.name] = null;
      continue;
    }
    const problem = valueProblem(field, value);
    if (problem) errors.push({ path: `${at}.${field.name}`, message: `"${field.label}" ${problem}` });
    else kept[field.name] = value as FormValue;
  }
  return errors.length ? { ok: false, errors } : { ok: true, values: kept };
}
