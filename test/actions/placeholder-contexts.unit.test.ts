/** Where a placeholder's value lands decides how it is written: Graph URL segments and query values, HTML bodies. */
import { getAction, validateActionInputs } from '../../src/actions';
import { graphPath } from '../../src/actions/graph-client';
import { renderActionInputs, renderInputs, TemplateError } from '../../src/actions/templates';
import { productEvent } from './fixture';

const graphRequest = getAction('graphRequest')!;
const sendMail = getAction('sendMail')!;
const withData = (data: Record<string, unknown>, subject = productEvent().subject) => productEvent({ data, subject });

function problemsOf(render: () => unknown): string[] {
  try {
    render();
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateError);
    return (e as TemplateError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('expected a TemplateError');
}

describe('graphUrl context', () => {
  const render = (path: string, data: Record<string, unknown>) =>
    renderActionInputs(graphRequest, { method: 'GET', path }, { event: withData(data) }).path;

  it('percent-encodes each value as (part of) one segment, keeping the , and @ of Graph ids', () => {
    expect(render('/sites/{{event.data.site}}/lists/{{event.data.list}}', { site: 'contoso.sharepoint.com,a b', list: 'Ä&=+$' })).toBe(
      '/sites/contoso.sharepoint.com,a%20b/lists/%C3%84%26%3D%2B%24',
    );
    expect(render('/users/{{event.data.upn}}/messages', { upn: 'ann@contoso.test' })).toBe('/users/ann@contoso.test/messages');
    expect(render('/items/v{{event.data.n}}', { n: 42 })).toBe('/items/v42');
  });

  it("writes values after the template's ? as one query value each, with ' doubled as in OData string literals", () => {
    expect(render("/me/messages?$filter=subject eq '{{event.data.s}}'&$top={{event.data.n}}", { s: "a&b=c#d?e/f'", n: 5 })).toBe(
      "/me/messages?$filter=subject eq 'a%26b%3Dc%23d%3Fe%2Ff'''&$top=5",
    );
  });

  it.each([
    ['root/drive/items/01SECRETFILEID?x=', '"/", which would add a path segment'],
    ['a\\b', '"\\\\", which would add a path segment'],
    ['7?$expand=x', '"?", which would start a query'],
    ['x#y', '"#", which would start a fragment'],
    ['a%2Fb', '"%", which would be decoded as a percent escape'],
    ['contoso.sharepoint.com:', '":", which would switch Graph to path-based addressing'],
    ["getByTitle('x')", 'which would make an OData function call or key'],
    ['a\nb', 'is a control character'],
    ['..', 'is a relative path segment (. or ..)'],
    ['.', 'is a relative path segment (. or ..)'],
  ])('refuses %j in a path segment, naming the placeholder and why (never the value)', (value, why) => {
    const problems = problemsOf(() => render('/sites/{{event.data.v}}/lists', { v: value }));
    expect(problems).toEqual([expect.stringContaining(`path: the value of {{event.data.v}} contains`.slice(0, 20))]);
    expect(problems[0]).toContain(why);
    expect(problems[0]).toContain("the template's text gives the path its structure");
    if (value.length > 2) expect(problems[0]).not.toContain(value);
  });

  it('refuses objects and lists; a whole-path placeholder is still only one segment', () => {
    expect(problemsOf(() => render('/x/{{event.data.o}}', { o: { a: 1 } }))).toEqual([
      'path: {{event.data.o}} is an object; a URL takes text or a number',
    ]);
    expect(problemsOf(() => render('/x/{{event.data.o}}', { o: [1] }))).toEqual([
      'path: {{event.data.o}} is a list; a URL takes text or a number',
    ]);
    expect(render('{{event.data.p}}', { p: 'me' })).toBe('me');
    expect(problemsOf(() => render('{{event.data.p}}', { p: '/me/drive' }))[0]).toContain('would add a path segment');
  });

  it('leaves other inputs and other actions as plain text', () => {
    const inputs = renderActionInputs(
      graphRequest,
      { method: 'POST', path: '/me/x', body: { note: '{{event.data.v}}' } },
      { event: withData({ v: 'a/b?c' }) },
    );
    expect(inputs.body).toEqual({ note: 'a/b?c' });
    expect(renderInputs({ path: '/x/{{event.data.v}}' }, { event: withData({ v: 'a/b' }) })).toEqual({ path: '/x/a/b' });
  });

  it('graphPath (changeStage, updateFields) refuses the same values in event subjects', () => {
    expect(() => graphPath`/sites/${'contoso.sharepoint.com:'}/lists`).toThrow(/path-based addressing/);
    expect(() => graphPath`/sites/${'root/drive'}/lists`).toThrow(/would add a path segment/);
    expect(graphPath`/sites/${'contoso.sharepoint.com,1,2'}/lists/${'a b'}`).toBe('/sites/contoso.sharepoint.com,1,2/lists/a%20b');
  });
});

describe('html context (sendMail)', () => {
  const body = '<p>{{event.data.t}}</p><a href="https://contoso.test/items/{{event.subject.itemId}}">open</a>';
  const render = (contentType: string | undefined, t: unknown) =>
    renderActionInputs(
      sendMail,
      { to: 'a@contoso.test', subject: 'S {{event.data.t}}', body, ...(contentType ? { contentType } : {}) },
      { event: withData({ t }) },
    );

  it("escapes values in an HTML body and keeps the template's markup", () => {
    expect(render('HTML', '<script>x</script> & "q"').body).toBe(
      '<p>&lt;script&gt;x&lt;&#47;script&gt; &amp; &quot;q&quot;</p><a href="https://contoso.test/items/42">open</a>',
    );
    expect(render('HTML', '<b>').subject).toBe('S <b>');
  });

  it('escapes a whole-body placeholder too, and leaves Text bodies as they are', () => {
    const inputs = renderActionInputs(
      sendMail,
      { to: 'a@contoso.test', subject: 's', body: '{{event.data.t}}', contentType: 'HTML' },
      { event: withData({ t: '<i>x</i>' }) },
    );
    expect(inputs.body).toBe('&lt;i&gt;x&lt;&#47;i&gt;');
    expect(render('Text', '<b>').body).toContain('<p><b></p>');
    expect(render(undefined, '<b>').body).toContain('<p><b></p>');
  });

  it('refuses a placeholder contentType when the process is saved', () => {
    expect(validateActionInputs('sendMail', { to: 'a@contoso.test', subject: 's', body: 'b', contentType: '{{event.data.ct}}' })).toEqual([
      { path: 'contentType', message: expect.stringContaining('cannot be a placeholder') },
    ]);
  });
});
