import {
  actionCatalogue,
  actionNamed,
  defaultInputs,
  inputText,
  inputValue,
  triggerEvents as eventTypes,
  type ActionInput,
} from './action-catalogue';
import {
  ApiError,
  fieldProblemsIn,
  type Connection,
  type ConnectionsApi,
  type FormField,
  type ProcessDraft,
  type ProcessRecord,
  type ProcessStep,
} from './api';
import { h, replaceChildren, time } from './dom';
import { FieldProblems } from './field-problems';
import { announce, messageOf } from './notices';

export interface EditorContext {
  api: ConnectionsApi;
  handleAuthError(e: unknown): boolean;
  /** Back to the process list. */
  close(): void;
  /** Shows the Runs tab (after starting a run). */
  /** Opens the Runs tab on this process's runs. */
  showRuns(processId: string): void;
}

export const FORM_STEP_NOTE = 'Only action steps can be executed using a connection.';
const conditionOps = ['eq', 'ne', 'in', 'exists'] as const;
// The form field types of the user-process contract (src/processes/process-definition.ts formFieldSchema).
const fieldTypes = ['text', 'number', 'boolean', 'date', 'choice'] as const;

/**
 * The designer of one process: its settings (name, trigger, Run as), its steps in order, and for the selected step
 * the tabs Settings and Permissions (Execute as). Save sends the draft (PUT); Publish saves unsaved changes first,
 * then publishes and says which version is live. Refusals are shown at the fields they name.
 */
