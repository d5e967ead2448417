import { maxTextValueChars, validateFormValues } from '../../src/processes/form-values';
import type { FormField } from '../../src/processes/process-definition';
import { formFieldProblems } from '../../src/processes/process-validation';

const fields: FormField[] = [
  { name: 'comment', label: 'Comment', type: 'text', required: true },
  { name: 'amount', label: 'Amount', type: 'number' },
  { name: 'urgent', label: 'Urgent', type: 'boolean' },
  { name: 'due', label: 'Due date', type: 'date' },
  { name: 'decision', label: 'Decision', type: 'choice', options: ['Approve', 'Reject'], required: true },
];

describe('validateFormValues: a submission against the form step it answers', () => {
  test('values of the right types are kept; optional blanks become null so later placeholders still resolve', () => {
    expect(validateFormValues(fields, { comment: 'Fine', amount: 12.5, urgent: false, decision: 'Approve' })).toEqual({
      ok: true,
      values: { comment: 'Fine', amount: 12.5, urgent: false, due: null, decision: 'Approve' },
    });
  });

  test('each problem names its field; values are never echoed (they may be personal data)', () => {
    const result = validateFormValues(fields, {
      comment: '  ',
      amount: 'twelve',
      urgent: 'yes',
      due: '2025-02-30',
      decision: 'Maybe',
      extra: 'x',
    });
    expect(result).toEqual({
      ok: false,
      errors: [
        { path: 'values.extra', message: 'is not a field of this form' },
        { path: 'values.comment', message: '"Comment" is required' },
        { path: 'values.amount', message: '"Amount" must be a number' },
        { path: 'values.urgent', message: '"Urgent" must be true or false' },
        { path: 'values.due', message: '"Due date" must be a date as YYYY-MM-DD' },
        { path: 'values.decision', message: `"Decision" must be one of the field's options` },
      ],
    });
    expect(JSON.stringify(result)).not.toContain('twelve');
  });

  test('text is bounded, so a run record keeps every form', () => {
    const long = validateFormValues(fields, { comment: 'x'.repeat(maxTextValueChars + 1), decision: 'Reject' });
    expect(long).toMatchObject({ ok: false, errors: [{ path: 'values.comment' }] });
    expect(validateFormValues(fields, { comment: 'x'.repeat(maxTextValueChars), decision: 'Reject' })).toMatchObject({ ok: true });
  });

  test('numbers must be finite and dates real calendar dates', () => {
    expect(validateFormValues(fields, { comment: 'a', decision: 'Reject', amount: Infinity })).toMatchObject({ ok: false });
    expect(validateFormValues(fields, { comment: 'a', decision: 'Reject', due: '2024-02-29' })).toMatchObject({ ok: true });
    expect(validateFormValues(fields, { comment: 'a', decision: 'Reject', due: '2024-02-29T00:00:00Z' })).toMatchObject({ ok: false });
  });

  test('a field named like an Object property is an ordinary field, not a way into the prototype', () => {
    expect(validateFormValues(fields, JSON.parse('{"comment":"a","decision":"Reject","__proto__":{"x":1}}'))).toEqual({
      ok: false,
      errors: [{ path: 'values.__proto__', message: 'is not a field of this form' }],
    });
  });
});

describe('formFieldProblems: a form step as saved', () => {
  test('needs a field, unique names, and options exactly on choice fields', () => {
    expect(formFieldProblems([], 'steps[0].fields')).toEqual([
      { path: 'steps[0].fields', message: 'a form step needs at least one field' },
    ]);
    expect(
      formFieldProblems(
        [
          { name: 'a', label: 'A', type: 'choice' },
          { name: 'a', label: 'A again', type: 'text', options: ['x'] },
          { name: 'b', label: 'B', type: 'choice', options: ['x', 'x'] },
        ],
        'f',
      ),
    ).toEqual([
      { path: 'f[0].options', message: 'a choice field needs options' },
      { path: 'f[1].name', message: 'duplicate field name "a"' },
      { path: 'f[1].options', message: 'only choice fields have options' },
      { path: 'f[2].options', message: 'options must be different from each other' },
    ]);
  });
});
