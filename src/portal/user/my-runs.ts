import { ApiError, fieldProblemsIn, type ProcessSummary, type Run } from '../api';
import { h, replaceChildren, time } from '../dom';
import { FieldProblems } from '../field-problems';
import { fieldControls, readValues } from '../form-controls';
import { announce, messageOf } from '../notices';
import { RUN_STATUS, stepStatusOf } from '../run-words';
import { asWhom, clearProblems, type UserContext } from './startable-process';

/**
 * "My runs": the person's own runs, those waiting for them first. A run waiting for a form shows that form (its fields
 * as the run's version defines them); a run whose sign-in ran out offers to continue it; each step says as whom it ran.
 */
export function myRuns(ctx: UserContext, runs: Run[], processes: Map<string, ProcessSummary>, reload: () => Promise<void>): HTMLElement {
  if (!runs.length) return h('p', { className: 'empty' }, 'You have not started a process yet.');
  const sorted = [...runs].sort((a, b) => Number(waitsForMe(b)) - Number(waitsForMe(a)) || b.createdAt.localeCompare(a.createdAt));
  return h('ol', { className: 'runs my-runs' }, ...sorted.map((run) => runItem(ctx, run, processes.get(run.processId), reload)));
}

const waitsForMe = (run: Run) => run.status === 'waiting' || run.waitingFor?.kind === 'user_session';

function runItem(ctx: UserContext, run: Run, process: ProcessSummary | undefined, reload: () => Promise<void>): HTMLElement {
  const s = RUN_STATUS[run.status];
  const name = process?.name ?? run.processId;
  const titleId = `my-run-${run.id}`;
  const stepOf = (id: string) => process?.steps.find((x) => x.id === id);
  const item = h(
    'li',
    { className: `run run-${s.tone}`, 'aria-labelledby': titleId, 'data-run-id': run.id },
    h(
      'h3',
      { id: titleId },
      h('span', { className: 'process' }, name),
      ' ',
      h('span', { className: `badge badge-${s.tone}` }, `${s.icon} ${s.text}`),
    ),
    h('p', { className: 'meta' }, 'Started ', time(run.createdAt), run.finishedAt ? [' · finished ', time(run.finishedAt)] : null),
    run.reason ? h('p', { className: 'reason' }, run.reason) : null,
    h(
      'ol',
      { className: 'steps', 'aria-label': `Steps of ${name}` },
      ...run.steps.map((step) => {
        const st = stepStatusOf(run, step);
        const planned = stepOf(step.id);
        const who =
          step.executedAs?.kind === 'user'
            ? 'as you'
            : step.executedAs
              ? `as ${planned?.as ?? step.executedAs.username}`
              : planned
                ? asWhom(planned)
                : '';
        return h(
          'li',
          { className: `step step-${st.tone}` },
          h('span', { className: 'step-id' }, planned?.name ?? step.action ?? step.id),
          ' ',
          h('span', { className: `badge badge-${st.tone}` }, `${st.icon} ${st.text}`),
          who ? h('span', { className: 'executed-as' }, ` ${who}`) : null,
          step.error ? h('span', { className: 'step-detail error-text' }, step.error) : null,
        );
      }),
    ),
  );
  if (run.status === 'waiting' && run.waitingFor?.kind === 'form') {
    const slot = h('div', { className: 'waiting-slot', 'aria-busy': 'true' }, h('p', { className: 'muted' }, 'Loading the form…'));
    item.append(slot);
    void ctx.api.waitingForm(run.id).then(
      (form) => {
        slot.setAttribute('aria-busy', 'false');
        replaceChildren(slot, waitingForm(ctx, run, form, name, reload));
      },
      (e: unknown) => {
        slot.setAttribute('aria-busy', 'false');
        replaceChildren(slot);
        if (!ctx.handleAuthError(e)) announce(`The form of “${name}” could not be loaded: ${messageOf(e)}`, 'error');
      },
    );
  } else if (run.waitingFor?.kind === 'user_session') {
    const button = h('button', { type: 'button', className: 'primary' }, `Continue “${name}”`);
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await ctx.api.resume(run.id);
        announce(`“${name}” continues with your new sign-in.`, 'success');
        await reload();
      } catch (e) {
        button.disabled = false;
        if (!ctx.handleAuthError(e)) announce(`“${name}” could not continue: ${messageOf(e)}`, 'error');
      }
    });
    item.append(
      h(
        'p',
        { className: 'waiting-note' },
        '⏸ Your sign-in ran out before the next step. Continue the run now that you are signed in again.',
      ),
      button,
    );
  }
  return item;
}

function waitingForm(
  ctx: UserContext,
  run: Run,
  form: Awaited<ReturnType<UserContext['api']['waitingForm']>>,
  processName: string,
  reload: () => Promise<void>,
): HTMLElement {
  const title = form.name ?? 'Form';
  const controls = fieldControls(form.fields, `form-${run.id}-${form.stepId}`, 'values');
  const problems = new FieldProblems();
  const submit = h('button', { type: 'submit', className: 'primary' }, 'Submit');
  const fields = h('div', { className: 'form-fields' }, ...controls.map((c) => c.box));
  const el = h(
    'form',
    { className: 'waiting-form', 'aria-label': `${title} of ${processName}`, novalidate: true },
    h('p', { className: 'waiting-note' }, `⏸ This run waits for you: fill in “${title}” to continue it.`),
    fields,
    submit,
  );
  el.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearProblems(fields);
    submit.disabled = true;
    try {
      await ctx.api.submitForm(run.id, form.stepId, readValues(controls));
      announce(`Submitted “${title}”: the run continues.`, 'success');
      await reload();
    } catch (err) {
      submit.disabled = false;
      if (ctx.handleAuthError(err)) return;
      const found = err instanceof ApiError ? fieldProblemsIn(err.body) : [];
      problems.set(found);
      problems.attach(fields);
      announce(
        `“${title}” was not submitted: ${found.length ? `${found.length === 1 ? '1 problem' : `${found.length} problems`}, shown at the fields.` : messageOf(err)}`,
        'error',
      );
      fields.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
    }
  });
  return el;
}