export function createProcessEditor(ctx: EditorContext, id: string, record: ProcessRecord | undefined, initial: ProcessDraft) {
  const draft: ProcessDraft = bodyOf(initial);
  let saved = record ? JSON.stringify(bodyOf(record.draft)) : undefined;
  let current = record;
  let connections: Connection[] = [];
  let selected = 0;
  let stepTab: 'settings' | 'permissions' = 'settings';
  const problems = new FieldProblems();
  const localProblems = new Map<string, string>();
  let busy = false;

  const element = h('section', { className: 'panel process-editor', 'aria-labelledby': 'process-heading' });

  const isDirty = () => JSON.stringify(draft) !== saved;
  const path = (...parts: (string | number)[]) => parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${p}` : p)).join('');

  async function start(): Promise<void> {
    render();
    try {
      connections = await ctx.api.listConnections();
    } catch (e) {
      if (!ctx.handleAuthError(e)) announce(`The connections could not be loaded for Execute as: ${messageOf(e)}`, 'error');
    }
    render();
  }

  function changed(rerender = false): void {
    if (rerender) render();
    else updateHeaderState();
  }

  // ---- rendering ------------------------------------------------------------------------------------------------

  const dirtyNote = h('span', { id: 'unsaved-note', className: 'badge badge-warning', hidden: true }, '● Unsaved changes');

  function updateHeaderState(): void {
    dirtyNote.hidden = !isDirty();
  }

  function render(): void {
    const focusedPath = (document.activeElement as HTMLElement | null)?.dataset?.path;
    const focusedId = document.activeElement?.id;
    replaceChildren(
      element,
      h(
        'div',
        { className: 'panel-head' },
        h('h2', { id: 'process-heading' }, draft.name || id),
        h('button', { type: 'button', id: 'back-to-processes', onclick: () => leave() }, '← All processes'),
      ),
      statusLine(),
      problemSummary(),
      processSettings(),
      h(
        'div',
        { className: 'designer' },
        stepsList(),
        draft.steps[selected] ? stepPanel(draft.steps[selected], selected) : h('p', { className: 'empty' }, 'Add a step.'),
      ),
      draft.kind === 'user' ? runSection() : null,
      toolbar(),
    );
    updateHeaderState();
    const unplaced = problems.attach(element);
    if (unplaced.length) {
      const box = element.querySelector('#problem-summary');
      box?.append(h('ul', {}, ...unplaced.map((p) => h('li', {}, `${p.path || 'process'}: ${p.message}`))));
    }
    for (const [p, message] of localProblems) {
      const el = element.querySelector<HTMLElement>(`[data-path="${CSS.escape(p)}"]`);
      if (el && !el.nextElementSibling?.classList.contains('field-error')) {
        el.setAttribute('aria-invalid', 'true');
        el.insertAdjacentElement('afterend', h('p', { className: 'field-error' }, `⚠ ${message}`));
      }
    }
    const again =
      (focusedPath && element.querySelector<HTMLElement>(`[data-path="${CSS.escape(focusedPath)}"]`)) ||
      (focusedId && element.querySelector<HTMLElement>(`#${CSS.escape(focusedId)}`));
    if (again) again.focus();
  }

  function statusLine(): HTMLElement {
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

  function problemSummary(): HTMLElement | null {
    if (!problems.all.length) return null;
    return h(
      'div',
      { id: 'problem-summary', className: 'callout callout-error', role: 'group', 'aria-label': 'Problems' },
      h(
        'strong',
        {},
        `${problems.all.length === 1 ? '1 problem' : `${problems.all.length} problems`}: see the marked fields${
          stepsWithProblems().length
            ? ` (steps ${stepsWithProblems()
                .map((i) => i + 1)
                .join(', ')})`
            : ''
        }.`,
      ),
    );
  }

  const stepsWithProblems = () => draft.steps.map((_, i) => i).filter((i) => problems.under(path('steps', i)).length > 0);

  function labelled(idAttr: string, label: string, control: HTMLElement, hint?: string): HTMLElement {
    return h(
      'div',
      { className: 'field' },
      h('label', { for: idAttr }, label),
      hint ? h('span', { className: 'hint', id: `${idAttr}-hint` }, hint) : null,
      control,
    );
  }

  function textInput(
    idAttr: string,
    dataPath: string,
    value: string,
    onInput: (v: string) => void,
    attrs: Record<string, string | boolean> = {},
  ) {
    const input = h('input', { id: idAttr, type: 'text', value, 'data-path': dataPath, ...attrs });
    input.addEventListener('input', () => {
      onInput(input.value);
      changed();
    });
    return input;
  }

  function select(
    idAttr: string,
    dataPath: string,
    options: { value: string; text: string; disabled?: boolean }[],
    value: string,
    onChange: (v: string) => void,
    attrs: Record<string, string | boolean> = {},
  ) {
    const el = h(
      'select',
      { id: idAttr, 'data-path': dataPath, ...attrs },
      ...options.map((o) => h('option', { value: o.value, selected: o.value === value, disabled: o.disabled }, o.text)),
    );
    el.addEventListener('change', () => {
      onChange(el.value);
      changed(true);
    });
    return el;
  }

  /** Connections for Execute as / Run as: the implicit choice first, then every connection with its account. */
  function connectionOptions(implicit: string, chosen: string | undefined) {
    const options: { value: string; text: string; disabled?: boolean }[] = [{ value: '', text: implicit }];
    for (const c of connections) {
      const stale = c.status === 'needs_reauth';
      options.push({
        value: c.id,
        text: `${c.displayName} (${c.account.username})${stale ? ' — needs re-authorization, cannot be published' : ''}`,
        // A stale connection cannot be published; it stays visible when already chosen, so the draft shows what it says.
        disabled: stale && c.id !== chosen,
      });
    }
    if (chosen && !connections.some((c) => c.id === chosen))
      options.push({ value: chosen, text: `Unknown connection ${chosen} (deleted?)` });
    return options;
  }

  function processSettings(): HTMLElement {
    const fieldset = h(
      'fieldset',
      { className: 'process-settings' },
      h('legend', {}, 'Process'),
      labelled(
        'process-name',
        'Process name',
        textInput('process-name', 'name', draft.name, (v) => (draft.name = v), { required: true, maxlength: '200' }),
      ),
    );
    if (draft.kind === 'system') {
      fieldset.append(
        labelled(
          'process-run-as',
          'Run as',
          select('process-run-as', 'runAs', connectionOptions('(the default connection)', draft.runAs), draft.runAs ?? '', (v) => {
            if (v) draft.runAs = v;
            else delete draft.runAs;
          }),
          'The connection action steps run as unless a step says otherwise.',
        ),
        triggersEditor(),
      );
    }
    return fieldset;
  }

  function triggersEditor(): HTMLElement {
    const triggers = (draft.triggers ??= []);
    const box = h('div', { className: 'triggers', 'data-path': 'triggers', tabindex: '-1' }, h('h3', {}, 'Triggers'));
    triggers.forEach((t, ti) => {
      const conditions = (t.conditions ??= []);
      const tBox = h(
        'fieldset',
        { className: 'trigger' },
        h('legend', {}, `Trigger ${ti + 1}`),
        labelled(
          `trigger-${ti}-event`,
          'Event',
          select(
            `trigger-${ti}-event`,
            path('triggers', ti, 'event'),
            eventTypes.map((e) => ({ value: e, text: e })),
            t.event,
            (v) => (t.event = v as typeof t.event),
          ),
        ),
      );
      conditions.forEach((c, ci) => {
        const at = path('triggers', ti, 'conditions', ci);
        tBox.append(
          h(
            'div',
            { className: 'condition', role: 'group', 'aria-label': `Condition ${ci + 1} of trigger ${ti + 1}` },
            labelled(
              `${at}-path`,
              'Event value',
              textInput(`${at}-path`, `${at}.path`, c.path, (v) => (c.path = v), { placeholder: 'event.data.contentType' }),
            ),
            labelled(
              `${at}-op`,
              'Test',
              select(
                `${at}-op`,
                `${at}.op`,
                conditionOps.map((o) => ({ value: o, text: OP_WORDS[o] })),
                c.op,
                (v) => (c.op = v as typeof c.op),
              ),
            ),
            c.op === 'exists'
              ? null
              : labelled(
                  `${at}-value`,
                  c.op === 'in' ? 'Values (comma-separated)' : 'Value',
                  textInput(`${at}-value`, `${at}.value`, Array.isArray(c.value) ? c.value.join(', ') : String(c.value ?? ''), (v) => {
                    c.value =
                      c.op === 'in'
                        ? v
                            .split(',')
                            .map((x) => x.trim())
                            .filter(Boolean)
                        : v;
                  }),
                ),
            h(
              'button',
              { type: 'button', className: 'small', onclick: () => (conditions.splice(ci, 1), changed(true)) },
              `Remove condition ${ci + 1}`,
            ),
          ),
        );
      });
      tBox.append(
        h(
          'div',
          { className: 'row-actions' },
          h(
            'button',
            {
              type: 'button',
              className: 'small',
              onclick: () => (conditions.push({ path: 'event.data.', op: 'eq', value: '' }), changed(true)),
            },
            'Add condition',
          ),
          h(
            'button',
            { type: 'button', className: 'small', onclick: () => (triggers.splice(ti, 1), changed(true)) },
            `Remove trigger ${ti + 1}`,
          ),
        ),
      );
      box.append(tBox);
    });
    box.append(
      h(
        'button',
        { type: 'button', className: 'small', onclick: () => (triggers.push({ event: 'ItemCreated', conditions: [] }), changed(true)) },
        'Add trigger',
      ),
    );
    return box;
  }

  function stepsList(): HTMLElement {
    const list = h(
      'ol',
      { className: 'step-list', 'aria-label': 'Steps, in order' },
      ...draft.steps.map((s, i) => {
        const action = actionNamed(s.action);
        const hasProblems = problems.under(path('steps', i)).length > 0;
        const b = h(
          'button',
          { type: 'button', className: 'step-button', 'aria-current': i === selected ? 'step' : false, 'data-step-index': i },
          h('span', { className: 'step-title' }, `${i + 1}. ${s.name || s.id}`),
          h('span', { className: 'step-kind' }, s.type === 'form' ? 'Form step' : `Action: ${action?.label ?? s.action ?? '(none)'}`),
          s.permissions?.executeAs ? h('span', { className: 'step-kind' }, `Executes as ${connectionName(s.permissions.executeAs)}`) : null,
          hasProblems ? h('span', { className: 'badge badge-error' }, '⚠ Has problems') : null,
        );
        b.addEventListener('click', () => {
          selected = i;
          stepTab = 'settings';
          render();
          element.querySelector<HTMLElement>('#step-tab-settings')?.focus();
        });
        return h('li', {}, b);
      }),
    );
    const addAction = h('select', { id: 'new-step-action' }, ...actionCatalogue.map((a) => h('option', { value: a.name }, a.label)));
    const add = h(
      'div',
      { className: 'add-step' },
      h('label', { for: 'new-step-action' }, 'New action step'),
      addAction,
      h('button', { type: 'button', id: 'add-action-step', onclick: () => addStep('action', addAction.value) }, 'Add action step'),
      draft.kind === 'user' ? h('button', { type: 'button', id: 'add-form-step', onclick: () => addStep('form') }, 'Add form step') : null,
    );
    return h('div', { className: 'steps-column' }, h('h3', {}, 'Steps'), list, add);
  }

  function connectionName(connectionId: string): string {
    const c = connections.find((x) => x.id === connectionId);
    return c ? c.displayName : 'an unknown connection';
  }

  function addStep(type: 'action' | 'form', action?: string): void {
    const taken = new Set(draft.steps.map((s) => s.id));
    const base = type === 'form' ? 'form' : (action ?? 'step');
    let n = 1;
    while (taken.has(`${base}-${n}`)) n++;
    const stepId = `${base}-${n}`;
    const def = actionNamed(action);
    const step: ProcessStep =
      type === 'form'
        ? { id: stepId, type: 'form', name: 'Form', fields: [{ name: 'comment', label: 'Comment', type: 'text' }] }
        : { id: stepId, type: 'action', name: def?.label, action, inputs: def ? defaultInputs(def) : {} };
    draft.steps.push(step);
    selected = draft.steps.length - 1;
    stepTab = 'settings';
    changed(true);
    element.querySelector<HTMLElement>('#step-tab-settings')?.focus();
  }

  function stepPanel(step: ProcessStep, i: number): HTMLElement {
    const tabs = (['settings', 'permissions'] as const).map((t) => {
      const b = h(
        'button',
        {
          type: 'button',
          role: 'tab',
          id: `step-tab-${t}`,
          'aria-controls': `step-panel-${t}`,
          'aria-selected': String(stepTab === t),
          tabindex: stepTab === t ? '0' : '-1',
        },
        t === 'settings' ? 'Settings' : 'Permissions',
      );
      b.addEventListener('click', () => {
        stepTab = t;
        render();
        element.querySelector<HTMLElement>(`#step-tab-${t}`)?.focus();
      });
      b.addEventListener('keydown', (e: KeyboardEvent) => {
        if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
        e.preventDefault();
        stepTab = stepTab === 'settings' ? 'permissions' : 'settings';
        render();
        element.querySelector<HTMLElement>(`#step-tab-${stepTab}`)?.focus();
      });
      return b;
    });
    const body = stepTab === 'settings' ? stepSettings(step, i) : stepPermissions(step, i);
    return h(
      'div',
      { className: 'step-panel', role: 'region', 'aria-label': `Step ${i + 1}: ${step.name || step.id}` },
      h('h3', {}, `Step ${i + 1}: ${step.name || step.id}`),
      h('div', { role: 'tablist', className: 'tabs small-tabs', 'aria-label': 'Step tabs' }, ...tabs),
      h('div', { role: 'tabpanel', id: `step-panel-${stepTab}`, 'aria-labelledby': `step-tab-${stepTab}` }, body),
      h(
        'div',
        { className: 'row-actions' },
        h('button', { type: 'button', className: 'small', disabled: i === 0, onclick: () => moveStep(i, -1) }, 'Move up'),
        h(
          'button',
          { type: 'button', className: 'small', disabled: i === draft.steps.length - 1, onclick: () => moveStep(i, 1) },
          'Move down',
        ),
        h(
          'button',
          { type: 'button', className: 'small danger', disabled: draft.steps.length === 1, onclick: () => removeStep(i) },
          'Remove step',
        ),
      ),
    );
  }

  function moveStep(i: number, by: number): void {
    const [step] = draft.steps.splice(i, 1);
    draft.steps.splice(i + by, 0, step);
    selected = i + by;
    problems.clear();
    changed(true);
  }

  function removeStep(i: number): void {
    draft.steps.splice(i, 1);
    selected = Math.max(0, Math.min(selected, draft.steps.length - 1));
    problems.clear();
    changed(true);
  }

  function stepSettings(step: ProcessStep, i: number): HTMLElement {
    const at = (...p: (string | number)[]) => path('steps', i, ...p);
    const box = h(
      'div',
      { className: 'step-settings' },
      labelled(
        `step-${i}-name`,
        'Step name',
        textInput(`step-${i}-name`, at('name'), step.name ?? '', (v) => (v ? (step.name = v) : delete step.name)),
      ),
      labelled(
        `step-${i}-id`,
        'Step id',
        textInput(`step-${i}-id`, at('id'), step.id, (v) => (step.id = v), { required: true }),
        'Letters, digits, "-" and "_"; runs and usage name the step by it.',
      ),
      h('p', { className: 'muted' }, `Type: ${step.type === 'form' ? 'form step (a person fills it in)' : 'action step'}`),
    );
    if (step.type === 'form') {
      box.append(formFields(step, i));
    } else {
      box.append(
        labelled(
          `step-${i}-action`,
          'Action',
          select(
            `step-${i}-action`,
            at('action'),
            actionCatalogue.map((a) => ({ value: a.name, text: a.label })),
            step.action ?? '',
            (v) => {
              step.action = v;
              step.inputs = defaultInputs(actionNamed(v)!);
            },
          ),
        ),
      );
      const action = actionNamed(step.action);
      const inputs = (step.inputs ??= {});
      const inputsBox = h('fieldset', { className: 'inputs', 'data-path': at('inputs'), tabindex: '-1' }, h('legend', {}, 'Inputs'));
      if (action) {
        inputsBox.append(
          h('p', { className: 'muted' }, `${action.description} Values may use {{event.subject.itemId}} or {{event.data.X}}.`),
        );
        for (const input of action.inputs) inputsBox.append(inputField(input, inputs, i));
      } else {
        inputsBox.append(
          jsonArea(`step-${i}-inputs`, at('inputs'), 'Inputs (JSON)', inputs, (v) => (step.inputs = v as Record<string, unknown>)),
        );
      }
      box.append(inputsBox);
    }
    box.append(
      jsonArea(
        `step-${i}-conditions`,
        at('conditions'),
        'Run only when (conditions, JSON list; empty: always)',
        step.conditions ?? [],
        (v) => {
          if (Array.isArray(v) && v.length) step.conditions = v as typeof step.conditions;
          else delete step.conditions;
        },
      ),
    );
    return box;
  }

  function inputField(input: ActionInput, inputs: Record<string, unknown>, i: number): HTMLElement {
    const idAttr = `step-${i}-input-${input.name}`;
    const dataPath = path('steps', i, 'inputs', input.name);
    const set = (text: string) => {
      const { value, problem } = inputValue(input, text);
      if (problem) return void localProblems.set(dataPath, problem);
      localProblems.delete(dataPath);
      if (value === undefined) delete inputs[input.name];
      else inputs[input.name] = value;
    };
    let control: HTMLElement;
    if (input.kind === 'choice') {
      const options = [
        ...(input.required ? [] : [{ value: '', text: '(default)' }]),
        ...input.choices!.map((c) => ({ value: c, text: c })),
      ];
      control = select(idAttr, dataPath, options, String(inputs[input.name] ?? ''), (v) => set(v));
    } else if (input.kind === 'textarea' || input.kind === 'json') {
      const area = h(
        'textarea',
        {
          id: idAttr,
          'data-path': dataPath,
          rows: input.kind === 'json' ? 4 : 5,
          placeholder: input.hint,
          spellcheck: input.kind === 'json' ? 'false' : undefined,
        },
        inputText(input, inputs[input.name]),
      );
      area.addEventListener('input', () => {
        set(area.value);
        changed();
      });
      area.addEventListener('change', () => render());
      control = area;
    } else {
      control = textInput(idAttr, dataPath, inputText(input, inputs[input.name]), set, {
        placeholder: input.hint ?? '',
        ...(input.required ? { required: true } : {}),
      });
    }
    return labelled(idAttr, input.label, control);
  }

  function jsonArea(idAttr: string, dataPath: string, label: string, value: unknown, onValue: (v: unknown) => void): HTMLElement {
    const area = h('textarea', { id: idAttr, 'data-path': dataPath, rows: 3, spellcheck: 'false' }, JSON.stringify(value, null, 2));
    area.addEventListener('input', () => {
      try {
        onValue(area.value.trim() ? JSON.parse(area.value) : undefined);
        localProblems.delete(dataPath);
      } catch {
        localProblems.set(dataPath, 'is not valid JSON');
      }
      changed();
    });
    area.addEventListener('change', () => render());
    return labelled(idAttr, label, area);
  }

  function formFields(step: ProcessStep, i: number): HTMLElement {
    const fields = (step.fields ??= []);
    const box = h(
      'fieldset',
      { className: 'form-fields', 'data-path': path('steps', i, 'fields'), tabindex: '-1' },
      h('legend', {}, 'Form fields'),
    );
    fields.forEach((f: FormField, fi) => {
      const at = path('steps', i, 'fields', fi);
      const idAttr = `step-${i}-field-${fi}`;
      box.append(
        h(
          'div',
          { className: 'condition', role: 'group', 'aria-label': `Field ${fi + 1}` },
          labelled(
            `${idAttr}-label`,
            'Label',
            textInput(`${idAttr}-label`, `${at}.label`, f.label, (v) => (f.label = v)),
          ),
          labelled(
            `${idAttr}-name`,
            'Name',
            textInput(`${idAttr}-name`, `${at}.name`, f.name, (v) => (f.name = v)),
          ),
          labelled(
            `${idAttr}-type`,
            'Type',
            select(
              `${idAttr}-type`,
              `${at}.type`,
              fieldTypes.map((t) => ({ value: t, text: t })),
              f.type,
              (v) => (f.type = v),
            ),
          ),
          h(
            'div',
            { className: 'field checkbox' },
            (() => {
              const cb = h('input', { type: 'checkbox', id: `${idAttr}-required`, checked: Boolean(f.required) });
              cb.addEventListener('change', () => {
                if (cb.checked) f.required = true;
                else delete f.required;
                changed();
              });
              return cb;
            })(),
            h('label', { for: `${idAttr}-required` }, 'Required'),
          ),
          h(
            'button',
            { type: 'button', className: 'small', onclick: () => (fields.splice(fi, 1), changed(true)) },
            `Remove field ${fi + 1}`,
          ),
        ),
      );
    });
    box.append(
      h(
        'button',
        {
          type: 'button',
          className: 'small',
          onclick: () => (fields.push({ name: `field${fields.length + 1}`, label: 'New field', type: 'text' }), changed(true)),
        },
        'Add field',
      ),
    );
    return box;
  }

  function stepPermissions(step: ProcessStep, i: number): HTMLElement {
    const idAttr = `step-${i}-execute-as`;
    const isForm = step.type === 'form';
    const implicit = draft.kind === 'user' ? '(the user who runs the process)' : "(the process's connection / the default connection)";
    const control = select(
      idAttr,
      path('steps', i, 'permissions', 'executeAs'),
      connectionOptions(implicit, step.permissions?.executeAs),
      step.permissions?.executeAs ?? '',
      (v) => {
        if (v) step.permissions = { executeAs: v };
        else delete step.permissions;
      },
      isForm ? { disabled: true, 'aria-describedby': `${idAttr}-note` } : {},
    );
    return h(
      'div',
      { className: 'step-permissions' },
      labelled(idAttr, 'Execute as', control),
      isForm
        ? h('p', { id: `${idAttr}-note`, className: 'note' }, FORM_STEP_NOTE)
        : h(
            'p',
            { className: 'muted' },
            draft.kind === 'user'
              ? 'Choose a connection to run this step with its permissions instead of the permissions of the person who runs the process.'
              : 'Choose a connection to run this step as; otherwise it runs as the Run as connection of the process, or the default connection.',
          ),
    );
  }

  function runSection(): HTMLElement {
    const inputs = (['siteId', 'listId', 'itemId'] as const).map((k) =>
      h('input', {
        id: `run-${k}`,
        type: 'text',
        required: true,
        'data-path': `subject.${k}`,
        placeholder: k === 'siteId' ? 'contoso.sharepoint.com,site-1' : '',
      }),
    );
    const form = h(
      'form',
      { className: 'run-form', id: 'run-form' },
      h('h3', {}, 'Run this process'),
      h(
        'p',
        { className: 'muted' },
        current?.published
          ? `Starts version ${current.published.version} on an item, as you.`
          : 'Publish the process first: a run executes the published version.',
      ),
      h(
        'div',
        { className: 'inline-fields' },
        labelled('run-siteId', 'Site id', inputs[0]),
        labelled('run-listId', 'List id', inputs[1]),
        labelled('run-itemId', 'Item id', inputs[2]),
      ),
      h('button', { type: 'submit', id: 'run-process', disabled: !current?.published }, 'Run'),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const [siteId, listId, itemId] = inputs.map((x) => x.value.trim());
      try {
        const { runId } = await ctx.api.startRun(id, { siteId, listId, itemId });
        announce(`Run ${runId} started. Follow it on the Runs tab.`, 'success');
        ctx.showRuns(id);
      } catch (err) {
        if (!ctx.handleAuthError(err)) announce(`The run could not be started: ${messageOf(err)}`, 'error');
      }
    });
    return form;
  }

  function toolbar(): HTMLElement {
    const publishLabel = current?.published ? 'Republish' : 'Publish';
    return h(
      'div',
      { className: 'toolbar' },
      h('button', { type: 'button', className: 'primary', id: 'save-process', disabled: busy, onclick: () => void save() }, 'Save'),
      h('button', { type: 'button', id: 'publish-process', disabled: busy, onclick: () => void publish() }, publishLabel),
      h('span', { className: 'muted' }, 'Publishing makes a new version; runs already started keep theirs.'),
    );
  }

  // ---- actions -------------------------------------------------------------------------------------------------

  async function save(quiet = false): Promise<boolean> {
    if (localProblems.size) {
      announce('Fix the marked fields first: they do not hold valid JSON.', 'error');
      render();
      return false;
    }
    busy = true;
    render();
    try {
      current = await ctx.api.saveProcess(id, draft);
      saved = JSON.stringify(draft);
      problems.clear();
      if (!quiet) announce(`Saved the draft of “${draft.name}”.`, 'success');
      return true;
    } catch (e) {
      refused(e, 'saved');
      return false;
    } finally {
      busy = false;
      render();
    }
  }

  async function publish(): Promise<void> {
    if (isDirty() && !(await save(true))) return;
    busy = true;
    render();
    try {
      const { version } = await ctx.api.publishProcess(id);
      current = await ctx.api.getProcess(id);
      problems.clear();
      announce(`Published “${draft.name}”: version ${version} is now live.`, 'success');
    } catch (e) {
      refused(e, 'published');
    } finally {
      busy = false;
      render();
    }
  }

  function refused(e: unknown, what: string): void {
    if (ctx.handleAuthError(e)) return;
    const found = e instanceof ApiError ? fieldProblemsIn(e.body) : [];
    problems.set(found);
    if (found.length) {
      const first = found[0].path;
      const step = /^steps\[(\d+)\]/.exec(first);
      if (step) {
        selected = Number(step[1]);
        stepTab = /permissions/.test(first) ? 'permissions' : 'settings';
      }
      announce(
        `The process was not ${what}: ${found.length === 1 ? '1 problem' : `${found.length} problems`}, shown at the fields.`,
        'error',
      );
      queueMicrotask(() => element.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());
    } else {
      announce(`The process was not ${what}: ${messageOf(e)}`, 'error');
    }
  }

  /** Asks before dropping unsaved changes; true when it is fine to leave. */
  function confirmLeave(): boolean {
    return !isDirty() || window.confirm(`“${draft.name || id}” has unsaved changes. Leave without saving them?`);
  }

  function leave(): void {
    if (!confirmLeave()) return;
    ctx.close();
  }

  return { element, start, isDirty, confirmLeave };
}

const OP_WORDS: Record<(typeof conditionOps)[number], string> = {
  eq: 'equals',
  ne: 'does not equal',
  in: 'is one of',
  exists: 'has a value',
};

/** The body PUT takes: a stored definition carries its `id`, which the body (a strict schema) must not. */
function bodyOf(definition: ProcessDraft & { id?: string }): ProcessDraft {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { id, ...body } = structuredClone(definition);
  return body;
}
