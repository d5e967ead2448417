import { ApiError, fieldProblemsIn, type ProcessDraft, type ProcessRecord } from '../api';
import { h, replaceChildren, time } from '../dom';
import { announce, messageOf } from '../notices';
import { showLocalProblem } from './controls';
import { bodyOf, EditorState, stepLabel, type DesignerUi, type EditorContext, type Region } from './editor-state';

export type { EditorContext };
import { elevationPanel } from './elevation-panel';
import { processSettings } from './process-settings';
import { runSection } from './run-section';
import { stepPanel } from './step-panel';
import { stepsList } from './steps-list';

/**
 * The designer of one process: its settings, its steps in order, and the selected step's tabs. The page is drawn in
 * regions: typing never draws anything again, and a change of structure draws only the regions that show it. Save
 * sends the draft (PUT); Publish saves unsaved changes first, then publishes and says which version is live.
 * Refusals are shown at the fields they name.
 */
export function createProcessEditor(ctx: EditorContext, id: string, record: ProcessRecord | undefined, initial: ProcessDraft) {
  const state = new EditorState(id, record, initial);
  const heading = h('h2', { id: 'process-heading', tabindex: '-1' }, state.draft.name || id);
  const dirtyNote = h('span', { id: 'unsaved-note', className: 'badge badge-warning', hidden: true }, '● Unsaved changes');
  const saveButton = h('button', { type: 'button', className: 'primary', id: 'save-process', onclick: () => void save() }, 'Save');
  const publishButton = h('button', { type: 'button', id: 'publish-process', onclick: () => void publish() }, 'Publish');
  const regions: Record<Region, HTMLElement> = {
    status: h('div', { className: 'region-status' }),
    settings: h('div', { className: 'region-settings' }),
    steps: h('div', { className: 'region-steps' }),
    panel: h('div', { className: 'region-panel' }),
    run: h('div', { className: 'region-run' }),
    elevation: h('div', { className: 'region-elevation', 'aria-live': 'polite' }),
    toolbar: h(
      'div',
      { className: 'toolbar' },
      saveButton,
      publishButton,
      h('span', { className: 'muted' }, 'Publishing makes a new version; runs already started keep theirs.'),
    ),
  };
  const element = h(
    'section',
    { className: 'panel process-editor', 'aria-labelledby': 'process-heading' },
    h(
      'div',
      { className: 'panel-head' },
      heading,
      h('button', { type: 'button', id: 'back-to-processes', onclick: () => leave() }, '← All processes'),
    ),
    regions.status,
    regions.settings,
    h('div', { className: 'designer' }, regions.steps, regions.panel),
    regions.run,
    regions.elevation,
    regions.toolbar,
  );

  const build: Record<Region, () => Node | null> = {
    status: () => statusLine(),
    settings: () => processSettings(ui),
    steps: () => stepsList(ui),
    panel: () => stepPanel(ui),
    run: () => (state.draft.kind === 'user' ? runSection(ui, ctx) : null),
    elevation: () => elevationPanel(state),
    toolbar: () => null,
  };

  const ui: DesignerUi = {
    state,
    refresh(...which) {
      const focused = document.activeElement as HTMLElement | null;
      for (const r of which) {
        if (r === 'toolbar') continue;
        replaceChildren(regions[r], build[r]());
        state.problems.attach(regions[r]);
        showLocalProblems(regions[r]);
      }
      restoreFocus(focused, which);
      updateChrome();
    },
    changed: () => updateChrome(),
    focus: (selector) => element.querySelector<HTMLElement>(selector)?.focus(),
  };

  /** Everything that follows the draft without drawing anything: heading, "Unsaved changes", the buttons. */
  function updateChrome(): void {
    heading.textContent = state.draft.name || id;
    // The analysis holds no control: drawn again with each change, it follows what the designer edits.
    replaceChildren(regions.elevation, elevationPanel(state));
    // `hidden` alone loses to `.badge {display: inline-block}`: app.css makes [hidden] win.
    dirtyNote.hidden = !state.isDirty();
    saveButton.disabled = state.busy;
    publishButton.disabled = state.busy;
    publishButton.textContent = state.current?.published ? 'Republish' : 'Publish';
  }

  function restoreFocus(was: HTMLElement | null, redrawn: Region[]): void {
    if (!was || document.contains(was)) return;
    const key = was.dataset?.path ? `[data-path="${CSS.escape(was.dataset.path)}"]` : was.id ? `#${CSS.escape(was.id)}` : undefined;
    const again = key ? element.querySelector<HTMLElement>(key) : null;
    (again ?? regions[redrawn[0]]?.querySelector<HTMLElement>('button, select, input, textarea'))?.focus();
  }

  function showLocalProblems(root: HTMLElement): void {
    for (const [p, message] of state.localProblems) {
      const el = root.querySelector<HTMLElement>(`[data-path="${CSS.escape(p)}"]`);
      if (el) showLocalProblem(el, message);
    }
  }

  function statusLine(): HTMLElement {
    const { current, draft } = state;
    const published = current?.published;
    const differs = published && current ? JSON.stringify(bodyOf(published.definition)) !== JSON.stringify(bodyOf(current.draft)) : false;
    return h(
      'p',
      { className: 'process-status', id: 'process-status' },
      `${draft.kind === 'system' ? 'System process' : 'User process'} · id ${id} · `,
      current ? ['Draft saved ', time(current.savedAt), ` by ${current.savedBy}`] : 'Not saved yet',
      ' · ',
      published
        ? h(
            'span',
            { id: 'live-version' },
            `Version ${published.version} is live (published `,
            time(published.publishedAt),
            ` by ${published.publishedBy})`,
            differs ? h('span', { className: 'badge badge-info' }, ' The saved draft differs from it') : null,
          )
        : h('span', { id: 'live-version' }, 'Not published'),
      ' ',
      dirtyNote,
    );
  }

  /** Draws every region, then shows each problem at its field and those without one in a summary. */
  function renderAll(): void {
    const focused = document.activeElement as HTMLElement | null;
    const all: Region[] = ['status', 'settings', 'steps', 'panel', 'run', 'elevation'];
    for (const r of all) replaceChildren(regions[r], build[r]());
    const unplaced = state.problems.attach(element);
    showLocalProblems(element);
    if (state.problems.all.length) {
      const count = state.problems.all.length;
      const where = state.stepsWithProblems().map((i) => `${i + 1}. ${stepLabel(state.draft.steps[i])}`);
      regions.status.append(
        h(
          'div',
          { id: 'problem-summary', className: 'callout callout-error', role: 'group', 'aria-label': 'Problems' },
          h(
            'strong',
            {},
            `${count === 1 ? '1 problem' : `${count} problems`}: see the marked fields${where.length ? ` (steps ${where.join(', ')})` : ''}.`,
          ),
          unplaced.length ? h('ul', {}, ...unplaced.map((p) => h('li', {}, `${describePath(p.path)}: ${p.message}`))) : null,
        ),
      );
    }
    restoreFocus(focused, all);
    updateChrome();
  }

  /** A problem's place in words: "Step 2 “Change stage”, inputs.stage" instead of `steps[1].inputs.stage`. */
  function describePath(p: string): string {
    const m = /^steps\[(\d+)\]\.?(.*)$/.exec(p);
    const step = m && state.draft.steps[Number(m[1])];
    if (!m || !step) return p || 'The process';
    return `Step ${Number(m[1]) + 1} “${stepLabel(step)}”${m[2] ? `, ${m[2]}` : ''}`;
  }

  async function start(): Promise<void> {
    renderAll();
    try {
      state.connections = await ctx.api.listConnections();
      // A deleted connection keeps its audit trail: its newest entry names it.
      await Promise.all(
        state.unknownConnectionIds().map(async (cid) => {
          const entries = await ctx.api.audit(cid, 1).catch(() => []);
          const name = entries[0]?.details.displayName;
          if (typeof name === 'string') state.deletedNames.set(cid, name);
        }),
      );
    } catch (e) {
      if (!ctx.handleAuthError(e)) announce(`The connections could not be loaded for Execute as: ${messageOf(e)}`, 'error');
    }
    ui.refresh('settings', 'steps', 'panel');
  }

  const setBusy = (busy: boolean) => {
    state.busy = busy;
    updateChrome();
  };

  async function save(quiet = false): Promise<boolean> {
    if (state.localProblems.size) {
      announce('Fix the marked fields first: they do not hold valid values.', 'error');
      element.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
      return false;
    }
    setBusy(true);
    const hadProblems = state.problems.all.length > 0;
    try {
      state.markSaved(await ctx.api.saveProcess(id, state.draft));
      state.problems.clear();
      if (hadProblems) renderAll();
      else ui.refresh('status');
      if (!quiet) announce(`Saved the draft of “${state.draft.name}”.`, 'success');
      return true;
    } catch (e) {
      refused(e, 'saved');
      return false;
    } finally {
      setBusy(false);
    }
  }

  async function publish(): Promise<void> {
    if (state.isDirty() && !(await save(true))) return;
    setBusy(true);
    const hadProblems = state.problems.all.length > 0;
    try {
      const { version } = await ctx.api.publishProcess(id);
      state.markSaved(await ctx.api.getProcess(id));
      state.problems.clear();
      if (hadProblems) renderAll();
      else ui.refresh('status', 'run');
      announce(`Published “${state.draft.name}”: version ${version} is now live.`, 'success');
    } catch (e) {
      refused(e, 'published');
    } finally {
      setBusy(false);
    }
  }

  function refused(e: unknown, what: string): void {
    if (ctx.handleAuthError(e)) return;
    const found = e instanceof ApiError ? fieldProblemsIn(e.body) : [];
    state.problems.set(found);
    if (!found.length) return announce(`The process was not ${what}: ${messageOf(e)}`, 'error');
    const step = /^steps\[(\d+)\]/.exec(found[0].path);
    if (step) {
      state.selected = Number(step[1]);
      state.stepTab = /permissions/.test(found[0].path) ? 'permissions' : 'settings';
    }
    renderAll();
    announce(
      `The process was not ${what}: ${found.length === 1 ? '1 problem' : `${found.length} problems`}, shown at the fields.`,
      'error',
    );
    element.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }

  /** Asks before dropping unsaved changes; true when it is fine to leave. */
  function confirmLeave(): boolean {
    return !state.isDirty() || window.confirm(`“${state.draft.name || id}” has unsaved changes. Leave without saving them?`);
  }

  function leave(): void {
    if (confirmLeave()) ctx.close();
  }

  return { element, start, isDirty: () => state.isDirty(), confirmLeave };
}
