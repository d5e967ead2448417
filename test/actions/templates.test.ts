import { ActionError } from '../../src/actions/action';
import { renderInputs, templatePaths, templateProblems, TemplateError } from '../../src/actions/templates';
import { productEvent } from './fixture';

const event = productEvent({
  data: { Stage: 'Draft', amount: 1250, approved: false, note: null, owner: { name: 'Ann' }, tags: ['a', 'b'] },
});
const render = (inputs: unknown) => renderInputs(inputs, { event });

describe('renderInputs', () => {
  it('fills placeholders in strings, deep, and keeps everything else', () => {
    expect(
      render({
        stage: 'Review of {{event.subject.itemId}} ({{ event.data.Stage }})',
        fields: { Amount: '{{event.data.amount}}', Fixed: 7, Flag: true, Nothing: null },
        to: ['{{event.data.owner.name}}@contoso.test', 'x@contoso.test'],
        tenant: '{{event.tenantId}}',
      }),
    ).toEqual({
      stage: 'Review of 42 (Draft)',
      fields: { Amount: 1250, Fixed: 7, Flag: true, Nothing: null },
      to: ['Ann@contoso.test', 'x@contoso.test'],
      tenant: event.tenantId,
    });
  });

  it('keeps the type of a whole-string placeholder and copies objects', () => {
    const out = render({
      n: '{{event.data.amount}}',
      b: '{{event.data.approved}}',
      nil: '{{event.data.note}}',
      o: '{{event.data.owner}}',
      t: '{{event.data.tags.1}}',
    }) as Record<string, unknown>;
    expect(out).toEqual({ n: 1250, b: false, nil: null, o: { name: 'Ann' }, t: 'b' });
    (out.o as { name: string }).name = 'changed';
    expect((event.data.owner as { name: string }).name).toBe('Ann');
  });

  it('writes values as text inside longer strings', () => {
    expect(render('{{event.data.amount}} / {{event.data.approved}} / [{{event.data.note}}] / {{event.data.owner}}')).toBe(
      '1250 / false / [] / {"name":"Ann"}',
    );
  });

  it('lists every unknown path with where it was used', () => {
    let error: unknown;
    try {
      render({ a: '{{event.data.missing}}', b: ['x {{event.subject.nope}}'], c: '{{event.data.Stage}}' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TemplateError);
    expect(error).toBeInstanceOf(ActionError);
    expect((error as ActionError).kind).toBe('permanent');
    expect((error as TemplateError).problems).toEqual([
      { path: 'a', message: 'unknown path {{event.data.missing}}' },
      { path: 'b[0]', message: 'unknown path {{event.subject.nope}}' },
    ]);
    expect((error as Error).message).toContain('event.data.missing');
    expect((error as Error).message).toContain('event.subject.nope');
  });

  it.each([
    ['{{event.__proto__}}'],
    ['{{event.constructor}}'],
    ['{{event.data.__proto__.polluted}}'],
    ['{{event.data.constructor.name}}'],
    ['{{event.data.tags.length}}'],
    ['{{event.data.Stage.length}}'],
    ['{{event.id.toString}}'],
    ['{{process.env.HOME}}'],
    ['{{event["data"]}}'],
    ['{{event.data.amount + 1}}'],
    ['{{ }}'],
    ['{{event..data}}'],
  ])('refuses %s: no code, no prototype or built-in properties', (template) => {
    expect(() => render({ x: template })).toThrow(TemplateError);
  });

  it('never consults prototypes, even with a polluted Object.prototype', () => {
    (Object.prototype as Record<string, unknown>).leaked = 'oops';
    try {
      expect(() => render('{{event.data.leaked}}')).toThrow(TemplateError);
    } finally {
      delete (Object.prototype as Record<string, unknown>).leaked;
    }
  });

  it('keeps a __proto__ input key an ordinary key', () => {
    const inputs = JSON.parse('{"__proto__": {"polluted": "{{event.data.Stage}}"}}') as unknown;
    const out = render(inputs) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('leaves text without placeholders and lone braces alone', () => {
    expect(render({ a: 'plain', b: 'a { b } {{ c', c: 3 })).toEqual({ a: 'plain', b: 'a { b } {{ c', c: 3 });
  });
});

describe('templatePaths and templateProblems', () => {
  it('lists placeholder paths', () => {
    expect(templatePaths({ a: 'x {{ event.subject.itemId }} {{event.data.Stage}}', b: ['{{event.tenantId}}'] })).toEqual([
      'event.subject.itemId',
      'event.data.Stage',
      'event.tenantId',
    ]);
  });

  it('accepts known event fields and any event.data path, and names the bad ones', () => {
    expect(
      templateProblems({ ok: '{{event.subject.siteId}} {{event.data.Anything.deep}} {{event.causedBy.runId}} {{event.occurredAt}}' }),
    ).toEqual([]);
    expect(templateProblems({ a: '{{event.subject.bogus}}', b: { c: '{{event.foo}}' }, d: '{{env.X}}', e: '{{event}}' })).toEqual([
      { path: 'a', message: 'unknown path {{event.subject.bogus}}' },
      { path: 'b.c', message: 'unknown path {{event.foo}}' },
      { path: 'd', message: '"env.X" must start with "event." or "form."' },
      { path: 'e', message: '{{event}} names the whole event; name a field such as event.subject.itemId' },
    ]);
  });
});
