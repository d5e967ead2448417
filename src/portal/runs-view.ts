import { runTimeline } from './run-trace-view';
import type { Connection, FormField, ProcessRecord, Run, RunStep } from './api';
import type { ViewContext } from './connections-view';
import { h, replaceChildren, time } from './dom';
import { stepLabel } from './designer/editor-state';
import { announce, messageOf } from './notices';
import { RUN_STATUS, stepStatusOf } from './run-words';

export interface SignedInPerson {
  objectId?: string;
  username: string;
}

/**
 * The "Runs" view: recent runs, newest first, each step with its status and who executed it; filters by process and
 * by connection; a run waiting for a form shows the form to the person it waits for.
 */
export function createRunsView(ctx: ViewContext, me: SignedInPerson) {
  let processes = new Map<string, ProcessRecord>();
  let connections: Connection[] = [];
  let runs: Run[] = [];

  const refreshButton = h('button', { type: 'button', id: 'refresh-runs', onclick: () => void load(true) }, 'Refresh');
  const processFilter = h('select', { id: 'runs-process-filter' }, h('option', { value: '' }, 'All processes'));
  const connectionFilter = h('select', { id: 'runs-connection-filter' }, h('option', { value: '' }, 'Any connection'));
  processFilter.addEventListener('change', () => void load(true));
  connectionFilter.addEventListener('change', () => render());
  const list = h('div', { id: 'runs-list', 'aria-busy': 'false' });
  const element = h(
    'section',
    { className: 'panel', 'aria-labelledby': 'runs-heading' },
    h('div', { className: 'panel-head' }, h('h2', { id: 'runs-heading' }, 'Runs'), refreshButton),
    h(
      'p',
      { className: 'intro' },
      'Recent runs, newest first, with the account each step was executed as. Runs waiting for a person are marked and listed first.',
    ),
    h(
      'div',
      { className: 'filters', role: 'group', 'aria-label': 'Filter runs' },
      h('div', { className: 'field' }, h('label', { for: 'runs-process-filter' }, 'Process'), processFilter),
      h('div', { className: 'field' }, h('label', { for: 'runs-connection-filter' }, 'Executed as connection'), connectionFilter),
    ),
    list,
  );

  async function load(announceResult = false): Promise<void> {
    list.setAttribute('aria-busy', 'true');
    refreshButton.disabled = true;
    try {
      const [runList, processList, connectionList] = await Promise.all([
        ctx.api.listRuns({ processId: processFilter.value || undefined }),
        ctx.api.listProcesses().catch(() => [...processes.values()]),
        ctx.api.listConnections().catch(() => connections),
      ]);
      runs = runList.sort(
        (a, b) => Number(b.status === 'waiting') - Number(a.status === 'waiting') || b.createdAt.localeCompare(a.createdAt),
      );
      processes = new Map(processList.map((p) => [p.id, p]));
      connections = connectionList;
      fillFilters();
      render();
      if (announceResult) announce(`Runs refreshed: ${runs.length === 1 ? '1 run' : `${runs.length} runs`}.`);
    } catch (e) {
      if (!ctx.handleAuthError(e)) announce(`The runs could not be loaded: ${messageOf(e)}`, 'error');
    } finally {
      list.setAttribute('aria-busy', 'false');
      refreshButton.disabled = false;
    }
  }

  function fillFilters(): void {
    const keep = (sel: HTMLSelectElement, first: string, options: [string, string][]) => {
      const value = sel.value;
      replaceChildren(
        sel,
        h('option', { value: '' }, first),
        ...options.map(([v, t]) => h('option', { value: v, selected: v === value }, t)),
      );
    };
    keep(
      processFilter,
      'All processes',
      [...processes.values()].map((p) => [p.id, p.draft.name || p.id]),
    );
    keep(
      connectionFilter,
      'Any connection',
      connections.map((c) => [c.id, `${c.displayName} (${c.account.username})`]),
    );
  }

  const processName = (id: string) => processes.get(id)?.draft.name ?? id;

  function render(): void {
    const byConnection = connectionFilter.value;
    const shown = byConnection
      ? runs.filter((r) => r.steps.some((s) => s.executedAs?.kind === 'connection' && s.executedAs.connectionId === byConnection))
      : runs;
    if (shown.length === 0) {
      replaceChildren(
        list,
        h(
          'p',
          { className: 'empty' },
          runs.length
            ? 'No run matches the filters.'
            : 'No runs yet. Runs appear here when a product event starts a published system process, or a person runs a user process.',
        ),
      );
      return;
    }
    replaceChildren(list, h('ol', { className: 'runs' }, ...shown.map(runItem)));
  }

  function runItem(run: Run): HTMLLIElement {
    const s = RUN_STATUS[run.status] ?? { icon: '?', text: run.status, tone: 'muted' };
    const titleId = `run-${run.id}`;
    const name = processName(run.processId);
    return h(
      'li',
      { className: `run run-${s.tone}`, 'aria-labelledby': titleId, 'data-run-id': run.id },
      h(
        'h3',
        { id: titleId },
        h('span', { className: 'process' }, name),
        h('span', { className: 'muted' }, ` version ${run.processVersion}`),
        ' ',
        h('span', { className: `badge badge-${s.tone}` }, `${s.icon} ${s.text}`),
      ),
      h(
        'p',
        { className: 'meta' },
        run.event?.type ? `Event ${run.event.type} · ` : run.initiatedBy?.username ? `Started by ${run.initiatedBy.username} · ` : '',
        'started ',
        time(run.createdAt),
        run.finishedAt ? [' · finished ', time(run.finishedAt)] : null,
        h('span', { className: 'run-id' }, ` · process ${run.processId} · run ${run.id}`),
      ),
      run.reason ? h('p', { className: 'reason' }, run.reason) : null,
      run.steps.length
        ? h('ol', { className: 'steps', 'aria-label': `Steps of ${name}` }, ...run.steps.map((step) => stepItem(run, step)))
        : h('p', { className: 'muted' }, 'No steps ran.'),
      waitingNote(run),
      runTimeline(ctx.api, run.id),
    );
  }

  /** What a run waits for, in words: a form (shown to its person), the initiator's fresh sign-in, or a later retry. */
  function waitingNote(run: Run): HTMLElement | null {
    const waiting = run.waitingFor;
    if (!waiting) return null;
    if ('stepId' in waiting) return run.status === 'waiting' ? waitingForm(run, waiting) : null;
    if (waiting.reason === 'user_session') {
      return h(
        'p',
        { className: 'waiting-note' },
        '⏸ Waiting for the person who started the run: their sign-in ran out before the next step. They continue it by resuming the run.',
      );
    }
    const retried = run.steps[waiting.stepIndex];
    const step = retried ? stepName(run, retried.id, retried.action) : `#${waiting.stepIndex + 1}`;
    return h(
      'p',
      { className: 'waiting-note' },
      `↻ Step “${step}” could not reach Microsoft's services; try ${waiting.attempt + 1} at `,
      time(waiting.nextAttemptAt),
      ' (retrying since ',
      time(waiting.since),
      ').',
    );
  }

  function stepItem(run: Run, step: RunStep): HTMLLIElement {
    const s = stepStatusOf(run, step);
    const who = step.executedAs;
    return h(
      'li',
      { className: `step step-${s.tone}` },
      h('span', { className: 'step-id' }, stepName(run, step.id, step.action)),
      ' ',
      h('span', { className: `badge badge-${s.tone}` }, `${s.icon} ${s.text}`),
      ' ',
      who
        ? h(
            'span',
            { className: 'executed-as' },
            'executed as ',
            h('strong', {}, who.username),
            who.kind === 'user' ? ' (the person who ran it)' : ' (connection)',
          )
        : ['skipped', 'pending', 'waiting'].includes(step.status)
          ? null
          : h('span', { className: 'muted' }, 'no connection'),
      step.error
        ? h('span', { className: 'step-detail error-text' }, step.error)
        : step.summary
          ? h('span', { className: 'step-detail' }, step.summary)
          : null,
    );
  }

  /** The form of the step a run waits for: its fields from the process version the run executes. */
  function waitingForm(run: Run, waiting: { stepId: string; userObjectId: string }): HTMLElement {
    const { stepId, userObjectId } = waiting;
    if (me.objectId && userObjectId !== me.objectId) {
      return h('p', { className: 'waiting-note' }, `⏸ Waiting for the person who started the run to fill in “${stepName(run, stepId)}”.`);
    }
    const fields = formFieldsOf(run, stepId);
    const prefix = `form-${run.id}-${stepId}`.replace(/[^A-Za-z0-9_-]/g, '-');
    const controls = fields.map((f) => {
      const id = `${prefix}-${f.name}`;
      const control =
        f.type === 'choice' && f.options?.length
          ? h(
              'select',
              { id, name: f.name, required: f.required },
              h('option', { value: '' }, '(choose)'),
              ...f.options.map((o) => h('option', { value: o }, o)),
            )
          : f.type === 'boolean'
            ? h('input', { id, name: f.name, type: 'checkbox' })
            : h('input', {
                id,
                name: f.name,
                type: f.type === 'number' ? 'number' : f.type === 'date' ? 'date' : 'text',
                required: f.required,
              });
      return {
        f,
        control,
        box: h('div', { className: 'field' }, h('label', { for: id }, `${f.label}${f.required ? ' (required)' : ''}`), control),
      };
    });
    const submit = h('button', { type: 'submit', className: 'primary' }, 'Submit');
    const form = h(
      'form',
      { className: 'waiting-form', 'aria-label': `Form “${stepName(run, stepId)}” of ${processName(run.processId)}` },
      h('p', { className: 'waiting-note' }, `⏸ This run waits for you: fill in “${stepName(run, stepId)}” to continue it.`),
      ...controls.map((c) => c.box),
      submit,
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const values: Record<string, unknown> = {};
      for (const { f, control } of controls) {
        const el = control as HTMLInputElement;
        values[f.name] = f.type === 'boolean' ? el.checked : f.type === 'number' && el.value !== '' ? Number(el.value) : el.value;
      }
      submit.disabled = true;
      try {
        await ctx.api.submitForm(run.id, stepId, values);
        announce(`Submitted “${stepName(run, stepId)}”: the run continues.`, 'success');
        await load();
      } catch (err) {
        submit.disabled = false;
        if (!ctx.handleAuthError(err)) announce(`The form could not be submitted: ${messageOf(err)}`, 'error');
      }
    });
    return form;
  }

  /** The definition a run executes, as near as the list has it: its published version, else the latest one, else the draft. */
  function definitionOf(run: Run) {
    const p = processes.get(run.processId);
    return p?.published && p.published.version === run.processVersion ? p.published.definition : (p?.published?.definition ?? p?.draft);
  }

  /** A step as people know it (its name or action), never by its generated id. */
  function stepName(run: Run, stepId: string, action?: string): string {
    const step = definitionOf(run)?.steps.find((s) => s.id === stepId);
    return stepLabel(step ?? { id: stepId, action });
  }

  function formFieldsOf(run: Run, stepId: string): FormField[] {
    const fields = definitionOf(run)?.steps.find((s) => s.id === stepId)?.fields;
    // Without the definition (a version no longer listed) one free-text field still lets the run continue.
    return fields?.length ? fields : [{ name: 'comment', label: 'Comment', type: 'text' }];
  }

  /** Shows one process's runs (after the person started one): the filters must not hide the run just started. */
  function focusProcess(processId: string): void {
    replaceChildren(
      processFilter,
      h('option', { value: '' }, 'All processes'),
      h('option', { value: processId, selected: true }, processName(processId)),
    );
    connectionFilter.value = '';
  }

  return { element, load, focusProcess };
}
