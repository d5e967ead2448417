import { h } from '../dom';

export interface Choice {
  value: string;
  text: string;
  disabled?: boolean;
}

/** A labelled field; the hint, when given, describes the control. */
export function labelled(idAttr: string, label: string, control: HTMLElement, hint?: string): HTMLElement {
  if (hint)
    control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), `${idAttr}-hint`].filter(Boolean).join(' '));
  return h(
    'div',
    { className: 'field' },
    h('label', { for: idAttr }, label),
    hint ? h('span', { className: 'hint', id: `${idAttr}-hint` }, hint) : null,
    control,
  );
}

/** A text box tagged with the draft path it edits; typing calls `onInput` and nothing is drawn again. */
export function textInput(
  idAttr: string,
  dataPath: string,
  value: string,
  onInput: (v: string) => void,
  attrs: Record<string, string | boolean> = {},
): HTMLInputElement {
  const input = h('input', { id: idAttr, type: 'text', value, 'data-path': dataPath, ...attrs });
  input.addEventListener('input', () => onInput(input.value));
  return input;
}

export function selectControl(
  idAttr: string,
  dataPath: string,
  options: Choice[],
  value: string,
  onChange: (v: string) => void,
  attrs: Record<string, string | boolean> = {},
): HTMLSelectElement {
  const el = h(
    'select',
    { id: idAttr, 'data-path': dataPath, ...attrs },
    ...options.map((o) => h('option', { value: o.value, selected: o.value === value, disabled: o.disabled }, o.text)),
  );
  el.addEventListener('change', () => onChange(el.value));
  return el;
}

/**
 * A JSON box. Typing parses it and reports the value or the problem; the page is never drawn again from here (a
 * redraw on `change` fired at the mousedown of the next click, which then landed on a replaced button and was lost).
 */
export function jsonArea(
  idAttr: string,
  dataPath: string,
  value: unknown,
  onValue: (v: unknown) => void,
  onProblem: (problem: string | undefined) => void,
): HTMLTextAreaElement {
  const area = h('textarea', { id: idAttr, 'data-path': dataPath, rows: 3, spellcheck: 'false' }, JSON.stringify(value, null, 2));
  area.addEventListener('input', () => {
    let problem: string | undefined;
    try {
      onValue(area.value.trim() ? JSON.parse(area.value) : undefined);
    } catch {
      problem = 'is not valid JSON';
    }
    onProblem(problem);
    showLocalProblem(area, problem);
  });
  return area;
}

/** Shows or removes the message of a local problem right after its control, in place. */
export function showLocalProblem(el: HTMLElement, problem: string | undefined): void {
  const id = `${el.id}-local-problem`;
  const existing = el.ownerDocument.getElementById(id);
  if (!problem) {
    existing?.remove();
    if (!el.nextElementSibling?.classList.contains('field-error')) el.removeAttribute('aria-invalid');
    el.setAttribute('aria-describedby', (el.getAttribute('aria-describedby') ?? '').replace(id, '').trim());
    if (!el.getAttribute('aria-describedby')) el.removeAttribute('aria-describedby');
    return;
  }
  el.setAttribute('aria-invalid', 'true');
  if (existing) existing.textContent = `⚠ ${problem}`;
  else {
    el.insertAdjacentElement('afterend', h('p', { className: 'field-error', id }, `⚠ ${problem}`));
    el.setAttribute('aria-describedby', [el.getAttribute('aria-describedby'), id].filter(Boolean).join(' '));
  }
}
