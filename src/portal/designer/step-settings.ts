import { actionCatalogue, actionNamed, defaultInputs, inputText, inputValue, type ActionInput } from '../action-catalogue';
import type { ProcessStep } from '../api';
import { h } from '../dom';
import { jsonArea, labelled, selectControl, showLocalProblem, textInput } from './controls';
import { path, stepLabel, type DesignerUi } from './editor-state';
import { formFieldsEditor } from './form-fields-editor';

/** The Settings tab of a step: its name and id, its action and inputs (or its form fields), and when it runs. */
export function stepSettings(ui: DesignerUi, step: ProcessStep, i: number): HTMLElement {
  const { state } = ui;
  const at = (...p: (string | number)[]) => path('steps', i, ...p);
  const renamed = () => {
    ui.changed();
    // The list and the heading name the step: both follow the name without drawing this tab again.
    ui.refresh('steps');
    const heading = document.getElementById('step-heading');
    if (heading) heading.textContent = `Step ${i + 1}: ${stepLabel(step)}`;
  };
  const box = h(
    'div',
    { className: 'step-settings' },
    labelled(
      `step-${i}-name`,
      'Step name',
      textInput(`step-${i}-name`, at('name'), step.name ?? '', (v) => {
        if (v) step.name = v;
        else delete step.name;
        renamed();
      }),
    ),
    labelled(
      `step-${i}-id`,
      'Step id',
      textInput(`step-${i}-id`, at('id'), step.id, (v) => ((step.id = v), ui.changed()), { required: true }),
      'Letters, digits, "-" and "_": the key form values and runs use (people see the step name).',
    ),
    h('p', { className: 'muted' }, `Type: ${step.type === 'form' ? 'form step (a person fills it in)' : 'action step'}`),
  );
  if (step.type === 'form') box.append(formFieldsEditor(ui, step, i));
  else {
    box.append(
      labelled(
        `step-${i}-action`,
        'Action',
        selectControl(
          `step-${i}-action`,
          at('action'),
          actionCatalogue.map((a) => ({ value: a.name, text: a.label })),
          step.action ?? '',
          (v) => {
            step.action = v;
            step.inputs = defaultInputs(actionNamed(v)!);
            ui.changed();
            // Another action has other inputs: this tab is drawn again (focus returns to the action).
            ui.refresh('steps', 'panel');
          },
        ),
      ),
      actionInputs(ui, step, i),
    );
  }
  box.append(
    labelled(
      `step-${i}-conditions`,
      'Run only when (conditions, JSON list; empty: always)',
      jsonArea(
        `step-${i}-conditions`,
        at('conditions'),
        step.conditions ?? [],
        (v) => {
          if (Array.isArray(v) && v.length) step.conditions = v as typeof step.conditions;
          else delete step.conditions;
          ui.changed();
        },
        (problem) => setProblem(ui, at('conditions'), problem),
      ),
    ),
  );
  void state;
  return box;
}

const setProblem = (ui: DesignerUi, dataPath: string, problem: string | undefined) => {
  if (problem) ui.state.localProblems.set(dataPath, problem);
  else ui.state.localProblems.delete(dataPath);
};

function actionInputs(ui: DesignerUi, step: ProcessStep, i: number): HTMLElement {
  const action = actionNamed(step.action);
  const inputs = step.inputs ?? {};
  const at = path('steps', i, 'inputs');
  const box = h('fieldset', { className: 'inputs', 'data-path': at, tabindex: '-1' }, h('legend', {}, 'Inputs'));
  if (!action) {
    box.append(
      labelled(
        `step-${i}-inputs`,
        'Inputs (JSON)',
        jsonArea(
          `step-${i}-inputs`,
          at,
          inputs,
          (v) => ((step.inputs = v as Record<string, unknown>), ui.changed()),
          (problem) => setProblem(ui, at, problem),
        ),
      ),
    );
    return box;
  }
  box.append(h('p', { className: 'muted' }, `${action.description} Values may use {{event.subject.itemId}} or {{event.data.X}}.`));
  for (const input of action.inputs) box.append(inputField(ui, input, step, i));
  return box;
}

function inputField(ui: DesignerUi, input: ActionInput, step: ProcessStep, i: number): HTMLElement {
  const inputs = step.inputs ?? {};
  const idAttr = `step-${i}-input-${input.name}`;
  const dataPath = path('steps', i, 'inputs', input.name);
  const set = (text: string, control: HTMLElement) => {
    const { value, problem } = inputValue(input, text);
    setProblem(ui, dataPath, problem);
    showLocalProblem(control, problem);
    if (!problem) {
      const target = (step.inputs ??= {});
      if (value === undefined) delete target[input.name];
      else target[input.name] = value;
    }
    ui.changed();
  };
  let control: HTMLElement;
  if (input.kind === 'choice') {
    const options = [...(input.required ? [] : [{ value: '', text: '(default)' }]), ...input.choices!.map((c) => ({ value: c, text: c }))];
    control = selectControl(idAttr, dataPath, options, String(inputs[input.name] ?? ''), (v) => set(v, control));
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
    // Typing only records the value: nothing is drawn again, so the next click lands where it was aimed.
    area.addEventListener('input', () => set(area.value, area));
    control = area;
  } else {
    control = textInput(idAttr, dataPath, inputText(input, inputs[input.name]), (v) => set(v, control), {
      placeholder: input.hint ?? '',
      ...(input.required ? { required: true } : {}),
    });
  }
  return labelled(idAttr, input.label, control);
}
