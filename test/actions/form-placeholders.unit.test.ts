import { renderActionInputs, renderInputs, TemplateError, templateProblems } from '../../src/actions/templates';
import { getAction } from '../../src/actions';

const event = { subject: { siteId: 's', listId: 'l', itemId: '7' }, data: {} };
const form = { details: { comment: 'Looks <b>fine</b>', amount: 3, note: null } };

describe('{{form.<stepId>.<field>}}: values a user submitted in an earlier form step', () => {
  test('fill inputs like event values: a whole placeholder keeps its type, inside text it is text', () => {
    expect(
      renderInputs({ a: '{{form.details.amount}}', b: 'Comment: {{form.details.comment}}', c: '[{{form.details.note}}]' }, { event, form }),
    ).toEqual({
      a: 3,
      b: 'Comment: Looks <b>fine</b>',
      c: '[]',
    });
  });

  test('are escaped where they land in HTML, like every placeholder value', () => {
    const mail = getAction('sendMail')!;
    const rendered = renderActionInputs(
      mail,
      { to: ['a@contoso.test'], subject: 's', body: '<p>{{form.details.comment}}</p>', contentType: 'HTML' },
      { event, form },
    );
    expect(rendered.body).toBe('<p>Looks &lt;b&gt;fine&lt;&#47;b&gt;</p>');
  });

  test('a form not submitted (or a field it does not have) is an unknown path, as for events', () => {
    expect(() => renderInputs({ a: '{{form.approval.decision}}' }, { event, form })).toThrow(TemplateError);
    expect(() => renderInputs({ a: '{{form.details.missing}}' }, { event })).toThrow('unknown path {{form.details.missing}}');
  });

  test('are checked on save for their shape: a step id and one field', () => {
    expect(templateProblems({ a: '{{form.details.comment}}' })).toEqual([]);
    expect(templateProblems({ a: '{{form.details}}', b: '{{form.details.comment.x}}', c: '{{form.__proto__.x}}' })).toEqual([
      { path: 'a', message: '{{form.details}} must name a form step and one of its fields: form.<stepId>.<field>' },
      { path: 'b', message: '{{form.details.comment.x}} must name a form step and one of its fields: form.<stepId>.<field>' },
      { path: 'c', message: '"form.__proto__.x" uses the reserved name "__proto__"' },
    ]);
  });
});
