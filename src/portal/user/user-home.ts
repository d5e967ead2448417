import type { ProcessSummary } from '../api';
import { h, replaceChildren } from '../dom';
import { announce, messageOf } from '../notices';
import { myRuns } from './my-runs';
import { startableProcess, type UserContext } from './startable-process';

/**
 * What a person without the admin role sees: the published user processes they can start (what each step does and as
 * whom) and their own runs. No administrator control is part of it.
 */
export function createUserHome(ctx: UserContext) {
  const startList = h('div', { id: 'startable-processes', 'aria-busy': 'false' });
  const runsList = h('div', { id: 'my-runs', 'aria-busy': 'false' });
  const refresh = h('button', { type: 'button', id: 'refresh-my-runs', onclick: () => void loadRuns(true) }, 'Refresh');
  let processes = new Map<string, ProcessSummary>();

  const element = h(
    'div',
    { id: 'user-home' },
    h(
      'section',
      { className: 'panel', 'aria-labelledby': 'startable-heading' },
      h('h2', { id: 'startable-heading' }, 'Processes you can start'),
      h(
        'p',
        { className: 'intro' },
        'Each step runs as you, unless it says it runs as a connection: then it uses that service account’s permissions for that step only.',
      ),
      startList,
    ),
    h(
      'section',
      { className: 'panel', 'aria-labelledby': 'my-runs-heading' },
      h('div', { className: 'panel-head' }, h('h2', { id: 'my-runs-heading' }, 'My runs'), refresh),
      runsList,
    ),
  );

  async function loadProcesses(): Promise<void> {
    startList.setAttribute('aria-busy', 'true');
    try {
      const list = await ctx.api.listStartable();
      processes = new Map(list.map((p) => [p.id, p]));
      replaceChildren(
        startList,
        list.length
          ? h('ul', { className: 'startables' }, ...list.map((p) => startableProcess(ctx, p, () => void loadRuns())))
          : h('p', { className: 'empty' }, 'No process is published for you to start yet.'),
      );
    } catch (e) {
      replaceChildren(startList);
      if (!ctx.handleAuthError(e)) announce(`The processes could not be loaded: ${messageOf(e)}`, 'error');
    } finally {
      startList.setAttribute('aria-busy', 'false');
    }
  }

  async function loadRuns(announceResult = false): Promise<void> {
    runsList.setAttribute('aria-busy', 'true');
    refresh.disabled = true;
    try {
      const runs = await ctx.api.listMyRuns();
      replaceChildren(
        runsList,
        myRuns(ctx, runs, processes, () => loadRuns()),
      );
      if (announceResult) announce(`Your runs refreshed: ${runs.length === 1 ? '1 run' : `${runs.length} runs`}.`);
    } catch (e) {
      if (!ctx.handleAuthError(e)) announce(`Your runs could not be loaded: ${messageOf(e)}`, 'error');
    } finally {
      runsList.setAttribute('aria-busy', 'false');
      refresh.disabled = false;
    }
  }

  return {
    element,
    load: async () => {
      await loadProcesses();
      await loadRuns();
    },
  };
}
