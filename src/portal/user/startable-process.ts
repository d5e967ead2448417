import type { ConnectionsApi, ProcessSummary } from '../api';
import { ApiError, fieldProblemsIn } from '../api';
import { h } from '../dom';
import { FieldProblems } from '../field-problems';
import { fieldControls, readValues } from '../form-controls';
import { announce, messageOf } from '../notices';

export interface UserContext {
  api: ConnectionsApi;
  handleAuthError(e: unknown): boolean;
}

/** "as you" or "as <connection>": who a step of a user process runs as, in the words the person reads. */
export const asWhom = (step: ProcessSummary['steps'][number]) => (step.elevated ? `as ${step.as}` : 'as you');

/**
 * One published user process a person may start: its name and description, what each step will do and as whom, and
 * a Start form (the item, and the inputs the process declares). A refusal is shown at the fields it names.
 */
export function startableProcess(ctx: UserContext, p: ProcessSummary, started: (runId: string) => void): HTMLElement {
  const prefix = `start-${p.id}`;
  const headingId = `${prefix}-heading`;
  const subject = (['siteId', 'listId', 'itemId'] as const).map((k) =>
    h('input', { id: `${prefix}-${k}`, type: 'text', 'data-path': `subject.${k}`, required: true, autocomplete: 'off' }),
  );
  const inputs = fieldControls(p.inputs, `${prefix}-input`, 'inputs');
  const problems = new FieldProblems();
  const submit = h('button', { type: 'submit', className: 'primary' }, `Start “${p.name}”`);
  const fields = h(
    'div',
    { className: 'start-fields' },
    h(
      'div',
      { className: 'inline-fields' },
      labelled(`${prefix}-siteId`, 'Site id', subject[0]),
      labelled(`${prefix}-listId`, 'List id', subject[1]),
      labelled(`${prefix}-itemId`, 'Item id', subject[2]),
    ),
    ...inputs.map((c) => c.box),
  );
  const form = h(
    'form',
    { className: 'start-form', 'aria-labelledby': headingId, novalidate: true },
    h('h4', {}, 'Start it on an item'),
    fields,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearProblems(fields);
    submit.disabled = true;
    try {
      const [siteId, listId, itemId] = subject.map((x) => x.value.trim());
      const values = readValues(inputs);
      const { runId } = await ctx.api.startRun(p.id, { siteId, listId, itemId }, inputs.length ? values : undefined);
      announce(`Started “${p.name}”. It is listed under My runs.`, 'success');
      started(runId);
    } catch (err) {
      if (ctx.handleAuthError(err)) return;
      const found = err instanceof ApiError ? fieldProblemsIn(err.body) : [];
      problems.set(found);
      const unplaced = problems.attach(fields);
      announce(
        `“${p.name}” was not started: ${found.length ? `${found.length === 1 ? '1 problem' : `${found.length} problems`}, shown at the fields` : messageOf(err)}${unplaced.length ? ` (${unplaced.map((x) => x.message).join('; ')})` : ''}.`,
        'error',
      );
      fields.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
    } finally {
      submit.disabled = false;
    }
  });
  return h(
    'li',
    { className: 'startable', 'data-process-id': p.id },
    h('h3', { id: headingId }, p.name),
    p.description ? h('p', {}, p.description) : null,
    h(
      'ol',
      { className: 'summary', 'aria-label': `What “${p.name}” does` },
      ...p.steps.map((s) =>
        h(
          'li',
          { className: s.elevated ? 'elevated' : '' },
          h('strong', {}, s.name ?? s.action ?? s.id),
          ` ${s.target} `,
          h('span', { className: `badge ${s.elevated ? 'badge-warning' : 'badge-info'}` }, asWhom(s)),
        ),
      ),
    ),
    form,
  );
}

function labelled(id: string, label: string, control: HTMLElement): HTMLElement {
  return h('div', { className: 'field' }, h('label', { for: id }, label), control);
}

/** Removes the marks of an earlier refusal. */
export function clearProblems(root: HTMLElement): void {
  root.querySelectorAll('.field-error').forEach((el) => el.remove());
  root.querySelectorAll('[aria-invalid]').forEach((el) => {
    el.removeAttribute('aria-invalid');
    el.removeAttribute('aria-describedby');
  });
}
