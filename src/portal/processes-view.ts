import { actionCatalogue, actionNamed, defaultInputs, triggerEvents as eventTypes } from './action-catalogue';
import type { ProcessDraft, ProcessRecord } from './api';
import type { ViewContext } from './connections-view';
import { h, replaceChildren, time } from './dom';
import { announce, messageOf } from './notices';
import { createProcessEditor } from './designer/process-editor';

export interface ProcessesViewContext extends ViewContext {
  /** Opens the Runs tab on this process's runs. */
  showRuns(processId: string): void;
}

/** "Processes": the tenant's processes, a form to create one, and the designer of the one opened. */
export function createProcessesView(ctx: ProcessesViewContext) {
  const element = h('div', { id: 'processes-view' });
  let editor: ReturnType<typeof createProcessEditor> | undefined;
  /** The processes the list showed last: "Create" refuses their ids and names instead of overwriting one on Save. */
  let known: ProcessRecord[] = [];

  const showList = async (announceResult = false) => {
    editor = undefined;
    const refresh = h('button', { type: 'button', id: 'refresh-processes', onclick: () => void showList(true) }, 'Refresh');
    const list = h('div', { id: 'processes-list', 'aria-busy': 'true' }, h('p', { className: 'muted' }, 'Loading…'));
    replaceChildren(
      element,
      h(
        'section',
        { className: 'panel', 'aria-labelledby': 'processes-heading' },
        h('div', { className: 'panel-head' }, h('h2', { id: 'processes-heading' }, 'Processes'), refresh),
        h(
          'p',
          { className: 'intro' },
          'System processes run when a product event arrives, as connections. User processes run when a person starts them, as that person; single action steps can execute as a connection.',
        ),
        list,
        createForm(),
      ),
    );
    try {
      const processes = (await ctx.api.listProcesses()).sort((a, b) => (a.draft.name ?? a.id).localeCompare(b.draft.name ?? b.id));
      known = processes;
      list.setAttribute('aria-busy', 'false');
      replaceChildren(list, processes.length ? table(processes) : h('p', { className: 'empty' }, 'No processes yet. Create one below.'));
      if (announceResult) announce(`Processes refreshed: ${processes.length === 1 ? '1 process' : `${processes.length} processes`}.`);
    } catch (e) {
      list.setAttribute('aria-busy', 'false');
      replaceChildren(list);
      if (!ctx.handleAuthError(e)) announce(`The processes could not be loaded: ${messageOf(e)}`, 'error');
    }
  };

  function table(processes: ProcessRecord[]): HTMLElement {
    const headers = ['Name', 'Kind', 'Draft saved', 'Published', 'Draft vs. published'].map((t) => h('th', { scope: 'col' }, t));
    return h(
      'div',
      { className: 'table-scroll' },
      h(
        'table',
        { className: 'processes' },
        h('caption', { className: 'visually-hidden' }, 'Processes of your organization'),
        h('thead', {}, h('tr', {}, ...headers)),
        h(
          'tbody',
          {},
          ...processes.map((p) => {
            const open = h(
              'button',
              { type: 'button', className: 'link-like', onclick: () => void openProcess(p.id) },
              p.draft.name || p.id,
            );
            const differs = p.published && JSON.stringify(strip(p.published.definition)) !== JSON.stringify(strip(p.draft));
            return h(
              'tr',
              { 'data-process-id': p.id },
              h('th', { scope: 'row' }, open, h('span', { className: 'muted process-id' }, ` ${p.id}`)),
              h('td', {}, p.draft.kind === 'system' ? 'System' : 'User'),
              h('td', {}, time(p.savedAt), h('br'), h('span', { className: 'muted' }, `by ${p.savedBy}`)),
              h(
                'td',
                {},
                p.published
                  ? [`Version ${p.published.version}, `, time(p.published.publishedAt)]
                  : h('span', { className: 'muted' }, 'Not published'),
              ),
              h('td', {}, !p.published ? '—' : differs ? h('span', { className: 'badge badge-info' }, 'Draft has changes') : 'Same'),
            );
          }),
        ),
      ),
    );
  }

  async function openProcess(id: string): Promise<void> {
    try {
      const record = await ctx.api.getProcess(id);
      showEditor(id, record, record.draft);
    } catch (e) {
      if (!ctx.handleAuthError(e)) announce(`The process could not be opened: ${messageOf(e)}`, 'error');
    }
  }

  function showEditor(id: string, record: ProcessRecord | undefined, draft: ProcessDraft): void {
    editor = createProcessEditor({ ...ctx, close: () => void showList() }, id, record, draft);
    replaceChildren(element, editor.element);
    void editor.start();
    editor.element.querySelector<HTMLElement>('#process-heading')?.focus();
  }

  /** Create: name, id, kind, a trigger for system processes, and the first step (an action, or a form for user processes). */
  function createForm(): HTMLElement {
    const name = h('input', { id: 'new-process-name', type: 'text', required: true, maxlength: 200 });
    const idInput = h('input', { id: 'new-process-id', type: 'text', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9_\\-]{0,63}' });
    let idTouched = false;
    name.addEventListener('input', () => {
      if (!idTouched) idInput.value = slug(name.value);
    });
    idInput.addEventListener('input', () => (idTouched = true));
    const kind = h(
      'select',
      { id: 'new-process-kind' },
      h('option', { value: 'system' }, 'System (runs on an event, as a connection)'),
      h('option', { value: 'user' }, 'User (a person runs it, as themselves)'),
    );
    const event = h('select', { id: 'new-process-event' }, ...eventTypes.map((e) => h('option', { value: e }, e)));
    const condPath = h('input', { id: 'new-process-condition-path', type: 'text', placeholder: 'event.data.contentType' });
    const condValue = h('input', { id: 'new-process-condition-value', type: 'text', placeholder: 'Contract' });
    const firstStep = h(
      'select',
      { id: 'new-process-step' },
      ...actionCatalogue.map((a) => h('option', { value: a.name }, `Action: ${a.label}`)),
      h('option', { value: 'form' }, 'Form step (user processes)'),
    );
    const triggerBox = h(
      'fieldset',
      { className: 'trigger' },
      h('legend', {}, 'Trigger'),
      field('new-process-event', 'Event', event),
      field('new-process-condition-path', 'Only when this event value (optional)', condPath),
      field('new-process-condition-value', 'equals', condValue),
    );
    kind.addEventListener('change', () => (triggerBox.hidden = kind.value !== 'system'));
    const form = h(
      'form',
      { className: 'create-process', id: 'create-process' },
      h('h3', {}, 'Create a process'),
      h(
        'div',
        { className: 'inline-fields' },
        field('new-process-name', 'Name', name),
        field('new-process-id', 'Process id', idInput),
        field('new-process-kind', 'Kind', kind),
      ),
      triggerBox,
      field('new-process-step', 'First step', firstStep),
      h('button', { type: 'submit', className: 'primary' }, 'Create and open'),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const isSystem = kind.value === 'system';
      if (isSystem && firstStep.value === 'form') {
        announce('System processes run without a person, so they cannot have form steps: choose an action as the first step.', 'error');
        firstStep.focus();
        return;
      }
      const newId = idInput.value.trim();
      const newName = name.value.trim();
      const taken = known.find((p) => p.id === newId) ?? known.find((p) => (p.draft.name ?? '').toLowerCase() === newName.toLowerCase());
      if (taken) {
        announce(
          `A process ${taken.id === newId ? `with the id “${newId}”` : `named “${newName}”`} already exists (“${taken.draft.name}”, id ${taken.id}): open it from the list, or choose another name and id.`,
          'error',
        );
        (taken.id === newId ? idInput : name).focus();
        return;
      }
      const action = actionNamed(firstStep.value);
      const draft: ProcessDraft = {
        name: name.value.trim(),
        kind: isSystem ? 'system' : 'user',
        ...(isSystem
          ? {
              triggers: [
                {
                  event: event.value as (typeof eventTypes)[number],
                  conditions: condPath.value.trim() ? [{ path: condPath.value.trim(), op: 'eq' as const, value: condValue.value }] : [],
                },
              ],
            }
          : {}),
        steps: [
          action
            ? { id: `${action.name}-1`, type: 'action', name: action.label, action: action.name, inputs: defaultInputs(action) }
            : { id: 'form-1', type: 'form', name: 'Form', fields: [{ name: 'comment', label: 'Comment', type: 'text' }] },
        ],
      };
      showEditor(newId, undefined, draft);
      announce(`“${draft.name}” is not saved yet: fill in its steps, then select Save.`);
    });
    return form;
  }

  return {
    element,
    load: async () => {
      if (!editor) await showList();
    },
    /** False when the admin chose to stay with unsaved changes. */
    confirmLeave: () => editor?.confirmLeave() ?? true,
    isDirty: () => editor?.isDirty() ?? false,
  };
}

function field(id: string, label: string, control: HTMLElement): HTMLElement {
  return h('div', { className: 'field' }, h('label', { for: id }, label), control);
}

const slug = (name: string) =>
  name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);

function strip(d: ProcessDraft & { id?: string }): ProcessDraft {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { id, ...rest } = d;
  return rest;
}
