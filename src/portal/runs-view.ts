import type { Run, RunStep } from './api';
import { h, replaceChildren, time } from './dom';
import { announce, messageOf } from './notices';
import type { ViewContext } from './connections-view';

const RUN_STATUS: Record<Run['status'], { icon: string; text: string; tone: string }> = {
  succeeded: { icon: '✓', text: 'Succeeded', tone: 'ok' },
  failed: { icon: '✗', text: 'Failed', tone: 'error' },
  running: { icon: '…', text: 'Running', tone: 'info' },
  waiting: { icon: '⏸', text: 'Waiting', tone: 'info' },
  not_started: { icon: '–', text: 'Not started', tone: 'muted' },
};
const STEP_STATUS: Record<RunStep['status'], { icon: string; tone: string }> = {
  succeeded: { icon: '✓', tone: 'ok' },
  failed: { icon: '✗', tone: 'error' },
  running: { icon: '…', tone: 'info' },
  pending: { icon: '○', tone: 'muted' },
  waiting: { icon: '⏸', tone: 'info' },
  skipped: { icon: '–', tone: 'muted' },
};

/** The "Runs" view: recent runs, newest first, each step with its status and the account it was executed as. */
export function createRunsView(ctx: ViewContext) {
  const refreshButton = h('button', { type: 'button', id: 'refresh-runs', onclick: () => void load(true) }, 'Refresh');
  const list = h('div', { id: 'runs-list', 'aria-busy': 'false' });
  const element = h(
    'section',
    { className: 'panel', 'aria-labelledby': 'runs-heading' },
    h('div', { className: 'panel-head' }, h('h2', { id: 'runs-heading' }, 'Runs'), refreshButton),
    h('p', { className: 'intro' }, 'Recent runs of system processes, newest first, with the account each step was executed as.'),
    list,
  );

  async function load(announceResult = false): Promise<void> {
    list.setAttribute('aria-busy', 'true');
    refreshButton.disabled = true;
    try {
      const runs = (await ctx.api.listRuns()).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      render(runs);
      if (announceResult) announce(`Runs refreshed: ${runs.length === 1 ? '1 run' : `${runs.length} runs`}.`);
    } catch (e) {
      if (!ctx.handleAuthError(e)) announce(`The runs could not be loaded: ${messageOf(e)}`, 'error');
    } finally {
      list.setAttribute('aria-busy', 'false');
      refreshButton.disabled = false;
    }
  }

  function render(runs: Run[]): void {
    if (runs.length === 0) {
      replaceChildren(
        list,
        h('p', { className: 'empty' }, 'No runs yet. Runs appear here when a product event starts a published system process.'),
      );
      return;
    }
    replaceChildren(list, h('ol', { className: 'runs' }, ...runs.map(runItem)));
  }

  function runItem(run: Run): HTMLLIElement {
    const s = RUN_STATUS[run.status] ?? { icon: '?', text: run.status, tone: 'muted' };
    const titleId = `run-${run.id}`;
    return h(
      'li',
      { className: `run run-${s.tone}`, 'aria-labelledby': titleId },
      h(
        'h3',
        { id: titleId },
        h('span', { className: 'process' }, run.processId),
        h('span', { className: 'muted' }, ` version ${run.processVersion}`),
        ' ',
        h('span', { className: `badge badge-${s.tone}` }, `${s.icon} ${s.text}`),
      ),
      h(
        'p',
        { className: 'meta' },
        run.event ? `Event ${run.event.type} · started ` : `Started by ${run.initiatedBy?.username ?? 'a user'} · `,
        time(run.createdAt),
        run.finishedAt ? [' · finished ', time(run.finishedAt)] : null,
        h('span', { className: 'run-id' }, ` · run ${run.id}`),
      ),
      run.reason ? h('p', { className: 'reason' }, run.reason) : null,
      run.steps.length
        ? h('ol', { className: 'steps', 'aria-label': `Steps of ${run.processId}` }, ...run.steps.map(stepItem))
        : h('p', { className: 'muted' }, 'No steps ran.'),
    );
  }

  function stepItem(step: RunStep): HTMLLIElement {
    const s = STEP_STATUS[step.status] ?? { icon: '?', tone: 'muted' };
    return h(
      'li',
      { className: `step step-${s.tone}` },
      h('span', { className: 'step-id' }, step.id),
      step.action ? h('span', { className: 'muted' }, ` (${step.action})`) : null,
      ' ',
      h('span', { className: `badge badge-${s.tone}` }, `${s.icon} ${step.status}`),
      ' ',
      step.executedAs
        ? h(
            'span',
            { className: 'executed-as' },
            'executed as ',
            h('strong', {}, step.executedAs.username),
            step.executedAs.kind === 'connection' ? ' (connection)' : ' (the user)',
          )
        : step.status === 'skipped' || step.status === 'pending' || step.status === 'waiting'
          ? null
          : h('span', { className: 'muted' }, 'no connection'),
      step.error
        ? h('span', { className: 'step-detail error-text' }, step.error)
        : step.summary
          ? h('span', { className: 'step-detail' }, step.summary)
          : null,
    );
  }

  return { element, load };
}
